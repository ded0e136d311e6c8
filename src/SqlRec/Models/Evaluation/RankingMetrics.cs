namespace SqlRec.Models;

/// <summary>
/// Full-ranking metrics of one user's ranked list against the user's held-out items, with binary
/// relevance, as in the NGCF and LightGCN evaluation code. For a cutoff K, with <c>hits</c> the
/// held-out items among the first K positions and <c>|test|</c> all of the user's held-out items
/// (including items the model does not know, which can never be hit):
/// <list type="bullet">
/// <item><c>recall@K</c> = hits / |test|</item>
/// <item><c>precision@K</c> = hits / K (K, even when fewer than K candidates exist)</item>
/// <item><c>ndcg@K</c> = DCG / IDCG, DCG = sum over hit positions i (1-based) of 1 / log2(i + 1), IDCG the same over positions 1..min(|test|, K)</item>
/// <item><c>hit_rate@K</c> = 1 when there is at least one hit, else 0</item>
/// <item><c>mrr@K</c> = 1 / the position of the first hit, 0 when none</item>
/// <item><c>map@K</c> = (1 / min(|test|, K)) * sum over hit positions i of precision@i</item>
/// </list>
/// </summary>
internal static class RankingMetrics
{
    /// <summary>Names of the per-user metrics, in the order <see cref="ForUser"/> writes them.</summary>
    public static readonly string[] PerUserNames = ["recall", "ndcg", "precision", "hit_rate", "mrr", "map"];

    /// <summary>Number of per-user metrics per cutoff.</summary>
    public static int PerUserCount => PerUserNames.Length;

    /// <summary>Name of the catalogue metric: distinct items in any evaluated user's top K / items in the model.</summary>
    public const string CoverageName = "coverage";

    /// <summary>Default cutoffs.</summary>
    public static readonly int[] DefaultCutoffs = [10, 20];

    // IdealDcg[n] = sum over i = 1..n of 1 / log2(i + 1).
    private static readonly double[] IdealDcg = BuildIdealDcg(Errors.MaxK);

    private static double[] BuildIdealDcg(int max)
    {
        var table = new double[max + 1];
        for (var i = 1; i <= max; i++) table[i] = table[i - 1] + Discount(i);
        return table;
    }

    /// <summary>The DCG discount of 1-based position <paramref name="position"/>: 1 / log2(position + 1).</summary>
    public static double Discount(int position) => 1.0 / Math.Log2(position + 1);

    /// <summary>
    /// Writes the per-user metrics of <paramref name="ranking"/> (item indices, best first, at most the
    /// largest cutoff long; shorter when fewer candidates exist) into <paramref name="output"/>:
    /// <c>cutoffs.Length * PerUserCount</c> values, cutoff by cutoff, each in <see cref="PerUserNames"/> order.
    /// </summary>
    /// <param name="ranking">The user's top items, best first.</param>
    /// <param name="relevantSorted">The user's held-out items that the model knows, sorted ascending.</param>
    /// <param name="relevantCount">|test|: every held-out item of the user, known to the model or not (at least 1).</param>
    /// <param name="cutoffs">The cutoffs K, ascending, each from 1 to <see cref="Errors.MaxK"/>.</param>
    /// <param name="output">Receives the metrics.</param>
    public static void ForUser(ReadOnlySpan<int> ranking, ReadOnlySpan<int> relevantSorted, int relevantCount, ReadOnlySpan<int> cutoffs, Span<double> output)
    {
        if (relevantCount < Math.Max(1, relevantSorted.Length)) throw new ArgumentOutOfRangeException(nameof(relevantCount));
        var hits = 0;
        var dcg = 0.0;
        var precisionSum = 0.0;
        var reciprocalRank = 0.0;
        var next = 0;
        var length = Math.Min(ranking.Length, cutoffs[^1]);
        for (var position = 1; position <= length; position++)
        {
            if (relevantSorted.BinarySearch(ranking[position - 1]) >= 0)
            {
                hits++;
                dcg += Discount(position);
                precisionSum += (double)hits / position;
                if (hits == 1) reciprocalRank = 1.0 / position;
            }
            while (next < cutoffs.Length && cutoffs[next] == position) Write(next++, hits, dcg, precisionSum, reciprocalRank, relevantCount, cutoffs, output);
        }
        // Cutoffs beyond the end of a short list see the totals of the whole list.
        while (next < cutoffs.Length) Write(next++, hits, dcg, precisionSum, reciprocalRank, relevantCount, cutoffs, output);
    }

    private static void Write(int index, int hits, double dcg, double precisionSum, double reciprocalRank, int relevantCount, ReadOnlySpan<int> cutoffs, Span<double> output)
    {
        var k = cutoffs[index];
        var ideal = Math.Min(relevantCount, k);
        var slot = output.Slice(index * PerUserNames.Length, PerUserNames.Length);
        slot[0] = (double)hits / relevantCount;
        slot[1] = dcg / IdealDcg[ideal];
        slot[2] = (double)hits / k;
        slot[3] = hits > 0 ? 1 : 0;
        slot[4] = reciprocalRank;
        slot[5] = precisionSum / ideal;
    }
}
