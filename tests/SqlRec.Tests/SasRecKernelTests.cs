using SqlRec.Common;
using SqlRec.Compute;

namespace SqlRec.Tests;

/// <summary>
/// SASRec's kernels (<see cref="TransformerKernels"/>) against plain double-precision references
/// written from the definitions, and every backward pass against finite differences of a scalar
/// loss <c>sum(y * R)</c> with a fixed random R; then the whole network's backward pass
/// (<see cref="SasRecNetwork"/>) the same way, and the trainer's determinism for a seed.
/// </summary>
[TestClass]
public sealed class SasRecKernelTests
{
    private static float[] RandomFloats(int count, int seed, double scale = 1)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale))];
    }

    private static double Weighted(ReadOnlySpan<float> y, float[] r)
    {
        double sum = 0;
        for (var i = 0; i < r.Length; i++) sum += (double)y[i] * r[i];
        return sum;
    }

    private static void AssertClose(double expected, double actual, string what, double relative = 1e-4, double absolute = 1e-5) =>
        Assert.IsLessThanOrEqualTo(absolute + relative * Math.Abs(expected), Math.Abs(expected - actual), $"{what}: expected {expected}, got {actual}");

    /// <summary>Checks the analytic gradient of <paramref name="loss"/> w.r.t. every element of <paramref name="values"/> (at most <paramref name="limit"/>, spread) by central differences.</summary>
    private static void CheckFiniteDifferences(string what, float[] values, float[] analytic, Func<double> loss, int limit = 40, double epsilon = 1e-2)
    {
        var step = Math.Max(1, values.Length / limit);
        var checkedCount = 0;
        for (var i = 0; i < values.Length; i += step)
        {
            var keep = values[i];
            values[i] = keep + (float)epsilon;
            var plus = loss();
            values[i] = keep - (float)epsilon;
            var minus = loss();
            values[i] = keep;
            var numeric = (plus - minus) / (2 * epsilon);
            AssertClose(numeric, analytic[i], $"{what}[{i}]", 3e-2, 3e-3);
            checkedCount++;
        }
        Assert.IsGreaterThan(0, checkedCount);
    }

    // ---- references --------------------------------------------------------------------------

    private static double[] ReferenceLinear(float[] x, int rows, int inWidth, float[] w, float[] b, int outWidth)
    {
        var y = new double[rows * outWidth];
        for (var r = 0; r < rows; r++)
            for (var o = 0; o < outWidth; o++)
            {
                double sum = b[o];
                for (var k = 0; k < inWidth; k++) sum += (double)x[r * inWidth + k] * w[k * outWidth + o];
                y[r * outWidth + o] = sum;
            }
        return y;
    }

    private static double[] ReferenceLayerNorm(float[] x, int rows, int width, float[] gamma, float[] beta)
    {
        var y = new double[rows * width];
        for (var r = 0; r < rows; r++)
        {
            double mean = 0, variance = 0;
            for (var i = 0; i < width; i++) mean += x[r * width + i];
            mean /= width;
            for (var i = 0; i < width; i++) variance += Math.Pow(x[r * width + i] - mean, 2);
            variance /= width;
            for (var i = 0; i < width; i++)
                y[r * width + i] = (x[r * width + i] - mean) / Math.Sqrt(variance + TransformerKernels.LayerNormEpsilon) * gamma[i] + beta[i];
        }
        return y;
    }

    private static double[] ReferenceAttention(float[] q, float[] k, float[] v, int rows, int width, int heads)
    {
        var dh = width / heads;
        var output = new double[rows * width];
        for (var h = 0; h < heads; h++)
            for (var t = 0; t < rows; t++)
            {
                var scores = new double[t + 1];
                for (var j = 0; j <= t; j++)
                {
                    double dot = 0;
                    for (var c = 0; c < dh; c++) dot += (double)q[t * width + h * dh + c] * k[j * width + h * dh + c];
                    scores[j] = dot / Math.Sqrt(dh);
                }
                var max = scores.Max();
                var exps = scores.Select(s => Math.Exp(s - max)).ToArray();
                var sum = exps.Sum();
                for (var j = 0; j <= t; j++)
                    for (var c = 0; c < dh; c++) output[t * width + h * dh + c] += exps[j] / sum * v[j * width + h * dh + c];
            }
        return output;
    }

    private static double[] ReferenceFeedForward(float[] x, int rows, int width, int hidden, float[] w1, float[] b1, float[] w2, float[] b2)
    {
        var a = ReferenceLinear(x, rows, width, w1, b1, hidden).Select(v => (float)Math.Max(0, v)).ToArray();
        return ReferenceLinear(a, rows, hidden, w2, b2, width);
    }

    private static void AssertMatches(double[] expected, ReadOnlySpan<float> actual, string what)
    {
        for (var i = 0; i < expected.Length; i++) AssertClose(expected[i], actual[i], $"{what}[{i}]");
    }

    // ---- dense layer -------------------------------------------------------------------------

    [TestMethod]
    public void LinearMatchesReferenceAndFiniteDifferences()
    {
        const int rows = 5, inWidth = 7, outWidth = 6;
        var x = RandomFloats(rows * inWidth, 1);
        var w = RandomFloats(inWidth * outWidth, 2);
        var b = RandomFloats(outWidth, 3);
        var r = RandomFloats(rows * outWidth, 4);
        var y = new float[rows * outWidth];
        TransformerKernels.LinearForward(x, rows, inWidth, w, b, outWidth, y);
        AssertMatches(ReferenceLinear(x, rows, inWidth, w, b, outWidth), y, "y");

        var dx = new float[x.Length];
        var dw = new float[w.Length];
        var db = new float[b.Length];
        TransformerKernels.LinearBackward(x, rows, inWidth, w, outWidth, r, dx, dw, db);
        double Loss()
        {
            TransformerKernels.LinearForward(x, rows, inWidth, w, b, outWidth, y);
            return Weighted(y, r);
        }
        CheckFiniteDifferences("dx", x, dx, Loss);
        CheckFiniteDifferences("dw", w, dw, Loss);
        CheckFiniteDifferences("db", b, db, Loss);

        // Backward adds: a second call doubles every gradient.
        var dw2 = (float[])dw.Clone();
        TransformerKernels.LinearBackward(x, rows, inWidth, w, outWidth, r, dx, dw2, new float[outWidth]);
        for (var i = 0; i < dw.Length; i++) AssertClose(2 * dw[i], dw2[i], $"accumulated dw[{i}]");
    }

    // ---- layer norm --------------------------------------------------------------------------

    [TestMethod]
    public void LayerNormMatchesReferenceAndFiniteDifferences()
    {
        const int rows = 4, width = 8;
        var x = RandomFloats(rows * width, 5, 2);
        var gamma = RandomFloats(width, 6).Select(g => g + 1).ToArray();
        var beta = RandomFloats(width, 7);
        var r = RandomFloats(rows * width, 8);
        var y = new float[rows * width];
        var mean = new float[rows];
        var rstd = new float[rows];
        TransformerKernels.LayerNormForward(x, rows, width, gamma, beta, y, mean, rstd);
        AssertMatches(ReferenceLayerNorm(x, rows, width, gamma, beta), y, "y");

        var dx = new float[x.Length];
        var dGamma = new float[width];
        var dBeta = new float[width];
        TransformerKernels.LayerNormBackward(x, rows, width, gamma, mean, rstd, r, dx, dGamma, dBeta);
        double Loss()
        {
            TransformerKernels.LayerNormForward(x, rows, width, gamma, beta, y, mean, rstd);
            return Weighted(y, r);
        }
        CheckFiniteDifferences("dx", x, dx, Loss, epsilon: 3e-3);
        CheckFiniteDifferences("dgamma", gamma, dGamma, Loss);
        CheckFiniteDifferences("dbeta", beta, dBeta, Loss);
    }

    // ---- attention ---------------------------------------------------------------------------

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    public void CausalAttentionMatchesReferenceAndFiniteDifferences(int heads)
    {
        const int rows = 6, width = 8;
        var q = RandomFloats(rows * width, 9);
        var k = RandomFloats(rows * width, 10);
        var v = RandomFloats(rows * width, 11);
        var r = RandomFloats(rows * width, 12);
        var probs = new float[heads * rows * rows];
        var output = new float[rows * width];
        TransformerKernels.CausalAttentionForward(q, k, v, rows, width, heads, probs, output);
        AssertMatches(ReferenceAttention(q, k, v, rows, width, heads), output, "output");
        // Causal: nothing above the diagonal, every row a distribution.
        for (var h = 0; h < heads; h++)
            for (var t = 0; t < rows; t++)
            {
                var row = probs.AsSpan((h * rows + t) * rows, rows);
                for (var j = t + 1; j < rows; j++) Assert.AreEqual(0f, row[j]);
                AssertClose(1, row.ToArray().Sum(p => (double)p), $"head {h} row {t} sums to 1");
            }
        // The first position sees only itself: its output is its own value.
        for (var c = 0; c < width; c++) AssertClose(v[c], output[c], $"output[0, {c}]");

        var dq = new float[q.Length];
        var dk = new float[k.Length];
        var dv = new float[v.Length];
        TransformerKernels.CausalAttentionBackward(q, k, v, rows, width, heads, probs, r, dq, dk, dv, new float[rows]);
        double Loss()
        {
            TransformerKernels.CausalAttentionForward(q, k, v, rows, width, heads, probs, output);
            return Weighted(output, r);
        }
        CheckFiniteDifferences("dq", q, dq, Loss);
        CheckFiniteDifferences("dk", k, dk, Loss);
        CheckFiniteDifferences("dv", v, dv, Loss);
    }

    // ---- feed-forward ------------------------------------------------------------------------

    [TestMethod]
    public void FeedForwardMatchesReferenceAndFiniteDifferences()
    {
        const int rows = 5, width = 6, hidden = 6;
        var x = RandomFloats(rows * width, 13);
        var w1 = RandomFloats(width * hidden, 14);
        var b1 = RandomFloats(hidden, 15, 0.2);
        var w2 = RandomFloats(hidden * width, 16);
        var b2 = RandomFloats(width, 17);
        var r = RandomFloats(rows * width, 18);
        var activations = new float[rows * hidden];
        var y = new float[rows * width];
        TransformerKernels.FeedForwardForward(x, rows, width, hidden, w1, b1, w2, b2, activations, y);
        AssertMatches(ReferenceFeedForward(x, rows, width, hidden, w1, b1, w2, b2), y, "y");
        Assert.IsTrue(activations.Any(a => a == 0) && activations.Any(a => a > 0), "the ReLU cuts some units and passes others");

        var dx = new float[x.Length];
        var dw1 = new float[w1.Length];
        var db1 = new float[b1.Length];
        var dw2 = new float[w2.Length];
        var db2 = new float[b2.Length];
        TransformerKernels.FeedForwardBackward(x, rows, width, hidden, w1, w2, activations, r, dx, dw1, db1, dw2, db2, new float[rows * hidden]);
        double Loss()
        {
            TransformerKernels.FeedForwardForward(x, rows, width, hidden, w1, b1, w2, b2, activations, y);
            return Weighted(y, r);
        }
        // Small steps: a step must not carry a unit across the ReLU's kink.
        CheckFiniteDifferences("dx", x, dx, Loss, epsilon: 1e-3);
        CheckFiniteDifferences("dw1", w1, dw1, Loss, epsilon: 1e-3);
        CheckFiniteDifferences("db1", b1, db1, Loss, epsilon: 1e-3);
        CheckFiniteDifferences("dw2", w2, dw2, Loss, epsilon: 1e-3);
        CheckFiniteDifferences("db2", b2, db2, Loss, epsilon: 1e-3);
    }

    // ---- dropout -----------------------------------------------------------------------------

    [TestMethod]
    public void DropoutKeepsTheExpectationAndRecordsItsMask()
    {
        var values = Enumerable.Repeat(1f, 20_000).ToArray();
        var mask = new float[values.Length];
        var random = new SplitMix64(3);
        TransformerKernels.Dropout(values, mask, 0.25f, ref random);
        var kept = mask.Count(m => m != 0) / (double)mask.Length;
        Assert.IsTrue(kept is > 0.73 and < 0.77, $"kept share {kept}");
        AssertClose(1, values.Average(v => (double)v), "mean after dropout", 0, 0.02);
        CollectionAssert.AreEqual(mask, values, "values are scaled by their mask");

        var untouched = RandomFloats(10, 4);
        var copy = (float[])untouched.Clone();
        TransformerKernels.Dropout(untouched, mask, 0, ref random);
        CollectionAssert.AreEqual(copy, untouched, "rate 0 changes nothing");
    }

    // ---- the whole network -------------------------------------------------------------------

    [TestMethod]
    [DataRow(1, 3)]
    [DataRow(2, 5)]
    public void NetworkBackwardMatchesFiniteDifferences(int heads, int length)
    {
        var shape = new SasRecShape(Dim: 8, Heads: heads, Blocks: 2, MaxLength: 5);
        const int items = 7;
        var parameters = new float[shape.Count];
        var random = new SplitMix64(11);
        shape.Initialize(parameters, ref random);
        // Layer norms away from 1 / 0 so that their gradients are not special.
        var jitter = RandomFloats(shape.Count, 19, 0.1);
        for (var i = 0; i < parameters.Length; i++) parameters[i] += jitter[i];
        var itemVectors = RandomFloats(items * shape.Dim, 20, 0.5);
        int[] sequence = [.. new[] { 3, 1, 4, 1, 5 }.Take(length)];
        var workspace = new SasRecWorkspace(shape);
        var r = RandomFloats(length * shape.Dim, 21);
        double Loss()
        {
            var noDropout = new SplitMix64(0);
            SasRecNetwork.Forward(sequence, itemVectors, parameters, workspace, 0, ref noDropout);
            return Weighted(workspace.Output.AsSpan(0, length * shape.Dim), r);
        }
        Loss();
        var dParameters = new float[shape.Count];
        SasRecNetwork.Backward(parameters, workspace, r, dParameters);
        var dItems = new float[itemVectors.Length];
        for (var t = 0; t < length; t++)
            for (var c = 0; c < shape.Dim; c++) dItems[sequence[t] * shape.Dim + c] += workspace.DX[t * shape.Dim + c];
        CheckFiniteDifferences("parameters", parameters, dParameters, Loss, limit: 150, epsilon: 2e-3);
        CheckFiniteDifferences("item vectors", itemVectors, dItems, Loss, limit: 56, epsilon: 2e-3);
        // Positions the sequence does not reach get no gradient (right-aligned: the first MaxLength - length).
        for (var i = 0; i < (shape.MaxLength - length) * shape.Dim; i++) Assert.AreEqual(0f, dParameters[i], $"position gradient {i}");
    }

    [TestMethod]
    public void NetworkIsCausal()
    {
        // The hidden vector at position t depends only on items 0..t: changing the last item leaves the others alone.
        var shape = new SasRecShape(Dim: 8, Heads: 2, Blocks: 2, MaxLength: 6);
        var parameters = new float[shape.Count];
        var random = new SplitMix64(5);
        shape.Initialize(parameters, ref random);
        var itemVectors = RandomFloats(10 * shape.Dim, 22);
        var a = new SasRecWorkspace(shape);
        var b = new SasRecWorkspace(shape);
        var none = new SplitMix64(0);
        SasRecNetwork.Forward([1, 2, 3, 4], itemVectors, parameters, a, 0, ref none);
        SasRecNetwork.Forward([1, 2, 3, 9], itemVectors, parameters, b, 0, ref none);
        CollectionAssert.AreEqual(a.Output.AsSpan(0, 3 * shape.Dim).ToArray(), b.Output.AsSpan(0, 3 * shape.Dim).ToArray());
        CollectionAssert.AreNotEqual(a.Output.AsSpan(3 * shape.Dim, shape.Dim).ToArray(), b.Output.AsSpan(3 * shape.Dim, shape.Dim).ToArray());
    }

    // ---- trainer -----------------------------------------------------------------------------

    private static int[][] Sequences(int users, int items, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, users).Select(u =>
        {
            var start = random.Next(items);
            return Enumerable.Range(0, 2 + random.Next(8)).Select(t => (start + t) % items).ToArray();
        })];
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(4)]
    public void TrainerLearnsAndIsDeterministic(int negatives)
    {
        var shape = new SasRecShape(Dim: 16, Heads: 1, Blocks: 1, MaxLength: 8);
        var settings = new SasRecSettings(shape, 0.1f, 0.01, 0, negatives, 16, 7, true);
        var sequences = Sequences(60, 20, 1);
        var first = new SasRecTrainer(settings, 20, sequences, null, null, 0);
        var second = new SasRecTrainer(settings, 20, sequences, null, null, 0);
        var losses = new List<double>();
        for (var e = 1; e <= 15; e++)
        {
            losses.Add(first.Epoch(e));
            second.Epoch(e);
        }
        CollectionAssert.AreEqual(first.Parameters, second.Parameters, "the same seed gives the same parameters, bit for bit");
        Assert.IsLessThan(losses[0] * 0.8, losses[^1], $"the loss falls: {string.Join(", ", losses.Select(l => l.ToString("F3")))}");
    }

    [TestMethod]
    public void TextAdapterGetsTheItemVectorsGradient()
    {
        // Without ID embeddings every item vector is T_i Wa + ba: one step must move the adapter and give
        // items with the same text the same vector.
        var shape = new SasRecShape(Dim: 8, Heads: 1, Blocks: 1, MaxLength: 4);
        var settings = new SasRecSettings(shape, 0, 0.01, 0, 1, 8, 3, UseIdEmbedding: false);
        const int items = 6, textDim = 5;
        var text = RandomFloats(items * textDim, 23);
        text.AsSpan(0, textDim).CopyTo(text.AsSpan(5 * textDim, textDim));
        var trainer = new SasRecTrainer(settings, items, [[0, 1, 2], [2, 3, 4], [1, 2, 3]], text, Enumerable.Repeat(true, items).ToArray(), textDim);
        Assert.AreEqual(shape.Count + textDim * shape.Dim + shape.Dim, trainer.Parameters.Length);
        var before = (float[])trainer.Parameters.Clone();
        trainer.Epoch(1);
        Assert.IsTrue(trainer.Parameters.AsSpan(shape.Count).ToArray().Zip(before.AsSpan(shape.Count).ToArray()).Any(p => p.First != p.Second), "the adapter trains");
        CollectionAssert.AreEqual(trainer.ItemVectors.AsSpan(0, shape.Dim).ToArray(), trainer.ItemVectors.AsSpan(5 * shape.Dim, shape.Dim).ToArray());
    }
}
