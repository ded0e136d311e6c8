namespace SqlRec.Compute;

/// <summary>
/// Top right singular vectors of a sparse matrix by randomized subspace iteration (Halko,
/// Martinsson and Tropp 2011, algorithm 4.4): a seeded Gaussian test matrix, a few power
/// iterations with re-orthonormalisation after every product, then the exact SVD of the small
/// projected matrix. Only sparse products touch the big matrix, so the cost is
/// O(nnz * l * iterations + (m + n) * l^2) for l = components + oversampling.
/// </summary>
internal static class RandomizedSvd
{
    /// <summary>Result: singular values (descending) and right singular vectors as rows of an n x k row-major matrix.</summary>
    internal sealed record Result(float[] SingularValues, float[] RightVectors, int Components, int Columns);

    /// <summary>
    /// Computes the top <paramref name="components"/> right singular vectors of <paramref name="a"/>
    /// (m x n); <paramref name="transpose"/> must be its transpose. Fewer come back when the
    /// matrix's numerical rank is smaller.
    /// </summary>
    public static Result Compute(SparseMatrix a, SparseMatrix transpose, int components, int oversampling, int powerIterations, int seed,
        Action<int, int>? progress = null)
    {
        var m = a.Rows;
        var n = a.Columns;
        var width = Math.Min(components + oversampling, Math.Min(m, n));
        var steps = 2 * powerIterations + 3;
        var step = 0;

        var omega = new float[n * width];
        DenseMath.FillGaussian(omega, seed);
        var y = new float[m * width];
        a.MultiplyDense(omega, width, y);
        DenseMath.Orthonormalize(y, m, width, passes: powerIterations == 0 ? 2 : 1);
        progress?.Invoke(++step, steps);
        var z = omega; // reuse: n x width
        for (var iteration = 0; iteration < powerIterations; iteration++)
        {
            // Between products only the span matters, so one Cholesky-QR pass keeps the block well
            // conditioned; the block the projection is taken from (the last y) gets two, to be orthonormal.
            transpose.MultiplyDense(y, width, z);
            DenseMath.Orthonormalize(z, n, width, passes: 1);
            progress?.Invoke(++step, steps);
            a.MultiplyDense(z, width, y);
            DenseMath.Orthonormalize(y, m, width, passes: iteration == powerIterations - 1 ? 2 : 1);
            progress?.Invoke(++step, steps);
        }
        // B = Q^T A is width x n; work with W = B^T = A^T Q (n x width). B B^T = W^T W = U S^2 U^T,
        // and the right singular vectors of B (hence of A, within the subspace) are V = W U S^-1.
        transpose.MultiplyDense(y, width, z);
        progress?.Invoke(++step, steps);
        var (values, vectors) = DenseMath.SymmetricEigen(DenseMath.Gram(z, n, width), width);
        var top = Math.Max(values[0], 1e-300);
        var kept = 0;
        while (kept < Math.Min(components, width) && values[kept] > 1e-10 * top) kept++;
        var transform = new float[width * kept];
        var singular = new float[kept];
        for (var c = 0; c < kept; c++)
        {
            var sigma = Math.Sqrt(values[c]);
            singular[c] = (float)sigma;
            for (var r = 0; r < width; r++) transform[r * kept + c] = (float)(vectors[r * width + c] / sigma);
        }
        var v = new float[n * kept];
        DenseMath.MultiplyRight(z, n, width, transform, kept, v);
        progress?.Invoke(++step, steps);
        return new Result(singular, v, kept, n);
    }
}
