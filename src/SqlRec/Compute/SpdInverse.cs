using System.Numerics;
using System.Runtime.InteropServices;

namespace SqlRec.Compute;

/// <summary>
/// The inverse of a symmetric positive definite matrix in double precision, through its Cholesky
/// factor: A = L L^T (blocked, right-looking, in place), U = L^-T (triangular inverse, row by row),
/// A^-1 = U U^T. About n^3 multiply-adds in all, each pass blocked so a row read from memory feeds
/// several dot products, and spread over the cores. What <c>ease</c> needs: P = (X^T X + lambda I)^-1.
/// </summary>
internal static class SpdInverse
{
    private const int Block = 96;
    private const int Rows = 8;

    /// <summary>Doubles of the largest matrix one .NET array holds (n^2 must stay below Array.MaxLength).</summary>
    public const int MaxOrder = 46_340;

    /// <summary>
    /// Replaces <paramref name="a"/> (n x n, row-major; only the lower triangle is read) by its
    /// inverse, both triangles filled. Returns false, with <paramref name="a"/> partly overwritten,
    /// when a pivot is not clearly positive (the matrix is not positive definite in double).
    /// <paramref name="progress"/> gets (done, total) steps of the three passes and is where a long
    /// inversion may be stopped (it may throw).
    /// </summary>
    public static bool Invert(double[] a, int n, Action<long, long>? progress = null)
    {
        var blocks = (n + Block - 1) / Block;
        var steps = 3L * blocks;
        if (!Factor(a, n, done => progress?.Invoke(done, steps))) return false;
        var u = new double[(long)n * n];
        InvertTriangular(a, u, n, done => progress?.Invoke(blocks + done, steps));
        MultiplyUpperByTranspose(u, a, n, done => progress?.Invoke(2L * blocks + done, steps));
        return true;
    }

    /// <summary>Blocked Cholesky in place: the lower triangle of <paramref name="a"/> becomes L.</summary>
    internal static bool Factor(double[] a, int n, Action<long>? progress = null)
    {
        var largest = 0.0;
        for (var i = 0; i < n; i++) largest = Math.Max(largest, a[(long)i * n + i]);
        if (!(largest > 0) || !double.IsFinite(largest)) return n == 0;
        var floor = largest * 1e-13;
        var panel = new double[(long)n * Block];
        for (int k0 = 0, step = 0; k0 < n; k0 += Block, step++)
        {
            var kb = Math.Min(Block, n - k0);
            var k1 = k0 + kb;
            // The diagonal block, unblocked: earlier blocks' contributions were subtracted already.
            for (var j = k0; j < k1; j++)
            {
                var rowJ = a.AsSpan((int)((long)j * n) + k0, j - k0);
                var diagonal = a[(long)j * n + j] - Dot(rowJ, rowJ);
                if (!(diagonal > floor)) return false;
                var pivot = Math.Sqrt(diagonal);
                a[(long)j * n + j] = pivot;
                for (var i = j + 1; i < k1; i++)
                    a[(long)i * n + j] = (a[(long)i * n + j] - Dot(a.AsSpan((int)((long)i * n) + k0, j - k0), rowJ)) / pivot;
            }
            if (k1 < n)
            {
                // The panel below it: each row solves against the diagonal block, then is copied compact.
                Parallel.For(k1, n, Parallelism.Options, i =>
                {
                    var row = a.AsSpan((int)((long)i * n) + k0, kb);
                    for (var j = k0; j < k1; j++)
                        row[j - k0] = (row[j - k0] - Dot(row[..(j - k0)], a.AsSpan((int)((long)j * n) + k0, j - k0))) / a[(long)j * n + j];
                    row.CopyTo(panel.AsSpan((int)((long)(i - k1) * kb), kb));
                });
                // The trailing lower triangle: A[i, j] -= panel_i . panel_j, four j at a time.
                Parallel.For(k1, n, Parallelism.Options, i =>
                {
                    var pi = panel.AsSpan((int)((long)(i - k1) * kb), kb);
                    var row = a.AsSpan((int)((long)i * n), n);
                    var j = k1;
                    for (; j + 3 <= i; j += 4)
                    {
                        var (d0, d1, d2, d3) = Dot4(pi, panel.AsSpan((int)((long)(j - k1) * kb), 4 * kb), kb);
                        row[j] -= d0;
                        row[j + 1] -= d1;
                        row[j + 2] -= d2;
                        row[j + 3] -= d3;
                    }
                    for (; j <= i; j++) row[j] -= Dot(pi, panel.AsSpan((int)((long)(j - k1) * kb), kb));
                });
            }
            progress?.Invoke(step + 1);
        }
        return true;
    }

    /// <summary>
    /// U = L^-T (upper triangular, row-major) for the lower-triangular L in <paramref name="l"/>:
    /// row c of U solves L w = e_c by forward substitution. <see cref="Rows"/> rows are solved
    /// together so each row of L read feeds all of them.
    /// </summary>
    internal static void InvertTriangular(double[] l, double[] u, int n, Action<long>? progress = null) =>
        InGroups(n, progress, group =>
        {
            var c0 = group * Rows;
            var c1 = Math.Min(n, c0 + Rows);
            for (var i = c0; i < n; i++)
            {
                var rowL = l.AsSpan((int)((long)i * n), i + 1);
                var pivot = rowL[i];
                for (var c = c0; c < c1 && c <= i; c++)
                {
                    var w = u.AsSpan((int)((long)c * n), n);
                    w[i] = ((i == c ? 1.0 : 0.0) - Dot(rowL[c..i], w[c..i])) / pivot;
                }
            }
        });

    /// <summary>
    /// P = U U^T for upper-triangular U: P[i, j] = U[i, j..] . U[j, j..] for j &gt;= i, written to
    /// both triangles of <paramref name="p"/>. <see cref="Rows"/> rows i at a time share each row j read.
    /// </summary>
    internal static void MultiplyUpperByTranspose(double[] u, double[] p, int n, Action<long>? progress = null) =>
        InGroups(n, progress, group =>
        {
            var i0 = group * Rows;
            var i1 = Math.Min(n, i0 + Rows);
            for (var j = i0; j < n; j++)
            {
                var rowJ = u.AsSpan((int)((long)j * n) + j, n - j);
                for (var i = i0; i < i1 && i <= j; i++)
                {
                    var value = Dot(u.AsSpan((int)((long)i * n) + j, n - j), rowJ);
                    p[(long)i * n + j] = value;
                    p[(long)j * n + i] = value;
                }
            }
        });

    /// <summary>
    /// Runs <paramref name="work"/> on every group of <see cref="Rows"/> rows, spread over the cores
    /// in as many steps as the factorisation has blocks, reporting each step from the calling thread.
    /// </summary>
    private static void InGroups(int n, Action<long>? progress, Action<int> work)
    {
        var groups = (n + Rows - 1) / Rows;
        var steps = Math.Max(1, (n + Block - 1) / Block);
        for (var step = 0; step < steps; step++)
        {
            int from = (int)((long)groups * step / steps), to = (int)((long)groups * (step + 1) / steps);
            Parallel.For(from, to, Parallelism.Options, work);
            progress?.Invoke(step + 1);
        }
    }

    private static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y) => System.Numerics.Tensors.TensorPrimitives.Dot(x, y[..x.Length]);

    /// <summary>x . rows[r] for the four consecutive rows of length <paramref name="length"/> in <paramref name="rows"/>.</summary>
    private static (double, double, double, double) Dot4(ReadOnlySpan<double> x, ReadOnlySpan<double> rows, int length)
    {
        var width = Vector<double>.Count;
        Vector<double> s0 = default, s1 = default, s2 = default, s3 = default;
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i + width <= length; i += width)
            {
                var vx = new Vector<double>(x[i..]);
                s0 += vx * new Vector<double>(rows[i..]);
                s1 += vx * new Vector<double>(rows[(length + i)..]);
                s2 += vx * new Vector<double>(rows[(2 * length + i)..]);
                s3 += vx * new Vector<double>(rows[(3 * length + i)..]);
            }
        }
        double d0 = Vector.Sum(s0), d1 = Vector.Sum(s1), d2 = Vector.Sum(s2), d3 = Vector.Sum(s3);
        for (; i < length; i++)
        {
            d0 += x[i] * rows[i];
            d1 += x[i] * rows[length + i];
            d2 += x[i] * rows[2 * length + i];
            d3 += x[i] * rows[3 * length + i];
        }
        return (d0, d1, d2, d3);
    }
}
