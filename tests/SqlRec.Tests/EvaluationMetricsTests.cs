using SqlRec.Models;
using SqlRec.Operations;
using SqlRec.Store;

namespace SqlRec.Tests;

/// <summary>
/// The evaluation kernels without SQL: per-user metrics against hand-computed cases, the parallel
/// ranking path against a plain sort-everything reference, and the splits.
/// </summary>
[TestClass]
public sealed class EvaluationMetricsTests
{
    private const double Tolerance = 1e-12;

    private static double[] Metrics(int[] ranking, int[] relevantSorted, int relevantCount, int[] cutoffs)
    {
        var output = new double[cutoffs.Length * RankingMetrics.PerUserCount];
        RankingMetrics.ForUser(ranking, relevantSorted, relevantCount, cutoffs, output);
        return output;
    }

    /// <summary>Asserts one cutoff's metrics, in PerUserNames order: recall, ndcg, precision, hit_rate, mrr, map.</summary>
    private static void AssertCutoff(double[] output, int cutoffIndex, double recall, double ndcg, double precision, double hit, double mrr, double map)
    {
        var at = cutoffIndex * RankingMetrics.PerUserCount;
        var expected = new[] { recall, ndcg, precision, hit, mrr, map };
        for (var m = 0; m < expected.Length; m++)
            Assert.AreEqual(expected[m], output[at + m], Tolerance, $"{RankingMetrics.PerUserNames[m]} at cutoff #{cutoffIndex}");
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void MetricNamesAreTheDocumentedOnes()
    {
        CollectionAssert.AreEqual(new[] { "recall", "ndcg", "precision", "hit_rate", "mrr", "map" }, RankingMetrics.PerUserNames);
        CollectionAssert.AreEqual(new[] { 10, 20 }, RankingMetrics.DefaultCutoffs);
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void HandComputedRanking()
    {
        // Ranking (best first): 3, 7, 1, 9, 4. Held out: {1, 4, 8}, so |test| = 3.
        // Hits at positions 3 (item 1) and 5 (item 4).
        //   log2(2) = 1, log2(3) = 1.5849625, log2(4) = 2, log2(6) = 2.5849625.
        //   IDCG over min(3, K) positions: K=1 -> 1; K>=3 -> 1 + 1/1.5849625 + 1/2 = 2.1309298.
        // K = 1: nothing in the first position -> every metric 0.
        // K = 3: hits 1. recall 1/3, precision 1/3, DCG = 1/log2(4) = 0.5, ndcg = 0.5 / 2.1309298 = 0.2346393,
        //        hit 1, mrr 1/3, map = (1/3) * precision@3 = (1/3) * (1/3) = 1/9.
        // K = 5: hits 2. recall 2/3, precision 2/5, DCG = 0.5 + 1/log2(6) = 0.8868528, ndcg = 0.8868528 / 2.1309298 = 0.4161812,
        //        hit 1, mrr 1/3, map = (1/3) * (precision@3 + precision@5) = (1/3) * (1/3 + 2/5) = 11/45.
        var output = Metrics([3, 7, 1, 9, 4], [1, 4, 8], 3, [1, 3, 5]);
        var idcg3 = 1 + 1 / Math.Log2(3) + 0.5;
        AssertCutoff(output, 0, 0, 0, 0, 0, 0, 0);
        AssertCutoff(output, 1, 1.0 / 3, 0.5 / idcg3, 1.0 / 3, 1, 1.0 / 3, 1.0 / 9);
        AssertCutoff(output, 2, 2.0 / 3, (0.5 + 1 / Math.Log2(6)) / idcg3, 2.0 / 5, 1, 1.0 / 3, 11.0 / 45);
        Assert.AreEqual(0.2346393, output[RankingMetrics.PerUserCount + 1], 1e-7);
        Assert.AreEqual(0.4161812, output[2 * RankingMetrics.PerUserCount + 1], 1e-7);
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void UnknownHeldOutItemsCountButAreNeverHitAndShortListsUseK()
    {
        // Ranking: 5, 2 (only two candidates). Held out: item 2 and one item the model does not know -> |test| = 2.
        // K = 1: no hit -> 0.
        // K = 2: hit at 2. recall 1/2, precision 1/2, ndcg = (1/log2 3) / (1 + 1/log2 3) = 0.3868528,
        //        hit 1, mrr 1/2, map = (1/min(2,2)) * precision@2 = 1/4.
        // K = 10: the list ends at 2, so the hits are the same; precision divides by K: 1/10;
        //         IDCG over min(2, 10) = 2 positions, so ndcg and map are as at K = 2.
        var output = Metrics([5, 2], [2], 2, [1, 2, 10]);
        var ndcg = (1 / Math.Log2(3)) / (1 + 1 / Math.Log2(3));
        Assert.AreEqual(0.3868528, ndcg, 1e-7);
        AssertCutoff(output, 0, 0, 0, 0, 0, 0, 0);
        AssertCutoff(output, 1, 0.5, ndcg, 0.5, 1, 0.5, 0.25);
        AssertCutoff(output, 2, 0.5, ndcg, 0.1, 1, 0.5, 0.25);
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void APerfectRankingScoresOneAndAnEmptyRankingZero()
    {
        // Ranking 4, 2, 9 with held out {2, 4}: both in the first two positions.
        // K = 2: recall 1, ndcg 1, precision 1, hit 1, mrr 1, map (1/2)(1/1 + 2/2) = 1.
        // K = 3: precision 2/3, everything else still 1.
        var output = Metrics([4, 2, 9], [2, 4], 2, [2, 3]);
        AssertCutoff(output, 0, 1, 1, 1, 1, 1, 1);
        AssertCutoff(output, 1, 1, 1, 2.0 / 3, 1, 1, 1);
        AssertCutoff(Metrics([], [7], 1, [5]), 0, 0, 0, 0, 0, 0, 0);
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void HeldOutBuilderGroupsDistinctPairsByUser()
    {
        var builder = new HeldOutBuilder();
        builder.AddKnown(5, 9);
        builder.AddKnown(2, 4);
        builder.AddUnknown(7);
        builder.AddKnown(5, 1);
        builder.AddUnknown(5);
        var heldOut = builder.Build();
        CollectionAssert.AreEqual(new[] { 2, 5, 7 }, heldOut.Users);
        CollectionAssert.AreEqual(new[] { 4 }, heldOut.ItemsOf(0).ToArray());
        CollectionAssert.AreEqual(new[] { 1, 9 }, heldOut.ItemsOf(1).ToArray());
        Assert.AreEqual(0, heldOut.ItemsOf(2).Length);
        CollectionAssert.AreEqual(new[] { 1, 3, 1 }, heldOut.Counts);
        Assert.AreEqual(5L, heldOut.PairCount);
        Assert.AreEqual(2L, heldOut.UnknownItemPairs);
    }

    // ---- the parallel ranking path against a plain reference --------------------------------

    /// <summary>A dense scorer with fixed random scores (a stand-in for the graph models), coarse so that ties happen.</summary>
    private class TableScorer(float[,] scores) : IUserScorer
    {
        public void Score(int user, Span<float> output)
        {
            for (var i = 0; i < output.Length; i++) output[i] = scores[user, i];
        }
    }

    /// <summary>The same scores through the block interface.</summary>
    private sealed class BatchTableScorer(float[,] scores) : TableScorer(scores), IBatchScorer
    {
        public int Batches;

        public void ScoreBatch(ReadOnlySpan<int> users, Span<float> output)
        {
            Interlocked.Increment(ref Batches);
            var items = output.Length / users.Length;
            for (var b = 0; b < users.Length; b++) Score(users[b], output.Slice(b * items, items));
        }
    }

    private static Interactions RandomInteractions(Random random, int users, int items, int rows, bool times = false)
    {
        var userIds = Enumerable.Range(0, users).Select(u => ExternalId.Of(u * 3 + 1)).ToList();
        var itemIds = Enumerable.Range(0, items).Select(i => ExternalId.Of(i * 7 + 2)).ToList();
        var rowUsers = new int[rows];
        var rowItems = new int[rows];
        var weights = new float[rows];
        var stamps = times ? new double[rows] : null;
        for (var r = 0; r < rows; r++)
        {
            // Every user and item appears at least once; skewed item choice gives a popularity curve.
            rowUsers[r] = r < users ? r : random.Next(users);
            rowItems[r] = r < items ? r : (int)(items * Math.Pow(random.NextDouble(), 2));
            weights[r] = 1 + random.Next(3);
            if (stamps != null) stamps[r] = random.Next(50);
        }
        return Interactions.Build(userIds, itemIds, rowUsers, rowItems, weights, stamps);
    }

    private static ServableModel Popular(Interactions data)
    {
        var kind = new PopularKind();
        var options = kind.ReadOptions(kind.OptionTable.Read(OptionReader.Parse("t", null)));
        var artifacts = ModelTraining.Train(kind, options, data, null, new TrainingContext("t", "t", null, default));
        return ServableModel.Load(kind, options, data.Users, data.Items, artifacts.Arrays);
    }

    /// <summary>A trained model that is nothing but the given scorer.</summary>
    private sealed class ScoredBy(IUserScorer scorer) : ITrainedModel
    {
        public IUserScorer? Scorer => scorer;
    }

    private static ServableModel WithScorer(ServableModel model, float[,] scores, bool batch = false) => WithScorer(model, batch ? new BatchTableScorer(scores) : new TableScorer(scores));

    private static ServableModel WithScorer(ServableModel model, IUserScorer scorer) =>
        new(model.Kind, new ScoredBy(scorer), model.Users, model.Items, new Dictionary<string, Array>
        {
            [ArrayNames.SeenOffsets] = model.SeenOffsets,
            [ArrayNames.SeenItems] = model.SeenItems,
            [ArrayNames.Popularity] = model.Popularity,
        });

    /// <summary>The protocol written the plain way: score and sort every item, drop seen ones, count hits by hand.</summary>
    private static Dictionary<string, double> Reference(ServableModel model, HeldOut heldOut, int[] cutoffs)
    {
        var items = model.Items.Count;
        var sums = new Dictionary<string, double>();
        var covered = cutoffs.ToDictionary(k => k, _ => new HashSet<int>());
        for (var row = 0; row < heldOut.UserCount; row++)
        {
            var user = heldOut.Users[row];
            var scores = new float[items];
            if (model.Scorer is null) model.Popularity.CopyTo(scores, 0);
            else model.Scorer.Score(user, scores);
            var seen = model.SeenBy(user).ToArray();
            var ranking = TestData.TopK(scores, int.MaxValue, seen);
            var relevant = heldOut.ItemsOf(row).ToArray();
            var total = heldOut.Counts[row];
            foreach (var k in cutoffs)
            {
                var top = ranking.Take(k).ToList();
                covered[k].UnionWith(top);
                var hitPositions = Enumerable.Range(1, top.Count).Where(p => relevant.Contains(top[p - 1])).ToList();
                var dcg = hitPositions.Sum(p => 1 / Math.Log2(p + 1));
                var idcg = Enumerable.Range(1, Math.Min(total, k)).Sum(p => 1 / Math.Log2(p + 1));
                Add($"recall@{k}", (double)hitPositions.Count / total);
                Add($"ndcg@{k}", dcg / idcg);
                Add($"precision@{k}", (double)hitPositions.Count / k);
                Add($"hit_rate@{k}", hitPositions.Count > 0 ? 1 : 0);
                Add($"mrr@{k}", hitPositions.Count > 0 ? 1.0 / hitPositions[0] : 0);
                Add($"map@{k}", hitPositions.Select((p, n) => (n + 1.0) / p).Sum() / Math.Min(total, k));
            }
        }
        var result = sums.ToDictionary(e => e.Key, e => e.Value / heldOut.UserCount);
        foreach (var k in cutoffs) result[$"coverage@{k}"] = (double)covered[k].Count / items;
        return result;

        void Add(string name, double value) => sums[name] = sums.GetValueOrDefault(name) + value;
    }

    private static void AssertMatchesReference(ServableModel model, HeldOut heldOut, int[] cutoffs, string label)
    {
        var expected = Reference(model, heldOut, cutoffs);
        var actual = RankingEvaluator.Run(model, heldOut, cutoffs);
        var names = actual.Named().Select(m => m.Name).ToArray();
        CollectionAssert.AreEquivalent(expected.Keys.ToArray(), names, label);
        foreach (var (name, value) in actual.Named()) Assert.AreEqual(expected[name], value, 1e-9, $"{label}: {name}");
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void FastPathEqualsThePlainReferenceForPopularAndDenseScorers()
    {
        for (var seed = 1; seed <= 6; seed++)
        {
            var random = new Random(seed);
            var data = RandomInteractions(random, users: 40, items: 30, rows: 400);
            var split = Splits.Split(data, SplitMethod.Random, 0.3, seed);
            var popular = Popular(split.Train);
            int[] cutoffs = [1, 3, 5, 50];
            AssertMatchesReference(popular, split.HeldOut, cutoffs, $"popular, seed {seed}");
            var scores = new float[popular.Users.Count, popular.Items.Count];
            for (var u = 0; u < scores.GetLength(0); u++)
                for (var i = 0; i < scores.GetLength(1); i++) scores[u, i] = random.Next(8);
            AssertMatchesReference(WithScorer(popular, scores), split.HeldOut, cutoffs, $"dense scorer, seed {seed}");
            var batch = WithScorer(popular, scores, batch: true);
            AssertMatchesReference(batch, split.HeldOut, cutoffs, $"batch scorer, seed {seed}");
            Assert.IsGreaterThan(0, ((BatchTableScorer)batch.Scorer!).Batches, "the block path ran");
        }
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void ResultsDoNotDependOnTheNumberOfThreads()
    {
        // More users than one progress chunk, so several chunks and workspaces take part.
        var random = new Random(11);
        var data = RandomInteractions(random, users: 3 * RankingEvaluator.ChunkSize + 17, items: 300, rows: 60_000);
        var split = Splits.Split(data, SplitMethod.Random, 0.2, 42);
        var model = Popular(split.Train);
        var scores = new float[model.Users.Count, model.Items.Count];
        for (var u = 0; u < scores.GetLength(0); u++)
            for (var i = 0; i < scores.GetLength(1); i++) scores[u, i] = (float)random.NextDouble();
        foreach (var candidate in new[] { model, WithScorer(model, scores), WithScorer(model, scores, batch: true) })
        {
            int[] cutoffs = [5, 20];
            var progress = new List<(long Done, long Total)>();
            var one = RankingEvaluator.Run(candidate, split.HeldOut, cutoffs, (d, t) => progress.Add((d, t)), maxThreads: 1);
            var three = RankingEvaluator.Run(candidate, split.HeldOut, cutoffs, maxThreads: 3);
            var all = RankingEvaluator.Run(candidate, split.HeldOut, cutoffs);
            CollectionAssert.AreEqual(one.Named().ToArray(), three.Named().ToArray());
            CollectionAssert.AreEqual(one.Named().ToArray(), all.Named().ToArray());
            Assert.AreEqual((0L, (long)split.HeldOut.UserCount), progress[0]);
            Assert.AreEqual(((long)split.HeldOut.UserCount, (long)split.HeldOut.UserCount), progress[^1]);
            Assert.IsGreaterThan(2, progress.Count, "progress between chunks");
            if (candidate.Scorer is not IBatchScorer)
            {
                var chunks = (split.HeldOut.UserCount + RankingEvaluator.ChunkSize - 1) / RankingEvaluator.ChunkSize;
                Assert.HasCount(chunks + 1, progress, "0, then after each chunk of users");
            }
        }
    }

    // ---- splits ----------------------------------------------------------------------------------

    private static HashSet<(ExternalId User, ExternalId Item)> Pairs(Interactions data)
    {
        var pairs = new HashSet<(ExternalId, ExternalId)>();
        for (var u = 0; u < data.Users.Count; u++)
            foreach (var i in data.ItemsOf(u)) pairs.Add((data.Users.Ids[u], data.Items.Ids[i]));
        return pairs;
    }

    /// <summary>Held-out pairs as ids; items the training part does not know are recovered from the full data.</summary>
    private static HashSet<(ExternalId User, ExternalId Item)> HeldOutPairs(Interactions full, SplitData split)
    {
        var trainPairs = Pairs(split.Train);
        var heldOut = Pairs(full);
        heldOut.ExceptWith(trainPairs);
        // Cross-check with the HeldOut structure: the known items match, and the counts include the unknown ones.
        for (var row = 0; row < split.HeldOut.UserCount; row++)
        {
            var user = split.Train.Users.Ids[split.HeldOut.Users[row]];
            var mine = heldOut.Where(p => p.User == user).ToList();
            Assert.AreEqual(mine.Count, split.HeldOut.Counts[row], $"user {user}");
            foreach (var item in split.HeldOut.ItemsOf(row).ToArray()) Assert.Contains((user, split.Train.Items.Ids[item]), heldOut);
        }
        Assert.AreEqual(heldOut.Count, split.HeldOut.PairCount);
        return heldOut;
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void RandomSplitIsDisjointCompleteAndDeterministicForASeed()
    {
        var data = RandomInteractions(new Random(3), users: 60, items: 40, rows: 700);
        var split = Splits.Split(data, SplitMethod.Random, 0.25, 42);
        var train = Pairs(split.Train);
        var heldOut = HeldOutPairs(data, split);
        Assert.IsFalse(train.Overlaps(heldOut), "no pair is both trained on and held out");
        CollectionAssert.AreEquivalent(Pairs(data).ToArray(), train.Concat(heldOut).ToArray(), "together they are the data");
        for (var u = 0; u < data.Users.Count; u++)
        {
            var user = data.Users.Ids[u];
            var n = data.ItemsOf(u).Length;
            Assert.AreEqual(Splits.TestCount(n, 0.25), heldOut.Count(p => p.User == user), $"user {user} with {n} items");
        }
        // Every raw row of a trained pair is kept: weights still sum the same per pair.
        Assert.AreEqual(data.RowWeights.Sum() - heldOut.Sum(p => Weight(data, p)), split.Train.RowWeights.Sum(), 1e-3);

        var again = Splits.Split(data, SplitMethod.Random, 0.25, 42);
        CollectionAssert.AreEquivalent(heldOut.ToArray(), HeldOutPairs(data, again).ToArray(), "same seed, same split");
        var other = Splits.Split(data, SplitMethod.Random, 0.25, 43);
        Assert.IsFalse(heldOut.SetEquals(HeldOutPairs(data, other)), "another seed, another split");
    }

    private static double Weight(Interactions data, (ExternalId User, ExternalId Item) pair)
    {
        data.Users.TryGetIndex(pair.User, out var u);
        data.Items.TryGetIndex(pair.Item, out var i);
        var sum = 0.0;
        for (var r = 0; r < data.RowCount; r++) if (data.RowUsers[r] == u && data.RowItems[r] == i) sum += data.RowWeights[r];
        return sum;
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void TestCountRoundsAndKeepsAtLeastOneOnEachSide()
    {
        Assert.AreEqual(0, Splits.TestCount(0, 0.2));
        Assert.AreEqual(0, Splits.TestCount(1, 0.9), "one item stays in training");
        Assert.AreEqual(1, Splits.TestCount(2, 0.2), "at least one held out from 2 items");
        Assert.AreEqual(1, Splits.TestCount(2, 0.9), "at least one left for training");
        Assert.AreEqual(1, Splits.TestCount(7, 0.2), "1.4 rounds to 1");
        Assert.AreEqual(2, Splits.TestCount(8, 0.2), "1.6 rounds to 2");
        Assert.AreEqual(3, Splits.TestCount(5, 0.5), "2.5 rounds away from zero");
        Assert.AreEqual(20, Splits.TestCount(100, 0.2));
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void LastSplitHoldsOutEachUsersNewestItem()
    {
        var data = RandomInteractions(new Random(5), users: 50, items: 30, rows: 500, times: true);
        var split = Splits.Split(data, SplitMethod.Last, 0, 0);
        var heldOut = HeldOutPairs(data, split);
        Assert.IsFalse(Pairs(split.Train).Overlaps(heldOut));
        for (var u = 0; u < data.Users.Count; u++)
        {
            var rows = Enumerable.Range(0, data.RowCount).Where(r => data.RowUsers[r] == u).ToList();
            var mine = heldOut.Where(p => p.User == data.Users.Ids[u]).Select(p => p.Item).ToList();
            if (data.ItemsOf(u).Length < 2)
            {
                Assert.IsEmpty(mine);
                continue;
            }
            // The newest row; among rows with the newest time, the last one.
            var newest = rows.OrderBy(r => data.RowTimes![r]).ThenBy(r => r).Last();
            CollectionAssert.AreEqual(new[] { data.Items.Ids[data.RowItems[newest]] }, mine);
        }
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void SplitMix64IsTheReferenceSequence()
    {
        // First outputs of SplitMix64 seeded with 0 (Vigna's reference implementation).
        var random = new SplitMix64(0);
        Assert.AreEqual(0xE220A8397B1DCDAFUL, random.Next());
        Assert.AreEqual(0x6E789E6AA1B965F4UL, random.Next());
        Assert.AreEqual(0x06C45D188009454FUL, random.Next());
    }
}
