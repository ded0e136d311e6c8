using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SqlRec.Compute;

/// <summary>
/// Dense kernels for tall-skinny matrices (n x l row-major, n large, l a few hundred) and small
/// symmetric ones, as the randomized SVD needs them.
/// </summary>
internal static class DenseMath
{
    /// <summary>
    /// Gram matrix <c>G = Y^T Y</c> (l x l, double) of a row-major n x l matrix. Row chunks run in
    /// parallel with private accumulators; each row adds its outer product with SIMD.
    /// </summary>
    public static double[] Gram(float[] y, int rows, int width)
    {
        var total = new double[width * width];
        var gate = new object();
        var chunk = Parallelism.ChunkSize(rows);
        Parallel.For(0, (rows + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            // float accumulation within a chunk, double across chunks: fast and accurate enough for orthonormalisation.
            var local = new float[width * width];
            var end = Math.Min(rows, (block + 1) * chunk);
            for (var r = block * chunk; r < end; r++)
            {
                var row = y.AsSpan(r * width, width);
                for (var a = 0; a < width; a++)
                {
                    var value = row[a];
                    if (value == 0) continue;
                    // Only the upper triangle: columns a..width.
                    var target = local.AsSpan(a * width + a, width - a);
                    TensorPrimitives.MultiplyAdd(row[a..], value, target, target);
                }
            }
            lock (gate)
            {
                for (var a = 0; a < width; a++)
                    for (var b = a; b < width; b++) total[a * width + b] += local[a * width + b];
            }
        });
        for (var a = 0; a < width; a++)
            for (var b = 0; b < a; b++) total[a * width + b] = total[b * width + a];
        return total;
    }

    /// <summary><c>output = y * m</c> for row-major y (n x l) and m (l x w).</summary>
    public static void MultiplyRight(float[] y, int rows, int width, float[] m, int outWidth, float[] output)
    {
        Parallel.For(0, rows, Parallelism.Options, r =>
        {
            var row = y.AsSpan(r * width, width);
            var target = output.AsSpan(r * outWidth, outWidth);
            target.Clear();
            for (var a = 0; a < width; a++)
            {
                if (row[a] != 0) TensorPrimitives.MultiplyAdd(m.AsSpan(a * outWidth, outWidth), row[a], target, target);
            }
        });
    }

    /// <summary>
    /// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: returns eigenvalues in
    /// descending order and the eigenvectors as the columns of a row-major matrix. Exact to
    /// working precision, O(n^3) per sweep; meant for n up to a few hundred.
    /// </summary>
    public static (double[] Values, double[] Vectors) SymmetricEigen(double[] matrix, int n)
    {
        var a = (double[])matrix.Clone();
        var v = new double[n * n];
        for (var i = 0; i < n; i++) v[i * n + i] = 1;
        for (var sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, diagonal = 0;
            for (var p = 0; p < n; p++)
            {
                diagonal += a[p * n + p] * a[p * n + p];
                for (var q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
            }
            if (off <= 1e-30 * Math.Max(diagonal, 1e-300)) break;
            for (var p = 0; p < n - 1; p++)
            {
                for (var q = p + 1; q < n; q++)
                {
                    var apq = a[p * n + q];
                    if (Math.Abs(apq) < 1e-300) continue;
                    var app = a[p * n + p];
                    var aqq = a[q * n + q];
                    var theta = (aqq - app) / (2 * apq);
                    var t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    var c = 1 / Math.Sqrt(t * t + 1);
                    var s = t * c;
                    for (var k = 0; k < n; k++)
                    {
                        var akp = a[k * n + p];
                        var akq = a[k * n + q];
                        a[k * n + p] = c * akp - s * akq;
                        a[k * n + q] = s * akp + c * akq;
                    }
                    for (var k = 0; k < n; k++)
                    {
                        var apk = a[p * n + k];
                        var aqk = a[q * n + k];
                        a[p * n + k] = c * apk - s * aqk;
                        a[q * n + k] = s * apk + c * aqk;
                    }
                    for (var k = 0; k < n; k++)
                    {
                        var vkp = v[k * n + p];
                        var vkq = v[k * n + q];
                        v[k * n + p] = c * vkp - s * vkq;
                        v[k * n + q] = s * vkp + c * vkq;
                    }
                }
            }
        }
        var order = Enumerable.Range(0, n).OrderByDescending(i => a[i * n + i]).ToArray();
        var values = order.Select(i => a[i * n + i]).ToArray();
        var vectors = new double[n * n];
        for (var column = 0; column < n; column++)
            for (var row = 0; row < n; row++) vectors[row * n + column] = v[row * n + order[column]];
        return (values, vectors);
    }

    /// <summary>
    /// Makes the columns of a row-major n x l matrix orthonormal in place. Two passes of
    /// Cholesky-QR (Y = Q L^T with L from the Gram matrix; the second pass removes the first's
    /// rounding error); when the block is numerically rank-deficient and Cholesky fails, SVQB
    /// (scaling by the inverse square root of the Gram matrix's eigen-decomposition) takes over
    /// and turns directions with negligible energy into zero columns instead of noise.
    /// </summary>
    public static void Orthonormalize(float[] y, int rows, int width)
    {
        var scratch = new float[y.Length];
        for (var pass = 0; pass < 2; pass++)
        {
            var gram = Gram(y, rows, width);
            var transform = InverseCholeskyTransposed(gram, width) ?? InverseSquareRoot(gram, width);
            MultiplyRight(y, rows, width, transform, width, scratch);
            Array.Copy(scratch, y, y.Length);
        }
    }

    /// <summary>
    /// L^-T for the Cholesky factor L of <paramref name="gram"/> (so Y L^-T has orthonormal
    /// columns), or null when a pivot is not clearly positive (rank deficiency).
    /// </summary>
    internal static float[]? InverseCholeskyTransposed(double[] gram, int n)
    {
        var l = new double[n * n];
        var largest = 0.0;
        for (var i = 0; i < n; i++) largest = Math.Max(largest, gram[i * n + i]);
        for (var j = 0; j < n; j++)
        {
            var diagonal = gram[j * n + j];
            for (var k = 0; k < j; k++) diagonal -= l[j * n + k] * l[j * n + k];
            if (!(diagonal > 1e-9 * largest)) return null;
            var pivot = Math.Sqrt(diagonal);
            l[j * n + j] = pivot;
            for (var i = j + 1; i < n; i++)
            {
                var sum = gram[i * n + j];
                for (var k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
                l[i * n + j] = sum / pivot;
            }
        }
        // Invert the lower-triangular L column by column (forward substitution), then transpose.
        var inverse = new double[n * n];
        for (var column = 0; column < n; column++)
        {
            for (var i = column; i < n; i++)
            {
                var sum = i == column ? 1.0 : 0.0;
                for (var k = column; k < i; k++) sum -= l[i * n + k] * inverse[k * n + column];
                inverse[i * n + column] = sum / l[i * n + i];
            }
        }
        var result = new float[n * n];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++) result[i * n + j] = (float)inverse[j * n + i];
        return result;
    }

    /// <summary>E diag(1/sqrt(lambda)) for G = E diag(lambda) E^T, with negligible eigenvalues mapped to 0.</summary>
    private static float[] InverseSquareRoot(double[] gram, int width)
    {
        var (values, vectors) = SymmetricEigen(gram, width);
        var top = Math.Max(values[0], 1e-300);
        var transform = new float[width * width];
        for (var column = 0; column < width; column++)
        {
            var scale = values[column] > 1e-10 * top ? 1 / Math.Sqrt(values[column]) : 0;
            for (var row = 0; row < width; row++) transform[row * width + column] = (float)(vectors[row * width + column] * scale);
        }
        return transform;
    }

    /// <summary>
    /// Four dot products of <paramref name="x"/> with the four consecutive rows of
    /// <paramref name="rows"/> (4 x x.Length, row-major) in one pass: each load of x feeds four
    /// fused multiply-adds, which is what makes blocked scoring compute-bound instead of call-bound.
    /// </summary>
    public static void Dot4(ReadOnlySpan<float> x, ReadOnlySpan<float> rows, Span<float> result)
    {
        var n = x.Length;
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var r0 = ref MemoryMarshal.GetReference(rows);
        var a0 = Vector256<float>.Zero;
        var a1 = Vector256<float>.Zero;
        var a2 = Vector256<float>.Zero;
        var a3 = Vector256<float>.Zero;
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                a0 = Vector256.FusedMultiplyAdd(v, Vector256.LoadUnsafe(ref r0, (nuint)i), a0);
                a1 = Vector256.FusedMultiplyAdd(v, Vector256.LoadUnsafe(ref r0, (nuint)(n + i)), a1);
                a2 = Vector256.FusedMultiplyAdd(v, Vector256.LoadUnsafe(ref r0, (nuint)(2 * n + i)), a2);
                a3 = Vector256.FusedMultiplyAdd(v, Vector256.LoadUnsafe(ref r0, (nuint)(3 * n + i)), a3);
            }
        }
        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; i < n; i++)
        {
            s0 += x[i] * rows[i];
            s1 += x[i] * rows[n + i];
            s2 += x[i] * rows[2 * n + i];
            s3 += x[i] * rows[3 * n + i];
        }
        result[0] = s0;
        result[1] = s1;
        result[2] = s2;
        result[3] = s3;
    }

    /// <summary>
    /// <c>c[u, j] += sum_c a[u, c] * b[j, c]</c> for row-major a (users x k) and b (items x k) into
    /// row-major c (users x items): a matrix product with both operands "row per object". Items are
    /// tiled so a tile of b stays in cache while every user passes over it, and a 4 x 4 register
    /// block does 16 fused multiply-adds per 8 loads.
    /// </summary>
    public static void MultiplyTransposedAdd(ReadOnlySpan<float> a, int users, ReadOnlySpan<float> b, int items, int k, Span<float> c)
    {
        const int Tile = 128;
        Span<float> block = stackalloc float[16];
        Span<float> four = stackalloc float[4];
        for (var j0 = 0; j0 < items; j0 += Tile)
        {
            var jEnd = Math.Min(items, j0 + Tile);
            var u = 0;
            for (; u + 4 <= users; u += 4)
            {
                var aRows = a.Slice(u * k, 4 * k);
                var j = j0;
                for (; j + 4 <= jEnd; j += 4)
                {
                    Dot4x4(aRows, b.Slice(j * k, 4 * k), k, block);
                    for (var p = 0; p < 4; p++)
                        for (var q = 0; q < 4; q++) c[(u + p) * items + j + q] += block[p * 4 + q];
                }
                for (; j < jEnd; j++)
                {
                    Dot4(b.Slice(j * k, k), aRows, four);
                    for (var p = 0; p < 4; p++) c[(u + p) * items + j] += four[p];
                }
            }
            // Users left over from the 4 x 4 blocks (all of them when scoring one user): four items per
            // pass, so each load of the user's row feeds four multiply-adds.
            for (; u < users; u++)
            {
                var aRow = a.Slice(u * k, k);
                var j = j0;
                for (; j + 4 <= jEnd; j += 4)
                {
                    Dot4(aRow, b.Slice(j * k, 4 * k), four);
                    for (var q = 0; q < 4; q++) c[u * items + j + q] += four[q];
                }
                for (; j < jEnd; j++) c[u * items + j] += TensorPrimitives.Dot(aRow, b.Slice(j * k, k));
            }
        }
    }

    /// <summary>The 4 x 4 dot products of four rows of a with four rows of b (each of length k).</summary>
    private static void Dot4x4(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int k, Span<float> result)
    {
        if (!Vector256.IsHardwareAccelerated || k % 8 != 0)
        {
            for (var p = 0; p < 4; p++)
                for (var q = 0; q < 4; q++) result[p * 4 + q] = TensorPrimitives.Dot(a.Slice(p * k, k), b.Slice(q * k, k));
            return;
        }
        ref var ar = ref MemoryMarshal.GetReference(a);
        ref var br = ref MemoryMarshal.GetReference(b);
        Vector256<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector256<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector256<float> c30 = default, c31 = default, c32 = default, c33 = default;
        for (var i = 0; i < k; i += 8)
        {
            var b0 = Vector256.LoadUnsafe(ref br, (nuint)i);
            var b1 = Vector256.LoadUnsafe(ref br, (nuint)(k + i));
            var b2 = Vector256.LoadUnsafe(ref br, (nuint)(2 * k + i));
            var b3 = Vector256.LoadUnsafe(ref br, (nuint)(3 * k + i));
            var a0 = Vector256.LoadUnsafe(ref ar, (nuint)i);
            c00 = Vector256.FusedMultiplyAdd(a0, b0, c00); c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
            c02 = Vector256.FusedMultiplyAdd(a0, b2, c02); c03 = Vector256.FusedMultiplyAdd(a0, b3, c03);
            var a1 = Vector256.LoadUnsafe(ref ar, (nuint)(k + i));
            c10 = Vector256.FusedMultiplyAdd(a1, b0, c10); c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
            c12 = Vector256.FusedMultiplyAdd(a1, b2, c12); c13 = Vector256.FusedMultiplyAdd(a1, b3, c13);
            var a2 = Vector256.LoadUnsafe(ref ar, (nuint)(2 * k + i));
            c20 = Vector256.FusedMultiplyAdd(a2, b0, c20); c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
            c22 = Vector256.FusedMultiplyAdd(a2, b2, c22); c23 = Vector256.FusedMultiplyAdd(a2, b3, c23);
            var a3 = Vector256.LoadUnsafe(ref ar, (nuint)(3 * k + i));
            c30 = Vector256.FusedMultiplyAdd(a3, b0, c30); c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
            c32 = Vector256.FusedMultiplyAdd(a3, b2, c32); c33 = Vector256.FusedMultiplyAdd(a3, b3, c33);
        }
        result[0] = Vector256.Sum(c00); result[1] = Vector256.Sum(c01); result[2] = Vector256.Sum(c02); result[3] = Vector256.Sum(c03);
        result[4] = Vector256.Sum(c10); result[5] = Vector256.Sum(c11); result[6] = Vector256.Sum(c12); result[7] = Vector256.Sum(c13);
        result[8] = Vector256.Sum(c20); result[9] = Vector256.Sum(c21); result[10] = Vector256.Sum(c22); result[11] = Vector256.Sum(c23);
        result[12] = Vector256.Sum(c30); result[13] = Vector256.Sum(c31); result[14] = Vector256.Sum(c32); result[15] = Vector256.Sum(c33);
    }

    /// <summary>Fills with standard normal numbers from a seeded generator (Box-Muller).</summary>
    public static void FillGaussian(float[] target, int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < target.Length; i += 2)
        {
            var u1 = 1 - random.NextDouble();
            var u2 = random.NextDouble();
            var radius = Math.Sqrt(-2 * Math.Log(u1));
            target[i] = (float)(radius * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < target.Length) target[i + 1] = (float)(radius * Math.Sin(2 * Math.PI * u2));
        }
    }
}
