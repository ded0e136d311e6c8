using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
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
    /// parallel with private accumulators. With 256-bit vectors, each chunk goes a panel of rows at a
    /// time through register tiles of 4 x 16 entries of G (<see cref="GramPanel"/>), so a row is read
    /// from cache once per tile instead of the accumulator being read and written once per row and
    /// column - the randomized SVD's orthonormalisation at 650k x 288 is bound by this; otherwise
    /// each row adds its outer product (<see cref="GramRows"/>, also the reference in tests).
    /// </summary>
    public static double[] Gram(float[] y, int rows, int width) => Gram(y, rows, width, Vector256.IsHardwareAccelerated);

    /// <summary><see cref="Gram(float[], int, int)"/>, blocked or row by row.</summary>
    internal static double[] Gram(float[] y, int rows, int width, bool blocked)
    {
        var total = new double[width * width];
        var gate = new object();
        var chunk = Parallelism.ChunkSize(rows);
        Parallel.For(0, (rows + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            // float accumulation within a chunk, double across chunks: fast and accurate enough for orthonormalisation.
            var local = new float[width * width];
            var end = Math.Min(rows, (block + 1) * chunk);
            if (blocked)
            {
                const int panel = 64;
                for (var r = block * chunk; r < end; r += panel) GramPanel(y, width, r, Math.Min(end, r + panel), local);
            }
            else
            {
                GramRows(y, width, block * chunk, end, local);
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

    /// <summary>The upper triangle of <c>Y^T Y</c> over rows [from, to) added into <paramref name="local"/>, one outer product per row.</summary>
    private static void GramRows(float[] y, int width, int from, int to, float[] local)
    {
        for (var r = from; r < to; r++)
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
    }

    /// <summary>
    /// <see cref="GramRows"/> for a panel of rows in register tiles: 4 rows of G (a..a+3) by 16
    /// columns (two vectors), summed over the panel's rows in 8 accumulators, for every tile that
    /// reaches the upper triangle (entries below the diagonal inside such a tile are summed too and
    /// never read). Columns past the last whole 16 and rows past the last whole 4 go entry by entry.
    /// </summary>
    private static void GramPanel(float[] y, int width, int from, int to, float[] local)
    {
        const int lanes = 8;
        ref var data = ref MemoryMarshal.GetArrayDataReference(y);
        ref var into = ref MemoryMarshal.GetArrayDataReference(local);
        var wholeColumns = width / (2 * lanes) * (2 * lanes);
        var a = 0;
        for (; a + 4 <= width; a += 4)
        {
            for (var b = a / (2 * lanes) * (2 * lanes); b < wholeColumns; b += 2 * lanes)
            {
                Vector256<float> t00 = default, t01 = default, t10 = default, t11 = default, t20 = default, t21 = default, t30 = default, t31 = default;
                for (var r = from; r < to; r++)
                {
                    var row = (nuint)((long)r * width);
                    var v0 = Vector256.LoadUnsafe(ref data, row + (nuint)b);
                    var v1 = Vector256.LoadUnsafe(ref data, row + (nuint)(b + lanes));
                    var s0 = Vector256.Create(Unsafe.Add(ref data, row + (nuint)a));
                    var s1 = Vector256.Create(Unsafe.Add(ref data, row + (nuint)(a + 1)));
                    var s2 = Vector256.Create(Unsafe.Add(ref data, row + (nuint)(a + 2)));
                    var s3 = Vector256.Create(Unsafe.Add(ref data, row + (nuint)(a + 3)));
                    t00 = Vector256.FusedMultiplyAdd(s0, v0, t00);
                    t01 = Vector256.FusedMultiplyAdd(s0, v1, t01);
                    t10 = Vector256.FusedMultiplyAdd(s1, v0, t10);
                    t11 = Vector256.FusedMultiplyAdd(s1, v1, t11);
                    t20 = Vector256.FusedMultiplyAdd(s2, v0, t20);
                    t21 = Vector256.FusedMultiplyAdd(s2, v1, t21);
                    t30 = Vector256.FusedMultiplyAdd(s3, v0, t30);
                    t31 = Vector256.FusedMultiplyAdd(s3, v1, t31);
                }
                Accumulate(ref into, (nuint)(a * width + b), t00, t01);
                Accumulate(ref into, (nuint)((a + 1) * width + b), t10, t11);
                Accumulate(ref into, (nuint)((a + 2) * width + b), t20, t21);
                Accumulate(ref into, (nuint)((a + 3) * width + b), t30, t31);
            }
            for (var i = a; i < a + 4; i++)
            {
                for (var b = Math.Max(i, wholeColumns); b < width; b++) local[i * width + b] += Dot(y, width, from, to, i, b);
            }
        }
        for (; a < width; a++)
        {
            for (var b = a; b < width; b++) local[a * width + b] += Dot(y, width, from, to, a, b);
        }

        static void Accumulate(ref float target, nuint at, Vector256<float> low, Vector256<float> high)
        {
            (Vector256.LoadUnsafe(ref target, at) + low).StoreUnsafe(ref target, at);
            (Vector256.LoadUnsafe(ref target, at + lanes) + high).StoreUnsafe(ref target, at + lanes);
        }

        static float Dot(float[] y, int width, int from, int to, int a, int b)
        {
            var sum = 0f;
            for (var r = from; r < to; r++) sum += y[(long)r * width + a] * y[(long)r * width + b];
            return sum;
        }
    }

    /// <summary>
    /// <c>output = y * m</c> for row-major y (n x l) and m (l x w). With 256-bit vectors, 4 rows of
    /// the output go 16 columns at a time in 8 register accumulators (<see cref="MultiplyRightBlock"/>),
    /// so each row of m is read once per 4 rows of y; otherwise row by row (<see cref="MultiplyRightRow"/>,
    /// also the reference in tests).
    /// </summary>
    public static void MultiplyRight(float[] y, int rows, int width, float[] m, int outWidth, float[] output) =>
        MultiplyRight(y, rows, width, m, outWidth, output, Vector256.IsHardwareAccelerated);

    /// <summary><see cref="MultiplyRight(float[], int, int, float[], int, float[])"/>, blocked or row by row.</summary>
    internal static void MultiplyRight(float[] y, int rows, int width, float[] m, int outWidth, float[] output, bool blocked)
    {
        if (!blocked)
        {
            Parallel.For(0, rows, Parallelism.Options, r => MultiplyRightRow(y, r, width, m, outWidth, output, r));
            return;
        }
        var blocks = (rows + 3) / 4;
        var chunk = Parallelism.ChunkSize(blocks);
        Parallel.For(0, (blocks + chunk - 1) / chunk, Parallelism.Options, part =>
        {
            var end = Math.Min(blocks, (part + 1) * chunk);
            for (var block = part * chunk; block < end; block++)
            {
                var r = block * 4;
                if (r + 4 <= rows) MultiplyRightBlock(y, r, width, m, outWidth, output, r);
                else
                {
                    for (; r < rows; r++) MultiplyRightRow(y, r, width, m, outWidth, output, r);
                }
            }
        });
    }

    /// <summary>Row r of <c>y * m</c>, written as row <paramref name="outRow"/> of <paramref name="output"/>.</summary>
    private static void MultiplyRightRow(float[] y, int r, int width, float[] m, int outWidth, float[] output, int outRow)
    {
        var row = y.AsSpan(r * width, width);
        var target = output.AsSpan(outRow * outWidth, outWidth);
        target.Clear();
        for (var a = 0; a < width; a++)
        {
            if (row[a] != 0) TensorPrimitives.MultiplyAdd(m.AsSpan(a * outWidth, outWidth), row[a], target, target);
        }
    }

    /// <summary>
    /// Rows r..r+3 of <c>y * m</c>, written as rows <paramref name="outRow"/>.. of <paramref name="output"/>:
    /// whole 16-column groups in registers, the remaining columns entry by entry.
    /// </summary>
    private static void MultiplyRightBlock(float[] y, int r, int width, float[] m, int outWidth, float[] output, int outRow)
    {
        const int lanes = 8;
        ref var rows = ref MemoryMarshal.GetArrayDataReference(y);
        ref var right = ref MemoryMarshal.GetArrayDataReference(m);
        ref var into = ref MemoryMarshal.GetArrayDataReference(output);
        var y0 = (nuint)((long)r * width);
        var (y1, y2, y3) = (y0 + (nuint)width, y0 + 2 * (nuint)width, y0 + 3 * (nuint)width);
        var o0 = (nuint)((long)outRow * outWidth);
        var (o1, o2, o3) = (o0 + (nuint)outWidth, o0 + 2 * (nuint)outWidth, o0 + 3 * (nuint)outWidth);
        var c = 0;
        for (; c + 2 * lanes <= outWidth; c += 2 * lanes)
        {
            Vector256<float> t00 = default, t01 = default, t10 = default, t11 = default, t20 = default, t21 = default, t30 = default, t31 = default;
            for (var a = 0; a < width; a++)
            {
                var at = (nuint)(a * outWidth + c);
                var m0 = Vector256.LoadUnsafe(ref right, at);
                var m1 = Vector256.LoadUnsafe(ref right, at + lanes);
                var s0 = Vector256.Create(Unsafe.Add(ref rows, y0 + (nuint)a));
                var s1 = Vector256.Create(Unsafe.Add(ref rows, y1 + (nuint)a));
                var s2 = Vector256.Create(Unsafe.Add(ref rows, y2 + (nuint)a));
                var s3 = Vector256.Create(Unsafe.Add(ref rows, y3 + (nuint)a));
                t00 = Vector256.FusedMultiplyAdd(s0, m0, t00);
                t01 = Vector256.FusedMultiplyAdd(s0, m1, t01);
                t10 = Vector256.FusedMultiplyAdd(s1, m0, t10);
                t11 = Vector256.FusedMultiplyAdd(s1, m1, t11);
                t20 = Vector256.FusedMultiplyAdd(s2, m0, t20);
                t21 = Vector256.FusedMultiplyAdd(s2, m1, t21);
                t30 = Vector256.FusedMultiplyAdd(s3, m0, t30);
                t31 = Vector256.FusedMultiplyAdd(s3, m1, t31);
            }
            t00.StoreUnsafe(ref into, o0 + (nuint)c);
            t01.StoreUnsafe(ref into, o0 + (nuint)(c + lanes));
            t10.StoreUnsafe(ref into, o1 + (nuint)c);
            t11.StoreUnsafe(ref into, o1 + (nuint)(c + lanes));
            t20.StoreUnsafe(ref into, o2 + (nuint)c);
            t21.StoreUnsafe(ref into, o2 + (nuint)(c + lanes));
            t30.StoreUnsafe(ref into, o3 + (nuint)c);
            t31.StoreUnsafe(ref into, o3 + (nuint)(c + lanes));
        }
        for (; c < outWidth; c++)
        {
            float u0 = 0, u1 = 0, u2 = 0, u3 = 0;
            for (var a = 0; a < width; a++)
            {
                var value = m[a * outWidth + c];
                u0 += y[y0 + (nuint)a] * value;
                u1 += y[y1 + (nuint)a] * value;
                u2 += y[y2 + (nuint)a] * value;
                u3 += y[y3 + (nuint)a] * value;
            }
            output[o0 + (nuint)c] = u0;
            output[o1 + (nuint)c] = u1;
            output[o2 + (nuint)c] = u2;
            output[o3 + (nuint)c] = u3;
        }
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
    /// and turns directions with negligible energy into zero columns instead of noise. The product
    /// by the small transform goes a block of rows at a time through a buffer of a few rows, so no
    /// copy of Y is made (at 650k x 288, 750 MB that a copy per call left to the collector).
    /// </summary>
    /// <param name="y">The matrix, row-major.</param>
    /// <param name="rows">Its rows.</param>
    /// <param name="width">Its columns.</param>
    /// <param name="passes">
    /// Cholesky-QR passes: 2 for columns orthonormal to working precision; 1 leaves an error of about
    /// cond(Y)^2 x 2^-24, which is enough where only the span matters (between power iterations).
    /// </param>
    public static void Orthonormalize(float[] y, int rows, int width, int passes = 2)
    {
        for (var pass = 0; pass < passes; pass++)
        {
            var gram = Gram(y, rows, width);
            var transform = InverseCholeskyTransposed(gram, width) ?? InverseSquareRoot(gram, width);
            MultiplyRightInPlace(y, rows, width, transform);
        }
    }

    /// <summary><c>y = y * m</c> for row-major y (n x l) and a square m (l x l), in place: each block of 4 rows goes through a small buffer.</summary>
    internal static void MultiplyRightInPlace(float[] y, int rows, int width, float[] m)
    {
        var blocked = Vector256.IsHardwareAccelerated;
        var blocks = (rows + 3) / 4;
        var chunk = Parallelism.ChunkSize(blocks);
        Parallel.For(0, (blocks + chunk - 1) / chunk, Parallelism.Options, part =>
        {
            var buffer = new float[4 * width];
            var end = Math.Min(blocks, (part + 1) * chunk);
            for (var block = part * chunk; block < end; block++)
            {
                var r = block * 4;
                var count = Math.Min(4, rows - r);
                if (blocked && count == 4) MultiplyRightBlock(y, r, width, m, width, buffer, 0);
                else
                {
                    for (var i = 0; i < count; i++) MultiplyRightRow(y, r + i, width, m, width, buffer, i);
                }
                buffer.AsSpan(0, count * width).CopyTo(y.AsSpan(r * width, count * width));
            }
        });
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
