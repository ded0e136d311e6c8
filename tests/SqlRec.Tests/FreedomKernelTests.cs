using SqlRec.Compute;
using SqlRec.Models;

namespace SqlRec.Tests;

/// <summary>
/// FREEDOM's kernels against plain references: the kNN item-item graph (exact against brute force,
/// approximate by recall), its normalisation and mixing, degree-sensitive pruning (weights,
/// counts, the sampling distribution, the renormalised graph), propagation and every gradient
/// (against a dense double-precision model of the loss and finite differences), Adam, determinism.
/// </summary>
[TestClass]
public sealed class FreedomKernelTests
{
    // ---- item-item graph ---------------------------------------------------------------------

    /// <summary>Vectors around a few centres (with some exact duplicates), rows x dim.</summary>
    private static float[] ClusteredVectors(int rows, int dim, int clusters, double noise, int seed)
    {
        var random = new Random(seed);
        var centres = Enumerable.Range(0, clusters * dim).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        var vectors = new float[rows * dim];
        for (var r = 0; r < rows; r++)
        {
            var c = random.Next(clusters);
            for (var d = 0; d < dim; d++) vectors[r * dim + d] = (float)(centres[c * dim + d] + noise * (random.NextDouble() * 2 - 1));
        }
        // Duplicates make ties, which must go to the lower index.
        vectors.AsSpan(0, dim).CopyTo(vectors.AsSpan(5 * dim, dim));
        vectors.AsSpan(0, dim).CopyTo(vectors.AsSpan(9 * dim, dim));
        return vectors;
    }

    /// <summary>The k best rows by cosine from the definition (double precision), ties to the lower index.</summary>
    private static int[] BruteForceNeighbours(float[] vectors, int[] rows, int dim, int k, int query)
    {
        double Cos(int a, int b)
        {
            double dot = 0, na = 0, nb = 0;
            for (var d = 0; d < dim; d++)
            {
                dot += (double)vectors[a * dim + d] * vectors[b * dim + d];
                na += (double)vectors[a * dim + d] * vectors[a * dim + d];
                nb += (double)vectors[b * dim + d] * vectors[b * dim + d];
            }
            return dot / Math.Sqrt(na * nb);
        }
        return TestData.TopK(rows.Select(row => Cos(rows[query], row)).ToArray(), k);
    }

    [TestMethod]
    public void ExactKnnMatchesBruteForce()
    {
        const int n = 150, dim = 12, k = 7;
        var vectors = ClusteredVectors(n, dim, 6, 0.6, seed: 3);
        var rows = Enumerable.Range(0, n).ToArray();
        var unit = ItemKnnGraph.UnitRows(vectors, rows, dim);
        var got = ItemKnnGraph.ExactNeighbours(unit, n, dim, k);
        var mismatches = 0;
        for (var q = 0; q < n; q++)
        {
            var expected = BruteForceNeighbours(vectors, rows, dim, k, q);
            var actual = got.AsSpan(q * k, k).ToArray();
            // Float and double can order near-equal similarities differently; the sets must agree but for such near ties.
            if (!expected.SequenceEqual(actual)) mismatches++;
            Assert.IsGreaterThanOrEqualTo(k - 1, expected.Intersect(actual).Count(), $"row {q}");
        }
        Assert.IsLessThanOrEqualTo(3, mismatches, "orders agree except for near ties");
        // Exact duplicates: rows 0, 5 and 9 are the same vector, so each one's first three neighbours are 0, 5, 9 in index order.
        CollectionAssert.AreEqual(new[] { 0, 5, 9 }, got.AsSpan(5 * k, 3).ToArray());
        // More neighbours asked than rows exist: every row gets all of them.
        var all = ItemKnnGraph.ExactNeighbours(unit.AsSpan(0, 4 * dim).ToArray(), 4, dim, 10);
        Assert.HasCount(16, all);
        for (var q = 0; q < 4; q++) CollectionAssert.AreEquivalent(new[] { 0, 1, 2, 3 }, all.AsSpan(q * 4, 4).ToArray());
    }

    [TestMethod]
    public void ApproximateKnnFindsMostOfTheExactNeighbours()
    {
        const int n = 3000, dim = 16, k = 10;
        var vectors = ClusteredVectors(n, dim, 40, 0.5, seed: 8);
        var rows = Enumerable.Range(0, n).ToArray();
        var unit = ItemKnnGraph.UnitRows(vectors, rows, dim);
        var exact = ItemKnnGraph.ExactNeighbours(unit, n, dim, k);
        var approximate = ItemKnnGraph.ApproximateNeighbours(unit, n, dim, k, seed: 1);
        double found = 0;
        for (var q = 0; q < n; q++) found += exact.AsSpan(q * k, k).ToArray().Intersect(approximate.AsSpan(q * k, k).ToArray()).Count();
        var recall = found / (n * k);
        Console.WriteLine($"approximate kNN recall@{k} on {n} clustered vectors: {recall:F4}");
        Assert.IsGreaterThan(0.95, recall);
        for (var q = 0; q < n; q++) Assert.AreEqual(k, approximate.AsSpan(q * k, k).ToArray().Distinct().Count(), "k distinct neighbours");
        CollectionAssert.AreEqual(approximate, ItemKnnGraph.ApproximateNeighbours(unit, n, dim, k, seed: 1), "deterministic for a seed");
        // Lists too small for k rows fall back to every row; the result is then exact.
        var tiny = ItemKnnGraph.ApproximateNeighbours(unit.AsSpan(0, 30 * dim).ToArray(), 30, dim, k, seed: 1, lists: 15, probes: 1);
        CollectionAssert.AreEqual(ItemKnnGraph.ExactNeighbours(unit.AsSpan(0, 30 * dim).ToArray(), 30, dim, k), tiny);
    }

    [TestMethod]
    public void ApproximateKnnProbesMoreListsUntilTheSampledRecallReachesTheTarget()
    {
        const int n = 3000, dim = 16, k = 10;
        var rows = Enumerable.Range(0, n).ToArray();
        double Recall(int[] exact, int[] approximate) =>
            (double)Enumerable.Range(0, n).Sum(q => exact.AsSpan(q * k, k).ToArray().Intersect(approximate.AsSpan(q * k, k).ToArray()).Count()) / (n * k);
        foreach (var (spread, expectMore) in new[] { (0.5, false), (4.0, true) })
        {
            // Tight clusters: the default probes already find the neighbours. Clusters lost in noise: more lists are needed.
            var unit = ItemKnnGraph.UnitRows(ClusteredVectors(n, dim, 40, spread, seed: 8), rows, dim);
            var exact = ItemKnnGraph.ExactNeighbours(unit, n, dim, k);
            var index = ItemKnnGraph.BuildLists(unit, n, dim, seed: 1);
            var defaultRecall = Recall(exact, ItemKnnGraph.SearchLists(index, unit, n, dim, k));
            ItemKnnGraph.Calibration? reported = null;
            var calibrated = ItemKnnGraph.ApproximateNeighbours(unit, n, dim, k, seed: 1, calibration: c => reported = c);
            var recall = Recall(exact, calibrated);
            Console.WriteLine($"spread {spread}: default {index.Probes} probes recall {defaultRecall:F4}; calibrated {reported} recall {recall:F4}");
            Assert.IsNotNull(reported);
            Assert.AreEqual(index.Lists, reported.Value.Lists);
            if (expectMore)
            {
                Assert.IsLessThan(ItemKnnGraph.TargetRecall, defaultRecall, "the noisy case needs more than the default probes");
                Assert.IsGreaterThan(index.Probes, reported.Value.Probes);
            }
            else Assert.AreEqual(index.Probes, reported.Value.Probes);
            Assert.IsGreaterThanOrEqualTo(ItemKnnGraph.TargetRecall, reported.Value.EstimatedRecall);
            Assert.IsGreaterThan(ItemKnnGraph.TargetRecall - 0.01, recall, "the sample's estimate holds for all rows");
            // The calibrated search is the plain search with the chosen probes over the same centroids.
            CollectionAssert.AreEqual(ItemKnnGraph.SearchLists(ItemKnnGraph.BuildLists(unit, n, dim, seed: 1, probes: reported.Value.Probes), unit, n, dim, k), calibrated);
        }
    }

    /// <summary>
    /// The score the graph's kernels give a pair of rows, computed alone: one 4 x 4 block of
    /// <see cref="DenseMath.MultiplyTransposedAdd"/> with the other three rows on each side zero.
    /// </summary>
    private static float PairScore(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var dim = a.Length;
        var left = new float[4 * dim];
        var right = new float[4 * dim];
        a.CopyTo(left.AsSpan(2 * dim));
        b.CopyTo(right.AsSpan(dim));
        var scores = new float[16];
        DenseMath.MultiplyTransposedAdd(left, 4, right, 4, dim, scores);
        return scores[2 * 4 + 1];
    }

    [TestMethod]
    [DataRow(1001, 20, 25, 3, DisplayName = "width not a multiple of 8, rows not of 4")]
    [DataRow(150, 16, 30, 1, DisplayName = "lists too small for k: some queries search everything")]
    [DataRow(3500, 8, 3, 1, DisplayName = "lists longer than a member block, more queries per list than a query block")]
    public void BlockedApproximateKnnEqualsAPlainReference(int n, int dim, int lists, int probes)
    {
        const int k = 10;
        var vectors = ClusteredVectors(n, dim, 12, 0.6, seed: n);
        var unit = ItemKnnGraph.UnitRows(vectors, Enumerable.Range(0, n).ToArray(), dim);
        var index = ItemKnnGraph.BuildLists(unit, n, dim, seed: 2, lists, probes);
        var got = ItemKnnGraph.SearchLists(index, unit, n, dim, k);
        CollectionAssert.AreEqual(got, ItemKnnGraph.ApproximateNeighbours(unit, n, dim, k, seed: 2, lists: lists, probes: probes));

        // The index: each row's nearest lists by its score with every centroid, and filed under the nearest.
        var centroidScores = new float[lists];
        var probed = new int[probes];
        for (var r = 0; r < n; r++)
        {
            for (var l = 0; l < lists; l++) centroidScores[l] = PairScore(unit.AsSpan(r * dim, dim), index.Centroids.AsSpan(l * dim, dim));
            TopK.Select(centroidScores, probes, [], probed);
            CollectionAssert.AreEqual(probed, index.Probed.AsSpan(r * probes, probes).ToArray(), $"row {r}'s lists");
        }
        for (var l = 0; l < lists; l++)
        {
            var members = index.Members.AsSpan(index.Offsets[l], index.Size(l)).ToArray();
            CollectionAssert.AreEqual(Enumerable.Range(0, n).Where(r => index.Probed[r * probes] == l).ToArray(), members, $"list {l}");
        }

        // The search: the probed lists' members (or every row when they hold fewer than k), each scored alone, and a plain top-k.
        var scores = new float[n];
        var expected = new int[k];
        var searchedEverything = 0;
        for (var q = 0; q < n; q++)
        {
            var candidates = index.Probed.AsSpan(q * probes, probes).ToArray()
                .SelectMany(l => index.Members.AsSpan(index.Offsets[l], index.Size(l)).ToArray()).Order().ToArray();
            if (candidates.Length < k)
            {
                candidates = Enumerable.Range(0, n).ToArray();
                searchedEverything++;
            }
            foreach (var c in candidates) scores[c] = PairScore(unit.AsSpan(q * dim, dim), unit.AsSpan(c * dim, dim));
            TopK.SelectAmong(scores, candidates, k, [], expected);
            CollectionAssert.AreEqual(expected, got.AsSpan(q * k, k).ToArray(), $"row {q}");
        }
        if (lists * k > n) Assert.IsGreaterThan(0, searchedEverything, "the case has queries that search everything");
        if (n > 3000) Assert.IsGreaterThan(1024, Enumerable.Range(0, lists).Max(index.Size), "the case has a list longer than a member block");
    }

    [TestMethod]
    [DoNotParallelize]
    public void ApproximateKnnWithEveryListProbedIsExactAndIndependentOfTheThreadCount()
    {
        foreach (var (n, dim) in new[] { (1001, 20), (600, 16) })
        {
            const int k = 10, lists = 24;
            var vectors = ClusteredVectors(n, dim, 12, 0.6, seed: 4);
            var unit = ItemKnnGraph.UnitRows(vectors, Enumerable.Range(0, n).ToArray(), dim);
            var exact = ItemKnnGraph.ExactNeighbours(unit, n, dim, k);
            // Bitwise the same scores and the same order, so exactly the exact neighbours (duplicate rows 0, 5, 9 included).
            CollectionAssert.AreEqual(exact, ItemKnnGraph.ApproximateNeighbours(unit, n, dim, k, seed: 1, lists: lists, probes: lists));
            CollectionAssert.AreEqual(new[] { 0, 5, 9 }, exact.AsSpan(9 * k, 3).ToArray());
            // The exact search does not need the padding rows UnitRows adds.
            CollectionAssert.AreEqual(exact, ItemKnnGraph.ExactNeighbours(unit.AsSpan(0, n * dim).ToArray(), n, dim, k));

            var approximate = ItemKnnGraph.ApproximateNeighbours(unit, n, dim, k, seed: 1, lists: lists, probes: 3);
            var threads = Parallelism.Options.MaxDegreeOfParallelism;
            try
            {
                Parallelism.Options.MaxDegreeOfParallelism = 1;
                CollectionAssert.AreEqual(approximate, ItemKnnGraph.ApproximateNeighbours(unit, n, dim, k, seed: 1, lists: lists, probes: 3), "one thread");
                CollectionAssert.AreEqual(exact, ItemKnnGraph.ExactNeighbours(unit, n, dim, k), "one thread");
            }
            finally
            {
                Parallelism.Options.MaxDegreeOfParallelism = threads;
            }
        }

        // Ties across lists: rows 0-2 are e0, the others alternate (e0 + e1) and (e0 + e2), which e0
        // scores the same (bitwise), so row 0's neighbours after rows 0-2 are the lowest other rows,
        // whichever list a tied row comes from and whichever list is searched first.
        {
            const int n = 60, dim = 8, k = 10;
            var vectors = new float[n * dim];
            for (var r = 0; r < n; r++)
            {
                vectors[r * dim] = 1;
                if (r >= 3) vectors[r * dim + 1 + r % 2] = 1;
            }
            var unit = ItemKnnGraph.UnitRows(vectors, Enumerable.Range(0, n).ToArray(), dim);
            var index = ItemKnnGraph.BuildLists(unit, n, dim, seed: 1, lists: 3, probes: 3);
            Assert.AreNotEqual(index.Probed[3 * 3], index.Probed[4 * 3], "the tied rows are in different lists");
            var approximate = ItemKnnGraph.SearchLists(index, unit, n, dim, k);
            CollectionAssert.AreEqual(Enumerable.Range(0, k).ToArray(), approximate.AsSpan(0, k).ToArray());
            CollectionAssert.AreEqual(ItemKnnGraph.ExactNeighbours(unit, n, dim, k), approximate);
        }
    }

    [TestMethod]
    public void TheGraphIsNormalisedByRowDegreesAndSkipsItemsWithoutVectors()
    {
        const int items = 40, dim = 6, k = 4;
        var vectors = ClusteredVectors(items, dim, 4, 0.4, seed: 5);
        var has = Enumerable.Range(0, items).Select(i => i % 7 != 3).ToArray();
        var graph = ItemKnnGraph.Build(vectors, has, dim, k, KnnMethod.Exact, seed: 1);
        var rows = Enumerable.Range(0, items).Where(i => has[i]).ToArray();
        Assert.AreEqual(items, graph.Rows);
        Assert.AreEqual(items, graph.Columns);
        for (var i = 0; i < items; i++)
        {
            if (!has[i])
            {
                Assert.AreEqual(0, graph.RowIndices(i).Length, $"item {i} has no vector, so no row");
                continue;
            }
            var position = Array.IndexOf(rows, i);
            var expected = BruteForceNeighbours(vectors, rows, dim, k, position).Select(p => rows[p]).Order().ToArray();
            CollectionAssert.AreEquivalent(expected, graph.RowIndices(i).ToArray(), $"item {i}");
            Assert.IsTrue(graph.RowIndices(i).ToArray().SequenceEqual(graph.RowIndices(i).ToArray().Order()), "columns ascend");
            // D^-1/2 A D^-1/2 with row degrees: every row has k ones, so every value is 1/k.
            foreach (var value in graph.RowValues(i)) Assert.AreEqual(1.0 / k, value, 1e-7);
        }
        for (var p = 0; p < graph.NonZeros; p++) Assert.IsTrue(has[graph.Indices[p]], "items without vectors are nobody's neighbour");
    }

    [TestMethod]
    public void NormalizeAndMixFollowTheirDefinitions()
    {
        // Rows 0, 2, 3 have neighbours (indices into rows); the degree is k for all, as the kNN gives.
        int[] rows = [0, 2, 3];
        int[] neighbours = [0, 1, 1, 2, 2, 0];
        var graph = ItemKnnGraph.Normalize(4, rows, neighbours, 2);
        var dense = Dense(graph);
        double[,] expected = { { 0.5, 0, 0.5, 0 }, { 0, 0, 0, 0 }, { 0, 0, 0.5, 0.5 }, { 0.5, 0, 0, 0.5 } };
        AssertDense(expected, dense);
        var other = new SparseMatrix(4, 4, [0, 1, 2, 2, 3], [1, 0, 3], [2f, 4f, 1f]);
        var mixed = Dense(ItemKnnGraph.Mix([(graph, 0.25), (other, 0.75)]));
        var otherDense = Dense(other);
        for (var a = 0; a < 4; a++)
            for (var b = 0; b < 4; b++) Assert.AreEqual(0.25 * dense[a, b] + 0.75 * otherDense[a, b], mixed[a, b], 1e-7, $"({a}, {b})");
        AssertDense(dense, Dense(ItemKnnGraph.Mix([(graph, 1.0), (other, 0.0)])));
    }

    private static double[,] Dense(SparseMatrix matrix)
    {
        var dense = new double[matrix.Rows, matrix.Columns];
        for (var r = 0; r < matrix.Rows; r++)
            for (var p = matrix.Offsets[r]; p < matrix.Offsets[r + 1]; p++) dense[r, matrix.Indices[p]] += matrix.Values[p];
        return dense;
    }

    private static void AssertDense(double[,] expected, double[,] actual)
    {
        for (var a = 0; a < expected.GetLength(0); a++)
            for (var b = 0; b < expected.GetLength(1); b++) Assert.AreEqual(expected[a, b], actual[a, b], 1e-6, $"({a}, {b})");
    }

    // ---- degree-sensitive pruning ------------------------------------------------------------

    [TestMethod]
    public void EdgeWeightsAndKeptCountFollowTheDefinitions()
    {
        var (offsets, columns) = TestData.RandomGraph(12, 8, 0.35, seed: 2);
        var weights = DegreePruning.EdgeWeights(offsets, columns, 8);
        for (var u = 0; u < 12; u++)
        {
            for (var p = offsets[u]; p < offsets[u + 1]; p++)
            {
                var itemDegree = columns.Count(c => c == columns[p]);
                Assert.AreEqual(1 / Math.Sqrt((offsets[u + 1] - offsets[u]) * itemDegree), weights[p], 1e-6);
            }
        }
        Assert.AreEqual(19, DegreePruning.KeptCount(99, 0.8), "int(99 * 0.2) as MMRec");
        Assert.AreEqual(9, DegreePruning.KeptCount(100, 0.9), "Python's int(100 * (1. - 0.9)) is 9 as well");
        Assert.AreEqual(100, DegreePruning.KeptCount(100, 0));
    }

    [TestMethod]
    public void SamplingDrawsWithoutReplacementInProportionToTheWeights()
    {
        float[] weights = [1, 2, 3, 4, 0.5f, 9.5f];
        var random = new SplitMix64(11);
        const int trials = 40_000;
        // One draw: the probability of each edge is w / sum(w).
        var first = new double[weights.Length];
        for (var t = 0; t < trials; t++) first[DegreePruning.Sample(weights, 1, ref random)[0]]++;
        for (var e = 0; e < weights.Length; e++) Assert.AreEqual(weights[e] / weights.Sum(), first[e] / trials, 0.01, $"edge {e}");
        // Three draws: inclusion frequencies equal those of successive weighted draws without replacement (the reference).
        var included = new double[weights.Length];
        var reference = new double[weights.Length];
        var plain = new Random(5);
        for (var t = 0; t < trials; t++)
        {
            var kept = DegreePruning.Sample(weights, 3, ref random);
            Assert.HasCount(3, kept.Distinct());
            Assert.IsTrue(kept.SequenceEqual(kept.Order()), "ascending");
            foreach (var e in kept) included[e]++;
            var left = Enumerable.Range(0, weights.Length).ToList();
            for (var draw = 0; draw < 3; draw++)
            {
                var x = plain.NextDouble() * left.Sum(i => weights[i]);
                var pick = left.First(i => (x -= weights[i]) < 0 || i == left[^1]);
                reference[pick]++;
                left.Remove(pick);
            }
        }
        for (var e = 0; e < weights.Length; e++) Assert.AreEqual(reference[e] / trials, included[e] / trials, 0.015, $"edge {e}");
        // Zero-weight edges go last.
        var zero = new SplitMix64(3);
        CollectionAssert.AreEqual(new[] { 0, 2 }, DegreePruning.Sample([1f, 0f, 1f], 2, ref zero));
    }

    [TestMethod]
    public void ThePrunedGraphIsNormalisedByTheKeptDegrees()
    {
        var (offsets, columns) = TestData.RandomGraph(10, 7, 0.4, seed: 6);
        int[] kept = [.. Enumerable.Range(0, columns.Length).Where(e => e % 3 != 1)];
        var pruned = DegreePruning.Pruned(10, 7, offsets, columns, kept);
        var r = new double[10, 7];
        foreach (var e in kept)
        {
            var user = Array.FindLastIndex(offsets, o => o <= e);
            r[user, columns[e]] = 1;
        }
        var expected = new double[10, 7];
        for (var u = 0; u < 10; u++)
        {
            for (var i = 0; i < 7; i++)
            {
                if (r[u, i] == 0) continue;
                double du = 0, di = 0;
                for (var j = 0; j < 7; j++) du += r[u, j];
                for (var v = 0; v < 10; v++) di += r[v, i];
                expected[u, i] = 1 / Math.Sqrt(du * di);
            }
        }
        AssertDense(expected, Dense(pruned));
        Assert.AreEqual(kept.Length, pruned.NonZeros);
    }

    // ---- propagation and gradients ------------------------------------------------------------

    /// <summary>A small setup: graph, item-item graph, two modalities (one missing for some items).</summary>
    private sealed class Setup
    {
        public const int Users = 7, Items = 9, Dim = 4;
        public readonly int[] Offsets, Columns;
        public readonly SparseMatrix ItemGraph;
        public readonly List<(float[] Features, int Width, bool[] Has)> Modalities = [];

        public Setup(int seed)
        {
            (Offsets, Columns) = TestData.RandomGraph(Users, Items, 0.35, seed);
            var random = new Random(seed + 1);
            // A directed item-item graph with arbitrary positive weights (the trainer must use S and S^T correctly).
            var offsets = new int[Items + 1];
            var indices = new List<int>();
            var values = new List<float>();
            for (var i = 0; i < Items; i++)
            {
                foreach (var j in Enumerable.Range(0, Items).Where(j => j == i || random.NextDouble() < 0.3))
                {
                    indices.Add(j);
                    values.Add((float)(0.2 + random.NextDouble()));
                }
                offsets[i + 1] = indices.Count;
            }
            ItemGraph = new SparseMatrix(Items, Items, offsets, [.. indices], [.. values]);
            foreach (var (width, missing) in new[] { (5, -1), (3, 4) })
            {
                var has = Enumerable.Range(0, Items).Select(i => i % 4 != missing % 4 || missing < 0).ToArray();
                var features = new float[Items * width];
                for (var i = 0; i < Items; i++)
                    for (var a = 0; a < width; a++) features[i * width + a] = has[i] ? (float)(random.NextDouble() * 2 - 1) : 0;
                Modalities.Add((features, width, has));
            }
        }

        public FreedomTrainer Trainer(int layers, int itemLayers, double reg, double l2, double dropout = 0, bool tune = true, string device = "cpu") =>
            new(Users, Items, Offsets, Columns, ItemGraph, Modalities, new FreedomSettings(Dim, layers, itemLayers, dropout, reg, l2, tune, Seed: 3),
                ComputeDevices.Machine.Resolve("test", device));
    }

    /// <summary>The model's parameters in double precision, for the dense reference.</summary>
    private sealed class Parameters
    {
        public double[,] E = new double[0, 0];
        public List<(double[,] X, double[,] W, double[] B)> Modalities = [];

        public static Parameters Of(FreedomTrainer trainer, Setup setup)
        {
            var p = new Parameters { E = new double[Setup.Users + Setup.Items, Setup.Dim] };
            for (var x = 0; x < Setup.Users + Setup.Items; x++)
                for (var c = 0; c < Setup.Dim; c++)
                    p.E[x, c] = x < Setup.Users ? trainer.UserE0[x * Setup.Dim + c] : trainer.ItemE0[(x - Setup.Users) * Setup.Dim + c];
            for (var m = 0; m < setup.Modalities.Count; m++)
            {
                var width = setup.Modalities[m].Width;
                var xs = new double[Setup.Items, width];
                var ws = new double[width, Setup.Dim];
                for (var i = 0; i < Setup.Items; i++) for (var a = 0; a < width; a++) xs[i, a] = trainer.Features(m)[i * width + a];
                for (var a = 0; a < width; a++) for (var c = 0; c < Setup.Dim; c++) ws[a, c] = trainer.Projection(m)[a * Setup.Dim + c];
                p.Modalities.Add((xs, ws, trainer.Bias(m).Select(b => (double)b).ToArray()));
            }
            return p;
        }

        public Parameters Clone() => new()
        {
            E = (double[,])E.Clone(),
            Modalities = Modalities.Select(m => ((double[,])m.X.Clone(), (double[,])m.W.Clone(), (double[])m.B.Clone())).ToList(),
        };
    }

    /// <summary>Final vectors G: users F_u, items F_i + S^L' E_i, from the definition.</summary>
    private static double[,] ReferenceFinal(double[,] a, double[,] s, double[,] e, int layers, int itemLayers)
    {
        int n = e.GetLength(0), dim = e.GetLength(1), users = n - Setup.Items;
        // LightGCN's layer mean over the user-item graph, plus the item-item path.
        var sum = LightGcnTests.ReferenceFinal(a, e, layers);
        var h = new double[Setup.Items, dim];
        for (var i = 0; i < Setup.Items; i++) for (var c = 0; c < dim; c++) h[i, c] = e[users + i, c];
        for (var l = 0; l < itemLayers; l++)
        {
            var next = new double[Setup.Items, dim];
            for (var i = 0; i < Setup.Items; i++) for (var j = 0; j < Setup.Items; j++) for (var c = 0; c < dim; c++) next[i, c] += s[i, j] * h[j, c];
            h = next;
        }
        for (var i = 0; i < Setup.Items; i++) for (var c = 0; c < dim; c++) sum[users + i, c] += h[i, c];
        return sum;
    }

    private static double Softplus(double x) => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x));

    /// <summary>The batch loss from the definition (every triple weighs 1/B).</summary>
    private static double ReferenceLoss(double[,] a, double[,] s, Parameters p, int layers, int itemLayers, double reg, double l2, int[] u, int[] pos, int[] neg)
    {
        var g = ReferenceFinal(a, s, p.E, layers, itemLayers);
        const int dim = Setup.Dim, users = Setup.Users;
        double loss = 0;
        for (var t = 0; t < u.Length; t++)
        {
            double x = 0, norms = 0;
            for (var c = 0; c < dim; c++)
            {
                x += g[u[t], c] * (g[users + pos[t], c] - g[users + neg[t], c]);
                norms += p.E[u[t], c] * p.E[u[t], c] + p.E[users + pos[t], c] * p.E[users + pos[t], c] + p.E[users + neg[t], c] * p.E[users + neg[t], c];
            }
            loss += Softplus(-x) + l2 * 0.5 * norms;
            foreach (var (xs, ws, bs) in p.Modalities)
            {
                double margin = 0;
                for (var c = 0; c < dim; c++)
                {
                    double tp = bs[c], tn = bs[c];
                    for (var f = 0; f < ws.GetLength(0); f++)
                    {
                        tp += xs[pos[t], f] * ws[f, c];
                        tn += xs[neg[t], f] * ws[f, c];
                    }
                    margin += g[u[t], c] * (tp - tn);
                }
                loss += reg * Softplus(-margin);
            }
        }
        return loss / u.Length;
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("ilgpu-cpu")]
    public void ForwardMatchesTheDenseReference(string device)
    {
        var setup = new Setup(seed: 4);
        var a = LightGcnTests.DenseAdjacency(Setup.Users, Setup.Items, setup.Offsets, setup.Columns);
        var s = Dense(setup.ItemGraph);
        foreach (var (layers, itemLayers) in new[] { (0, 0), (2, 1), (3, 2), (1, 3) })
        {
            using var trainer = setup.Trainer(layers, itemLayers, 0.1, 0, device: device);
            trainer.Forward();
            var expected = ReferenceFinal(a, s, Parameters.Of(trainer, setup).E, layers, itemLayers);
            for (var x = 0; x < Setup.Users + Setup.Items; x++)
            {
                for (var c = 0; c < Setup.Dim; c++)
                {
                    var got = x < Setup.Users ? trainer.UserFinal[x * Setup.Dim + c] : trainer.ItemFinal[(x - Setup.Users) * Setup.Dim + c];
                    Assert.AreEqual(expected[x, c], got, 1e-5, $"{device} layers {layers}/{itemLayers}, node {x}, component {c}");
                }
            }
        }
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("ilgpu-cpu")]
    public void EveryGradientMatchesFiniteDifferences(string device)
    {
        foreach (var (layers, itemLayers, reg, l2) in new[] { (2, 1, 0.5, 0.05), (1, 2, 2.0, 0.0), (3, 0, 1.0, 0.01), (2, 3, 0.3, 0.02) })
        {
            var setup = new Setup(seed: 10);
            using var trainer = setup.Trainer(layers, itemLayers, reg, l2, device: device);
            // Larger embeddings than the initialisation, so the BPR terms are far from their linear regime.
            for (var x = 0; x < trainer.UserE0.Length; x++) trainer.UserE0[x] = trainer.UserE0[x] * 20 + 0.1f;
            for (var x = 0; x < trainer.ItemE0.Length; x++) trainer.ItemE0[x] = trainer.ItemE0[x] * 20 - 0.05f;
            for (var m = 0; m < 2; m++) for (var x = 0; x < trainer.Projection(m).Length; x++) trainer.Projection(m)[x] *= 3;
            int[] u = [0, 3, 3, 6, 5, 1];
            int[] pos = [.. u.Select((user, t) => setup.Columns[setup.Offsets[user] + t % (setup.Offsets[user + 1] - setup.Offsets[user])])];
            int[] neg = [2, 8, 4, 0, 7, 4];
            var loss = trainer.BatchGradient(u, pos, neg);
            var a = LightGcnTests.DenseAdjacency(Setup.Users, Setup.Items, setup.Offsets, setup.Columns);
            var s = Dense(setup.ItemGraph);
            var p = Parameters.Of(trainer, setup);
            double Loss(Parameters q) => ReferenceLoss(a, s, q, layers, itemLayers, reg, l2, u, pos, neg);
            Assert.AreEqual(Loss(p), loss, 1e-5 + 1e-6 * Math.Abs(loss), "batch loss");
            const double h = 1e-4;
            var real = 0;

            void Check(string what, Action<Parameters, double> nudge, double analytic)
            {
                var plus = p.Clone();
                nudge(plus, h);
                var minus = p.Clone();
                nudge(minus, -h);
                var numeric = (Loss(plus) - Loss(minus)) / (2 * h);
                Assert.AreEqual(numeric, analytic, 2e-2 * Math.Abs(numeric) + 2e-5, $"{device}: {what} (layers {layers}/{itemLayers})");
                if (Math.Abs(numeric) > 1e-4) real++;
            }

            foreach (var (node, c) in new[] { (0, 0), (3, 2), (5, 1), (6, 3), (2, 1), (Setup.Users + 2, 0), (Setup.Users + 4, 3), (Setup.Users + 8, 2), (Setup.Users + pos[0], 1), (Setup.Users + 6, 0) })
            {
                var analytic = node < Setup.Users ? trainer.UserGrad[node * Setup.Dim + c] : trainer.ItemGrad[(node - Setup.Users) * Setup.Dim + c];
                Check($"E[{node}, {c}]", (q, d) => q.E[node, c] += d, analytic);
            }
            for (var m = 0; m < 2; m++)
            {
                var width = setup.Modalities[m].Width;
                var modality = m;
                foreach (var (f, c) in new[] { (0, 0), (width - 1, 3), (1, 2) })
                    Check($"W{m}[{f}, {c}]", (q, d) => q.Modalities[modality].W[f, c] += d, trainer.ProjectionGrad(m)[f * Setup.Dim + c]);
                foreach (var c in new[] { 0, 3 })
                    Check($"b{m}[{c}]", (q, d) => q.Modalities[modality].B[c] += d, trainer.BiasGrad(m)[c]);
                foreach (var item in new[] { pos[1], neg[1], neg[3] })
                {
                    if (!setup.Modalities[m].Has[item]) continue;
                    foreach (var f in new[] { 0, width - 1 })
                        Check($"X{m}[{item}, {f}]", (q, d) => q.Modalities[modality].X[item, f] += d, trainer.FeatureGrad(m)[item * width + f]);
                }
            }
            Assert.IsGreaterThanOrEqualTo(20, real, "most checked entries have a real gradient");
        }
    }

    [TestMethod]
    public void FeaturesWithoutVectorsOrWhenFrozenGetNoGradient()
    {
        var setup = new Setup(seed: 2);
        var trainer = setup.Trainer(2, 1, 1.0, 0);
        var missing = Enumerable.Range(0, Setup.Items).First(i => !setup.Modalities[1].Has[i]);
        var user = Enumerable.Range(0, Setup.Users).First(u => !setup.Columns.AsSpan(setup.Offsets[u], setup.Offsets[u + 1] - setup.Offsets[u]).Contains(missing));
        trainer.BatchGradient([user], [setup.Columns[setup.Offsets[user]]], [missing]);
        Assert.IsTrue(trainer.FeatureGrad(1).AsSpan(missing * 3, 3).ToArray().All(g => g == 0), "an item without a vector keeps a zero row");
        var before = (float[])trainer.Features(1).Clone();
        trainer.AdamStep(0.1);
        CollectionAssert.AreEqual(before.AsSpan(missing * 3, 3).ToArray(), trainer.Features(1).AsSpan(missing * 3, 3).ToArray());
        var frozen = setup.Trainer(2, 1, 1.0, 0, tune: false);
        var features = (float[])frozen.Features(0).Clone();
        frozen.BatchGradient([0, 1], [setup.Columns[0], setup.Columns[setup.Offsets[1]]], [missing, missing]);
        frozen.AdamStep(0.1);
        CollectionAssert.AreEqual(features, frozen.Features(0), "tune_features false leaves the features as given");
        Assert.IsEmpty(frozen.FeatureGrad(0));
    }

    [TestMethod]
    public void AdamStepFollowsTheFormula()
    {
        var values = new float[] { 0.5f, -1f, 2f, 0f };
        var parameter = new AdamParameter((float[])values.Clone());
        var expected = values.Select(v => (double)v).ToArray();
        var m = new double[4];
        var v = new double[4];
        var random = new Random(3);
        for (var step = 1; step <= 3; step++)
        {
            for (var x = 0; x < 4; x++) parameter.Grad[x] = (float)(random.NextDouble() - 0.5);
            parameter.Step(0.01, step);
            for (var x = 0; x < 4; x++)
            {
                m[x] = 0.9 * m[x] + 0.1 * parameter.Grad[x];
                v[x] = 0.999 * v[x] + 0.001 * parameter.Grad[x] * parameter.Grad[x];
                expected[x] -= 0.01 * (m[x] / (1 - Math.Pow(0.9, step))) / (Math.Sqrt(v[x] / (1 - Math.Pow(0.999, step))) + 1e-8);
                Assert.AreEqual(expected[x], parameter.Values[x], 1e-6, $"step {step}, value {x}");
            }
        }
    }

    [TestMethod]
    public void EpochsSampleEveryPairOnceWithUnseenInteractedNegatives()
    {
        // A seed where no user holds every item but 8: with 8 dropped below, such a user would have no negative to draw.
        var setup = new Setup(seed: 6);
        var columns = setup.Columns;
        // Item 8 gets no pair: a cold item is never a negative.
        var offsets = (int[])setup.Offsets.Clone();
        var kept = new List<int>();
        for (var u = 0; u < Setup.Users; u++)
        {
            kept.AddRange(columns[setup.Offsets[u]..setup.Offsets[u + 1]].Where(i => i != 8));
            offsets[u + 1] = kept.Count;
        }
        var trainer = new FreedomTrainer(Setup.Users, Setup.Items, offsets, [.. kept], setup.ItemGraph, setup.Modalities,
            new FreedomSettings(Setup.Dim, 2, 1, 0.5, 0.1, 0, true, 7));
        var (users, positives, negatives) = trainer.SampleEpoch();
        var pairs = users.Zip(positives).Select(p => (p.First, p.Second)).Order().ToArray();
        var expected = Enumerable.Range(0, Setup.Users).SelectMany(u => kept[offsets[u]..offsets[u + 1]].Select(i => (u, i))).Order().ToArray();
        CollectionAssert.AreEqual(expected, pairs, "every training pair exactly once");
        for (var s = 0; s < users.Length; s++)
        {
            Assert.IsFalse(kept[offsets[users[s]]..offsets[users[s] + 1]].Contains(negatives[s]), "negatives are unseen");
            Assert.AreNotEqual(8, negatives[s], "cold items are never negatives");
        }
        trainer.PruneEdges();
        Assert.AreEqual(DegreePruning.KeptCount(kept.Count, 0.5), trainer.Graph.NonZeros);
        trainer.UseFullGraph();
        Assert.AreEqual(kept.Count, trainer.Graph.NonZeros);
    }

    [TestMethod]
    public void TrainingIsBitwiseDeterministicForASeedAndLowersTheLoss()
    {
        var (offsets, columns) = TestData.RandomGraph(60, 30, 0.15, seed: 9);
        var random = new Random(2);
        var features = Enumerable.Range(0, 30 * 8).Select(_ => (float)random.NextDouble()).ToArray();
        var itemGraph = ItemKnnGraph.Build(features, Enumerable.Repeat(true, 30).ToArray(), 8, 5, KnnMethod.Exact, 1);
        (float[], double, double) Run(int seed)
        {
            var trainer = new FreedomTrainer(60, 30, offsets, columns, itemGraph, [(features, 8, Enumerable.Repeat(true, 30).ToArray())],
                new FreedomSettings(8, 2, 1, 0.8, 0.01, 1e-4, true, seed));
            var first = trainer.Epoch(32, 0.01, null);
            double last = 0;
            for (var epoch = 0; epoch < 20; epoch++) last = trainer.Epoch(32, 0.01, null);
            trainer.Forward();
            return ([.. trainer.UserFinal, .. trainer.ItemFinal], first, last);
        }
        var (vectors, first, last) = Run(7);
        CollectionAssert.AreEqual(vectors, Run(7).Item1);
        CollectionAssert.AreNotEqual(vectors, Run(8).Item1);
        Assert.IsLessThan(first - 0.1, last, $"first {first}, last {last}");
    }

    [TestMethod]
    public void IlgpuTrainingFollowsTheManagedPathOnTheSameBatches()
    {
        // Pruned graphs each epoch (SetGraph), the item-item path and the modality terms, on both backends from the same seed.
        var setup = new Setup(seed: 5);
        using var managed = setup.Trainer(2, 1, 0.2, 1e-3, dropout: 0.5);
        using var ilgpu = setup.Trainer(2, 1, 0.2, 1e-3, dropout: 0.5, device: "ilgpu-cpu");
        Assert.AreEqual("ilgpu-cpu", ilgpu.Device.Split(':')[0]);
        CollectionAssert.AreEqual(managed.ItemE0, ilgpu.ItemE0, "same initialisation");
        for (var epoch = 0; epoch < 3; epoch++)
        {
            var a = managed.Epoch(4, 0.01, null);
            var b = ilgpu.Epoch(4, 0.01, null);
            Assert.AreEqual(a, b, 1e-4, $"epoch {epoch} loss");
            Assert.AreEqual(managed.Graph.NonZeros, ilgpu.Graph.NonZeros);
        }
        managed.Forward();
        ilgpu.Forward();
        // Same sampled batches and pruned graphs; only float rounding differs.
        for (var x = 0; x < managed.UserFinal.Length; x++) Assert.AreEqual(managed.UserFinal[x], ilgpu.UserFinal[x], 2e-3, $"user F[{x}]");
        for (var x = 0; x < managed.ItemFinal.Length; x++) Assert.AreEqual(managed.ItemFinal[x], ilgpu.ItemFinal[x], 2e-3, $"item F[{x}]");
        for (var x = 0; x < managed.Projection(0).Length; x++) Assert.AreEqual(managed.Projection(0)[x], ilgpu.Projection(0)[x], 2e-3, $"W[{x}]");
    }
}
