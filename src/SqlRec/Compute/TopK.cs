using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SqlRec.Compute;

/// <summary>
/// Exact top-k selection over a score vector with an exclusion list. Order: higher score first,
/// ties broken by the lower index, NaN ranks last, so results are deterministic.
/// </summary>
internal static class TopK
{
    /// <summary>
    /// Writes the indices of the <paramref name="k"/> best-scored items not in
    /// <paramref name="excludedSorted"/> into <paramref name="indices"/> (best first) and returns
    /// how many were written (fewer than k when fewer candidates exist). O(n log k).
    /// </summary>
    public static int Select(ReadOnlySpan<float> scores, int k, ReadOnlySpan<int> excludedSorted, Span<int> indices)
    {
        if (k <= 0) return 0;
        // Min-heap of the best k so far; the root is the worst kept item.
        var heap = indices[..Math.Min(k, indices.Length)];
        var count = 0;
        var nextExcluded = 0;
        var i = 0;
        // Once the heap is full, a block of 8 whose scores are all at or below the worst kept one
        // cannot change it (ties go to the lower index, which is the kept one; NaN is never better
        // than a number), so it is passed over with one vector compare. On a long vector most
        // blocks are: the cost falls from a heap comparison per item to a pass over the memory.
        if (Vector256.IsHardwareAccelerated && heap.Length > 0)
        {
            ref var start = ref MemoryMarshal.GetReference(scores);
            while (i < scores.Length)
            {
                if (count == heap.Length && i + 8 <= scores.Length && scores[heap[0]] is var worst && !float.IsNaN(worst) &&
                    Vector256.GreaterThanAny(Vector256.LoadUnsafe(ref start, (nuint)i), Vector256.Create(worst)) == false)
                {
                    i += 8;
                    continue;
                }
                var end = Math.Min(scores.Length, count == heap.Length ? i + 8 : i + 1);
                for (; i < end; i++)
                {
                    while (nextExcluded < excludedSorted.Length && excludedSorted[nextExcluded] < i) nextExcluded++;
                    if (nextExcluded < excludedSorted.Length && excludedSorted[nextExcluded] == i) continue;
                    Offer(heap, ref count, i, scores);
                }
            }
            SortBestFirst(heap, count, scores);
            return count;
        }
        for (; i < scores.Length; i++)
        {
            // Exclusions are sorted and i only grows, so one forward pointer checks them in O(1) amortised.
            while (nextExcluded < excludedSorted.Length && excludedSorted[nextExcluded] < i) nextExcluded++;
            if (nextExcluded < excludedSorted.Length && excludedSorted[nextExcluded] == i) continue;
            Offer(heap, ref count, i, scores);
        }
        SortBestFirst(heap, count, scores);
        return count;
    }

    /// <summary>
    /// <see cref="Select"/> restricted to <paramref name="candidatesSorted"/> (ascending, distinct
    /// indices into <paramref name="scores"/>; null means every index): the same order and tie
    /// breaks, so with every index as candidate the result equals <see cref="Select"/>'s. Only the
    /// candidates' scores are read. Returns fewer than k only when fewer candidates remain after
    /// the exclusions.
    /// </summary>
    public static int SelectAmong(ReadOnlySpan<float> scores, int[]? candidatesSorted, int k, ReadOnlySpan<int> excludedSorted, Span<int> indices)
    {
        if (candidatesSorted is null) return Select(scores, k, excludedSorted, indices);
        if (k <= 0) return 0;
        var heap = indices[..Math.Min(k, indices.Length)];
        var count = 0;
        var nextExcluded = 0;
        foreach (var i in candidatesSorted)
        {
            while (nextExcluded < excludedSorted.Length && excludedSorted[nextExcluded] < i) nextExcluded++;
            if (nextExcluded < excludedSorted.Length && excludedSorted[nextExcluded] == i) continue;
            Offer(heap, ref count, i, scores);
        }
        SortBestFirst(heap, count, scores);
        return count;
    }

    /// <summary>Keeps item i in the min-heap of the best heap.Length items seen so far (the root is the worst kept).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Offer(Span<int> heap, ref int count, int i, ReadOnlySpan<float> scores)
    {
        if (count < heap.Length)
        {
            heap[count] = i;
            SiftUp(heap, count++, scores);
        }
        else if (Better(i, heap[0], scores))
        {
            heap[0] = i;
            SiftDown(heap, 0, count, scores);
        }
    }

    /// <summary>Heap sort of the first count items: repeatedly move the worst to the end, leaving best-first order.</summary>
    private static void SortBestFirst(Span<int> heap, int count, ReadOnlySpan<float> scores)
    {
        for (var end = count - 1; end > 0; end--)
        {
            (heap[0], heap[end]) = (heap[end], heap[0]);
            SiftDown(heap, 0, end, scores);
        }
    }

    /// <summary>True when item a ranks before item b.</summary>
    public static bool Better(int a, int b, ReadOnlySpan<float> scores)
    {
        var sa = scores[a];
        var sb = scores[b];
        if (float.IsNaN(sa)) return !float.IsNaN(sb) ? false : a < b;
        if (float.IsNaN(sb)) return true;
        return sa > sb || (sa == sb && a < b);
    }

    private static void SiftUp(Span<int> heap, int child, ReadOnlySpan<float> scores)
    {
        while (child > 0)
        {
            var parent = (child - 1) / 2;
            if (!Better(heap[parent], heap[child], scores)) break;
            (heap[parent], heap[child]) = (heap[child], heap[parent]);
            child = parent;
        }
    }

    private static void SiftDown(Span<int> heap, int parent, int count, ReadOnlySpan<float> scores)
    {
        while (true)
        {
            var worst = parent;
            var left = 2 * parent + 1;
            var right = left + 1;
            if (left < count && Better(heap[worst], heap[left], scores)) worst = left;
            if (right < count && Better(heap[worst], heap[right], scores)) worst = right;
            if (worst == parent) return;
            (heap[parent], heap[worst]) = (heap[worst], heap[parent]);
            parent = worst;
        }
    }

    /// <summary>All items sorted best first (the full ranking; used for the popularity order).</summary>
    /// <remarks>
    /// The order of <see cref="Better"/> (higher first, ties and -0/+0 by index, NaN last), as one
    /// sort of 64-bit keys: the score's bits turned into an unsigned key that falls as the score
    /// rises, then the index. A comparison delegate per pair took most of a first recommend() at
    /// 650k items; this is a primitive sort.
    /// </remarks>
    public static int[] Order(ReadOnlySpan<float> scores)
    {
        var keys = new ulong[scores.Length];
        for (var i = 0; i < keys.Length; i++) keys[i] = ((ulong)DescendingKey(scores[i]) << 32) | (uint)i;
        Array.Sort(keys);
        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++) order[i] = (int)(uint)keys[i];
        return order;
    }

    /// <summary>A key that is smaller for a better score: NaN largest, -0 as +0.</summary>
    internal static uint DescendingKey(float score)
    {
        if (float.IsNaN(score)) return uint.MaxValue;
        var bits = BitConverter.SingleToInt32Bits(score + 0f);
        // Ascending order of the float as a signed int, then as unsigned, then reversed.
        var ascending = (uint)((bits < 0 ? bits ^ int.MaxValue : bits) ^ int.MinValue);
        return ~ascending;
    }
}
