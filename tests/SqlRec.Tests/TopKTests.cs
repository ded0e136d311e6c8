using SqlRec.Compute;

namespace SqlRec.Tests;

/// <summary>The heap top-k against a plain sort-everything reference.</summary>
[TestClass]
public sealed class TopKTests
{
    [TestMethod]
    public void MatchesTheReferenceOnRandomInputsWithTiesNaNsAndExclusions()
    {
        var random = new Random(7);
        for (var trial = 0; trial < 500; trial++)
        {
            var n = random.Next(0, 200);
            var scores = new float[n];
            for (var i = 0; i < n; i++)
            {
                var roll = random.NextDouble();
                scores[i] = roll < 0.05 ? float.NaN : roll < 0.4 ? random.Next(0, 5) : (float)random.NextDouble();
                if (roll > 0.97) scores[i] = float.NegativeInfinity;
            }
            var excluded = Enumerable.Range(0, n).Where(_ => random.NextDouble() < 0.2).ToArray();
            var k = random.Next(1, 40);
            var result = new int[k];
            var count = TopK.Select(scores, k, excluded, result);
            CollectionAssert.AreEqual(TestData.TopK(scores, k, excluded), result[..count], $"trial {trial}: n={n} k={k}");
        }
    }

    [TestMethod]
    public void MatchesTheReferenceOnLongInputsWhereBlocksArePassedOver()
    {
        // Long vectors (the vector path passes over blocks of 8 that cannot enter the heap), in
        // random, rising and falling order, with ties, signed zeros, infinities, NaN and exclusions.
        var random = new Random(11);
        for (var trial = 0; trial < 300; trial++)
        {
            var n = random.Next(0, 5000);
            var scores = new float[n];
            var shape = trial % 3;
            for (var i = 0; i < n; i++)
            {
                var roll = random.NextDouble();
                scores[i] = roll < 0.02 ? float.NaN : roll < 0.04 ? -0f : roll < 0.06 ? 0f : roll < 0.3 ? random.Next(0, 20) : (float)random.NextDouble() * 20;
                if (roll > 0.995) scores[i] = random.Next(2) == 0 ? float.PositiveInfinity : float.NegativeInfinity;
                if (shape == 1 && roll >= 0.3) scores[i] = i * 0.01f;
                if (shape == 2 && roll >= 0.3) scores[i] = -i * 0.01f;
            }
            var excluded = Enumerable.Range(0, n).Where(_ => random.NextDouble() < 0.1).ToArray();
            var k = random.Next(1, 120);
            var result = new int[k];
            var count = TopK.Select(scores, k, excluded, result);
            CollectionAssert.AreEqual(TestData.TopK(scores, k, excluded), result[..count], $"trial {trial}: n={n} k={k}");
        }
    }

    [TestMethod]
    public void OrderSortsAsBetterDoesWithTiesZerosInfinitiesAndNaN()
    {
        var random = new Random(20);
        float[] specials = [float.NaN, -0f, 0f, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, float.Epsilon, -float.Epsilon, 1f, -1f];
        foreach (var length in new[] { 0, 1, 2, 17, 1000 })
        {
            var scores = new float[length];
            for (var i = 0; i < length; i++)
                scores[i] = random.Next(4) == 0 ? specials[random.Next(specials.Length)] : random.Next(3) == 0 ? random.Next(5) : (float)(random.NextDouble() * 200 - 100);
            var expected = Enumerable.Range(0, length).ToArray();
            Array.Sort(expected, (a, b) => TopK.Better(a, b, scores) ? -1 : TopK.Better(b, a, scores) ? 1 : 0);
            CollectionAssert.AreEqual(expected, TopK.Order(scores), $"length {length}");
        }
    }

    [TestMethod]
    public void OrderIsTheFullRanking()
    {
        float[] scores = [1, 3, float.NaN, 3, 2];
        CollectionAssert.AreEqual(new[] { 1, 3, 4, 0, 2 }, TopK.Order(scores));
        CollectionAssert.AreEqual(TestData.TopK(scores, 5), TopK.Order(scores));
    }

    [TestMethod]
    public void EmptyAndZeroCases()
    {
        var output = new int[3];
        Assert.AreEqual(0, TopK.Select([], 3, [], output));
        Assert.AreEqual(0, TopK.Select([1f, 2f], 0, [], output));
        Assert.AreEqual(0, TopK.Select([1f, 2f], 3, [0, 1], output));
    }
}
