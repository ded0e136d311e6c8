using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace SqlRec.Compute;

/// <summary>
/// <see cref="SpdInverse"/> on an ILGPU device (a CUDA or OpenCL GPU, or ILGPU's CPU accelerator to
/// check the kernels without one): Gauss-Jordan elimination in place, in double, without pivoting,
/// which symmetric positive definite matrices do not need (every pivot is a Schur complement's
/// diagonal, the square of the Cholesky factor's; the same floor refuses a matrix that is not
/// clearly positive definite). Each of the n steps is three kernels: save the pivot column, scale
/// the pivot row, eliminate the column from every other row (one thread per entry, consecutive
/// threads on consecutive columns, so a GPU reads and writes whole rows at once). The matrix stays
/// on the device throughout: n^2 doubles there, one upload and one download.
/// </summary>
internal static class IlgpuSpdInverse
{
    /// <summary>
    /// Replaces <paramref name="a"/> (n x n, row-major; only the lower triangle is read) by its
    /// inverse, both triangles filled, computed on <paramref name="device"/>. Returns false when a
    /// pivot is not clearly positive, as <see cref="SpdInverse.Invert"/> does. <paramref name="progress"/>
    /// gets (steps done, n) about a hundred times and may throw to stop.
    /// </summary>
    public static bool Invert(IlgpuDevice device, double[] a, int n, Action<long, long>? progress = null)
    {
        if (!RuntimeFeature.IsDynamicCodeSupported) throw new PlatformNotSupportedException(ComputeDevices.NoJit);
        if (n > SpdInverse.MaxOrder) throw new ArgumentOutOfRangeException(nameof(n), "more rows than one array of doubles holds");
        if (n == 0) return true;
        var largest = 0.0;
        for (var i = 0; i < n; i++) largest = Math.Max(largest, a[(long)i * n + i]);
        if (!(largest > 0) || !double.IsFinite(largest)) return false;
        var floor = largest * 1e-13;
        // Gauss-Jordan reads whole rows: fill the upper triangle from the lower.
        for (var i = 0; i < n; i++)
            for (var j = 0; j < i; j++) a[(long)j * n + i] = a[(long)i * n + j];
        var (context, accelerator) = device.Open();
        using (context)
        using (accelerator)
        {
            using var matrix = accelerator.Allocate1D(a);
            using var column = accelerator.Allocate1D<double>(n);
            using var failed = accelerator.Allocate1D<int>(1);
            failed.MemSetToZero();
            var save = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<double>, int, int>(SaveColumn);
            var scale = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<double>, ArrayView<int>, int, int, double>(ScaleRow);
            var eliminate = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<double>, int, int>(Eliminate);
            var every = Math.Max(1, n / 100);
            var flag = new int[1];
            for (var k = 0; k < n; k++)
            {
                save(n, matrix.View, column.View, n, k);
                scale(n, matrix.View, column.View, failed.View, n, k, floor);
                eliminate(n * n, matrix.View, column.View, n, k);
                if ((k + 1) % every != 0 && k != n - 1) continue;
                failed.CopyToCPU(flag);
                if (flag[0] != 0) return false;
                progress?.Invoke(k + 1, n);
            }
            matrix.CopyToCPU(a);
        }
        return true;
    }

    /// <summary>column[i] = a[i, k]: the pivot column, read before the elimination overwrites it.</summary>
    private static void SaveColumn(Index1D i, ArrayView<double> a, ArrayView<double> column, int n, int k) => column[i] = a[i * n + k];

    /// <summary>Row k divided by the pivot, with a[k, k] becoming 1 / pivot; a pivot at or below the floor sets the flag.</summary>
    private static void ScaleRow(Index1D j, ArrayView<double> a, ArrayView<double> column, ArrayView<int> failed, int n, int k, double floor)
    {
        var pivot = column[k];
        if (!(pivot > floor))
        {
            if (j == 0) failed[0] = 1;
            return;
        }
        var at = k * n + j;
        a[at] = (j == k ? 1.0 : a[at]) / pivot;
    }

    /// <summary>Every row but k loses column[i] times the scaled row k; its entry in column k becomes -column[i] / pivot.</summary>
    private static void Eliminate(Index1D index, ArrayView<double> a, ArrayView<double> column, int n, int k)
    {
        var i = index / n;
        if (i == k) return;
        var j = index - i * n;
        a[index] = (j == k ? 0.0 : a[index]) - a[k * n + j] * column[i];
    }
}
