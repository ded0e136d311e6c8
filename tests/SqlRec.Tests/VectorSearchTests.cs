using SqlRec.Compute;
using SqlRec.Models;
using SqlRec.Vectors;

namespace SqlRec.Tests;

/// <summary>
/// SqlRec's vector search kernels against plain references on small inputs: exact scoring for every
/// metric with candidates and exclusions, the filtered top-k, the int8 kernel, the quantized
/// first passes and the strict vector BLOB decoding.
/// </summary>
[TestClass]
public sealed class VectorSearchTests
{
    private static VectorSet Set(float[] data, int dimensions) =>
        new("collection 'test'", "item", new IdIndex(Enumerable.Range(0, data.Length / dimensions).Select(i => ExternalId.Of(i)).ToArray()), dimensions, data, VectorMetric.Dot);

    private static (int Index, double Score)[] Run(VectorSet set, float[] query, VectorMetric metric, int k, ItemFilter filter, Quantization quantize = Quantization.None, int rescore = 4) =>
        VectorSearch.Search(set, new SearchRequest(query, k, metric, quantize, rescore), filter).Select(h => (h.Index, (double)h.Score)).ToArray();

    [TestMethod]
    public void ExactSearchMatchesTheReferenceForEveryMetricWithFilters()
    {
        var random = new Random(11);
        foreach (var metric in Enum.GetValues<VectorMetric>())
        {
            for (var trial = 0; trial < 40; trial++)
            {
                var rows = random.Next(1, 300);
                var dimensions = random.Next(1, 40);
                var data = VectorTestData.VaryingLengths(rows, dimensions, 100 + trial);
                if (trial % 5 == 0) Array.Clear(data, 0, dimensions); // a zero vector
                var set = Set(data, dimensions);
                var query = VectorTestData.Gaussian(dimensions, 900 + trial);
                var k = random.Next(1, 30);
                var candidates = trial % 3 == 0 ? null : Enumerable.Range(0, rows).Where(_ => random.NextDouble() < 0.4).ToArray();
                var excluded = Enumerable.Range(0, rows).Where(_ => random.NextDouble() < 0.1).ToArray();
                var expected = VectorTestData.Reference(data, dimensions, query, metric, k, candidates, excluded);
                var actual = Run(set, query, metric, k, new ItemFilter(candidates, excluded));
                VectorTestData.AssertSameRanking(expected, actual, 1e-4 * (1 + Math.Abs(expected.FirstOrDefault().Score)), $"{metric} trial {trial}");
            }
        }
    }

    [TestMethod]
    public void LargeSetsTakeTheParallelPathAndStillMatch()
    {
        // 70,000 x 64 multiply-adds is above the single-core threshold.
        const int rows = 70_000, dimensions = 64;
        var data = VectorTestData.VaryingLengths(rows, dimensions, 5);
        var set = Set(data, dimensions);
        var query = VectorTestData.Gaussian(dimensions, 6);
        foreach (var metric in Enum.GetValues<VectorMetric>())
        {
            var expected = VectorTestData.Reference(data, dimensions, query, metric, 25);
            VectorTestData.AssertSameRanking(expected, Run(set, query, metric, 25, ItemFilter.None), 1e-3, metric.ToString());
        }
    }

    [TestMethod]
    public void FilteredResultsAreAlwaysFullWhenEnoughCandidatesRemain()
    {
        var data = VectorTestData.VaryingLengths(500, 8, 21);
        var set = Set(data, 8);
        var query = VectorTestData.Gaussian(8, 22);
        // Candidates far from the query: a KNN-then-filter would find none of them in its top 10.
        var far = VectorTestData.Reference(data, 8, query, VectorMetric.Dot, 500).TakeLast(12).Select(p => p.Index).Order().ToArray();
        var excluded = far[..2];
        var hits = Run(set, query, VectorMetric.Dot, 10, new ItemFilter(far, excluded));
        Assert.HasCount(10, hits);
        Assert.IsTrue(hits.All(h => far.Contains(h.Index) && !excluded.Contains(h.Index)));
        Assert.HasCount(3, Run(set, query, VectorMetric.Dot, 10, new ItemFilter(far[..5], excluded)), "fewer only when fewer remain");
        Assert.HasCount(500, Run(set, query, VectorMetric.Cosine, 5000, ItemFilter.None), "k beyond the set returns every row");
    }

    [TestMethod]
    public void SelectAmongEqualsSelectOverEveryIndexAndTheReferenceOverCandidates()
    {
        var random = new Random(3);
        for (var trial = 0; trial < 300; trial++)
        {
            var n = random.Next(0, 120);
            var scores = Enumerable.Range(0, n).Select(_ => random.NextDouble() < 0.1 ? float.NaN : random.Next(0, 6) / 2f).ToArray();
            var excluded = Enumerable.Range(0, n).Where(_ => random.NextDouble() < 0.2).ToArray();
            var candidates = Enumerable.Range(0, n).Where(_ => random.NextDouble() < 0.5).ToArray();
            var k = random.Next(1, 20);
            var all = new int[k];
            var among = new int[k];
            var select = TopK.Select(scores, k, excluded, all);
            CollectionAssert.AreEqual(all[..select], among[..TopK.SelectAmong(scores, Enumerable.Range(0, n).ToArray(), k, excluded, among)]);
            var expected = TestData.TopK(scores, k, excluded.Concat(Enumerable.Range(0, n).Except(candidates)));
            CollectionAssert.AreEqual(expected, among[..TopK.SelectAmong(scores, candidates, k, excluded, among)], $"trial {trial}");
        }
    }

    [TestMethod]
    public void Int8KernelEqualsThePlainLoop()
    {
        var random = new Random(8);
        foreach (var length in new[] { 1, 15, 16, 17, 31, 32, 33, 64, 100, 384, 1000 })
        {
            var query = Enumerable.Range(0, length).Select(_ => (short)random.Next(-2000, 2000)).ToArray();
            var code = Enumerable.Range(0, length).Select(_ => (sbyte)random.Next(-127, 128)).ToArray();
            Assert.AreEqual(Int8Codes.DotReference(query, code), Int8Codes.DotKernel(query, code), $"length {length}");
        }
    }

    [TestMethod]
    public void QuantizedSearchesReturnExactScoresAndFindTheExactNeighbours()
    {
        const int rows = 3000, dimensions = 48;
        var data = VectorTestData.VaryingLengths(rows, dimensions, 31);
        var set = Set(data, dimensions);
        foreach (var metric in Enum.GetValues<VectorMetric>())
        {
            foreach (var (quantize, rescore) in new[] { (Quantization.Int8, 4), (Quantization.Bit, 20) })
            {
                double found = 0;
                for (var q = 0; q < 20; q++)
                {
                    var query = VectorTestData.Gaussian(dimensions, 500 + q);
                    var exact = Run(set, query, metric, 10, ItemFilter.None);
                    var approximate = Run(set, query, metric, 10, ItemFilter.None, quantize, rescore);
                    Assert.HasCount(10, approximate);
                    // Every returned score is the exact one, and the order is the exact order of what was found.
                    var exactScores = VectorTestData.Reference(data, dimensions, query, metric, rows).ToDictionary(p => p.Index, p => p.Score);
                    foreach (var (index, score) in approximate) Assert.AreEqual(exactScores[index], score, 1e-3 * (1 + Math.Abs(score)));
                    for (var i = 1; i < approximate.Length; i++) Assert.IsGreaterThanOrEqualTo(approximate[i].Score, approximate[i - 1].Score);
                    found += approximate.Count(a => exact.Any(e => e.Index == a.Index)) / 10.0;
                }
                // Isotropic random data is the hardest case for a coarse first pass (48 sign bits
                // resolve angles coarsely); a random shortlist of 200 of 3000 would find 7%.
                Assert.IsGreaterThanOrEqualTo(quantize == Quantization.Int8 ? 0.95 : 0.6, found / 20, $"{metric} {quantize} recall@10 {found / 20}");
            }
        }
    }

    [TestMethod]
    public void QuantizedSearchHonoursCandidatesAndExclusions()
    {
        var data = VectorTestData.VaryingLengths(400, 16, 41);
        var set = Set(data, 16);
        var query = VectorTestData.Gaussian(16, 42);
        var candidates = Enumerable.Range(0, 400).Where(i => i % 7 == 0).ToArray();
        int[] excluded = [0, 7, 14];
        foreach (var quantize in new[] { Quantization.Int8, Quantization.Bit })
        {
            var hits = Run(set, query, VectorMetric.Cosine, 10, new ItemFilter(candidates, excluded), quantize, 1000);
            // A shortlist as large as the candidates makes the quantized search exact.
            var expected = VectorTestData.Reference(data, 16, query, VectorMetric.Cosine, 10, candidates, excluded);
            VectorTestData.AssertSameRanking(expected, hits, 1e-4, quantize.ToString());
        }
    }

    [TestMethod]
    public void VectorBlobsAreDecodedStrictly()
    {
        CollectionAssert.AreEqual(new[] { 1f, -2.5f }, VectorBlob.Decode("f", "'v'", (object)VectorTestData.Blob([1f, -2.5f])));
        void Fails(object? value, SqlRecException expected) =>
            Assert.AreEqual(expected.Message, Assert.ThrowsExactly<SqlRecException>(() => VectorBlob.Decode("f", "'v'", value)).Message);
        Fails(null, Errors.VectorNotBlob("f", "'v'", null));
        Fails("[1, 2]", Errors.VectorNotBlob("f", "'v'", "[1, 2]"));
        Fails(new byte[0], Errors.VectorBlobLength("f", "'v'", 0, VectorBlob.MaxDimensions));
        Fails(new byte[6], Errors.VectorBlobLength("f", "'v'", 6, VectorBlob.MaxDimensions));
        Fails(new byte[4 * 8193], Errors.VectorBlobLength("f", "'v'", 4 * 8193, VectorBlob.MaxDimensions));
        Fails(VectorTestData.Blob([1f, float.NaN]), Errors.VectorNotFinite("f", "'v'", 1, float.NaN));
        Fails(VectorTestData.Blob([float.NegativeInfinity]), Errors.VectorNotFinite("f", "'v'", 0, float.NegativeInfinity));
        Assert.AreEqual("f(): 'v' holds -Infinity at index 0 (0-based); every element must be a finite float32.", Errors.VectorNotFinite("f", "'v'", 0, float.NegativeInfinity).Message);
        CollectionAssert.AreEqual(VectorTestData.Blob([3f, 4f]), VectorBlob.Encode([3f, 4f]));
    }
}
