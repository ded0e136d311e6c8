
namespace SqlRec.Compute;

/// <summary>
/// FREEDOM's degree-sensitive edge pruning of the user-item graph. Each edge (u, i) weighs
/// 1 / sqrt(d_u d_i), its value in the symmetrically normalised graph; every epoch keeps
/// <c>floor(E * (1 - dropout))</c> edges drawn without replacement with probability proportional to
/// that weight (<c>torch.multinomial(values, n)</c> in MMRec), so edges between high-degree nodes -
/// the likeliest noise - are dropped most, and the kept edges are normalised again by their own
/// degrees. Sampling uses the keys of Efraimidis and Spirakis (2006): each edge draws
/// u ~ U(0, 1) and the edges with the largest ln(u) / w are kept, which has exactly the
/// distribution of successive weighted draws without replacement, in one O(E log E) pass.
/// </summary>
internal static class DegreePruning
{
    /// <summary>1 / sqrt(d_u d_i) for every edge of the binary user-item CSR, in CSR order.</summary>
    public static float[] EdgeWeights(int[] offsets, int[] columns, int items)
    {
        var itemDegree = new int[items];
        foreach (var item in columns) itemDegree[item]++;
        var weights = new float[columns.Length];
        for (var u = 0; u + 1 < offsets.Length; u++)
        {
            var userDegree = offsets[u + 1] - offsets[u];
            for (var p = offsets[u]; p < offsets[u + 1]; p++) weights[p] = (float)(1 / Math.Sqrt((double)userDegree * itemDegree[columns[p]]));
        }
        return weights;
    }

    /// <summary>How many edges an epoch keeps: floor(edges * (1 - dropout)), as MMRec's int(...).</summary>
    public static int KeptCount(int edges, double dropout) => (int)(edges * (1 - dropout));

    /// <summary>
    /// Draws <paramref name="keep"/> distinct edge positions without replacement, each draw with
    /// probability proportional to its weight among the edges not yet drawn; returns them ascending.
    /// Edges of weight 0 are drawn only once every positive edge is taken.
    /// </summary>
    public static int[] Sample(ReadOnlySpan<float> weights, int keep, ref SplitMix64 random)
    {
        var count = weights.Length;
        var keys = new double[count];
        var order = new int[count];
        for (var e = 0; e < count; e++)
        {
            // u in (0, 1): 53 random bits, shifted off zero.
            var u = ((random.Next() >> 11) + 0.5) * (1.0 / (1UL << 53));
            keys[e] = weights[e] > 0 ? Math.Log(u) / weights[e] : double.NegativeInfinity;
            order[e] = e;
        }
        // Largest keys first; the sort is deterministic for the same keys.
        Array.Sort(keys, order);
        var kept = order.AsSpan(count - keep, keep).ToArray();
        Array.Sort(kept);
        return kept;
    }

    /// <summary>
    /// The kept edges as a normalised graph: R~ = D_u^-1/2 R_kept D_i^-1/2 (users x items) with the
    /// degrees of the kept edges; users or items that lost every edge have empty rows or columns.
    /// </summary>
    public static SparseMatrix Pruned(int users, int items, int[] offsets, int[] columns, int[] keptSorted)
    {
        var prunedOffsets = new int[users + 1];
        var prunedColumns = new int[keptSorted.Length];
        var ones = new float[keptSorted.Length];
        Array.Fill(ones, 1f);
        var user = 0;
        for (var k = 0; k < keptSorted.Length; k++)
        {
            var edge = keptSorted[k];
            while (offsets[user + 1] <= edge) user++;
            prunedOffsets[user + 1]++;
            prunedColumns[k] = columns[edge];
        }
        for (var u = 0; u < users; u++) prunedOffsets[u + 1] += prunedOffsets[u];
        return new SparseMatrix(users, items, prunedOffsets, prunedColumns, ones).NormalizeSymmetric();
    }
}
