using System.Numerics.Tensors;

namespace SqlRec.Compute;

/// <summary>
/// A sparse matrix in CSR form (rows by offsets, sorted column indices, values). Degrees in
/// recommendation graphs follow a power law, so CSR (not padded ELL) keeps the work
/// proportional to the number of interactions.
/// </summary>
internal sealed class SparseMatrix
{
    public SparseMatrix(int rows, int columns, int[] offsets, int[] indices, float[] values)
    {
        if (offsets.Length != rows + 1 || indices.Length != values.Length || offsets[rows] != indices.Length)
            throw new ArgumentException("inconsistent CSR arrays");
        Rows = rows;
        Columns = columns;
        Offsets = offsets;
        Indices = indices;
        Values = values;
    }

    public int Rows { get; }
    public int Columns { get; }
    public int[] Offsets { get; }
    public int[] Indices { get; }
    public float[] Values { get; }
    public int NonZeros => Indices.Length;

    public ReadOnlySpan<int> RowIndices(int row) => Indices.AsSpan(Offsets[row], Offsets[row + 1] - Offsets[row]);
    public ReadOnlySpan<float> RowValues(int row) => Values.AsSpan(Offsets[row], Offsets[row + 1] - Offsets[row]);

    /// <summary>Sum of each row's values (a node's degree when the values are 0/1).</summary>
    public double[] RowSums()
    {
        var sums = new double[Rows];
        for (var row = 0; row < Rows; row++)
            for (var p = Offsets[row]; p < Offsets[row + 1]; p++) sums[row] += Values[p];
        return sums;
    }

    /// <summary>Sum of each column's values.</summary>
    public double[] ColumnSums()
    {
        var sums = new double[Columns];
        for (var p = 0; p < NonZeros; p++) sums[Indices[p]] += Values[p];
        return sums;
    }

    /// <summary>
    /// The symmetric normalisation D_r^-1/2 A D_c^-1/2 with D_r, D_c the row and column sums (rows or
    /// columns that sum to 0 stay 0): the off-diagonal block of a bipartite graph's normalised
    /// adjacency, as LightGCN and GF-CF use it. Shares the structure arrays with this matrix.
    /// </summary>
    public SparseMatrix NormalizeSymmetric()
    {
        static double InverseSqrt(double d) => d > 0 ? 1 / Math.Sqrt(d) : 0;
        var rowScale = Array.ConvertAll(RowSums(), InverseSqrt);
        var columnScale = Array.ConvertAll(ColumnSums(), InverseSqrt);
        var values = new float[NonZeros];
        for (var row = 0; row < Rows; row++)
            for (var p = Offsets[row]; p < Offsets[row + 1]; p++)
                values[p] = (float)(Values[p] * rowScale[row] * columnScale[Indices[p]]);
        return new SparseMatrix(Rows, Columns, Offsets, Indices, values);
    }

    /// <summary>The transpose, also in CSR form (a counting sort; column indices stay sorted).</summary>
    public SparseMatrix Transpose()
    {
        var offsets = new int[Columns + 1];
        foreach (var column in Indices) offsets[column + 1]++;
        for (var c = 0; c < Columns; c++) offsets[c + 1] += offsets[c];
        var cursor = offsets[..^1].ToArray();
        var indices = new int[NonZeros];
        var values = new float[NonZeros];
        for (var row = 0; row < Rows; row++)
        {
            for (var p = Offsets[row]; p < Offsets[row + 1]; p++)
            {
                var slot = cursor[Indices[p]]++;
                indices[slot] = row;
                values[slot] = Values[p];
            }
        }
        return new SparseMatrix(Columns, Rows, offsets, indices, values);
    }

    /// <summary>
    /// <c>output = this * dense</c>, where <paramref name="dense"/> is Columns x width and
    /// <paramref name="output"/> Rows x width, both row-major. Rows run in parallel; each output
    /// row is a SIMD sum of scaled dense rows.
    /// </summary>
    public void MultiplyDense(float[] dense, int width, float[] output)
    {
        if (dense.Length != (long)Columns * width || output.Length != (long)Rows * width) throw new ArgumentException("dimension mismatch");
        Parallel.For(0, Rows, Parallelism.Options, row =>
        {
            var target = output.AsSpan(row * width, width);
            target.Clear();
            for (var p = Offsets[row]; p < Offsets[row + 1]; p++)
                TensorPrimitives.MultiplyAdd(dense.AsSpan(Indices[p] * width, width), Values[p], target, target);
        });
    }
}
