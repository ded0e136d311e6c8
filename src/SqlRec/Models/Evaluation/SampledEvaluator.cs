namespace SqlRec.Models;

/// <summary>
/// The sampled-negatives protocol of the SASRec paper and many after it, for comparison with
/// published figures: each evaluated user's held-out items are ranked among <c>negatives</c> items
/// drawn for that user (without replacement, among items the user has neither seen in training nor
/// holds out), uniformly or in proportion to their training interactions, instead of among every
/// item. Easier than full ranking, and known to disagree with it (Krichene and Rendle, KDD 2020);
/// SqlRec reports it beside the full-ranking figures, never instead of them. Each user's draw comes
/// from its own generator seeded by the seed and the user, so the result does not depend on threads.
/// </summary>
internal static class SampledEvaluator
{
    /// <summary>Means of the per-user metrics (<c>[cutoff, metric]</c> in <see cref="RankingMetrics.PerUserNames"/> order).</summary>
    public static double[,] Run(ServableModel model, HeldOut heldOut, int[] cutoffs, int negatives, bool byPopularity, int seed)
    {
        var items = model.Items.Count;
        var stride = cutoffs.Length * RankingMetrics.PerUserCount;
        var perUser = new double[(long)heldOut.UserCount * stride];
        // Cumulative training interactions per item, for popularity sampling.
        var cumulative = new long[items + 1];
        var counts = new long[items];
        foreach (var item in model.SeenItems) counts[item]++;
        for (var i = 0; i < items; i++) cumulative[i + 1] = cumulative[i] + counts[i];
        Parallel.For(0, heldOut.UserCount, Parallelism.Options, () => new float[items], (row, _, scores) =>
        {
            var user = heldOut.Users[row];
            var held = heldOut.ItemsOf(row);
            var seen = model.SeenBy(user);
            var excluded = new HashSet<int>(held.ToArray());
            foreach (var item in seen) excluded.Add(item);
            var available = byPopularity ? Enumerable.Range(0, items).Count(i => counts[i] > 0 && !excluded.Contains(i)) : items - excluded.Count;
            var take = Math.Min(negatives, available);
            var candidates = new List<int>(held.Length + take);
            candidates.AddRange(held.ToArray());
            var random = new SplitMix64(((ulong)(uint)seed << 32) ^ (ulong)(uint)user ^ 0x9E3779B97F4A7C15UL);
            var chosen = new HashSet<int>();
            while (chosen.Count < take)
            {
                int item;
                if (byPopularity)
                {
                    var ticket = (long)((random.Next() >> 11) * (1.0 / (1UL << 53)) * cumulative[items]);
                    item = Array.BinarySearch(cumulative, 1, items, ticket + 1);
                    item = item >= 0 ? item - 1 : ~item - 1;
                }
                else item = random.NextInt(items);
                if (!excluded.Contains(item) && chosen.Add(item)) candidates.Add(item);
            }
            if (model.Scorer is null) model.Popularity.CopyTo(scores, 0);
            else model.Scorer.Score(user, scores);
            // Best first; equal scores by item index, as the full ranking orders them.
            candidates.Sort((a, b) => scores[b] != scores[a] ? scores[b].CompareTo(scores[a]) : a.CompareTo(b));
            var ranking = candidates.Take(cutoffs[^1]).ToArray();
            RankingMetrics.ForUser(ranking, held, heldOut.Counts[row], cutoffs, perUser.AsSpan(row * stride, stride));
            return scores;
        }, _ => { });
        var means = new double[cutoffs.Length, RankingMetrics.PerUserCount];
        for (var c = 0; c < cutoffs.Length; c++)
            for (var m = 0; m < RankingMetrics.PerUserCount; m++)
            {
                var sum = 0.0;
                for (var row = 0; row < heldOut.UserCount; row++) sum += perUser[(long)row * stride + c * RankingMetrics.PerUserCount + m];
                means[c, m] = sum / heldOut.UserCount;
            }
        return means;
    }
}
