using SqlRec.Compute;
using SqlRec.Models;

namespace SqlRec.Tests;

/// <summary>The graph_filter model: kernels against plain dense references, quality, live rows, options.</summary>
[TestClass]
public sealed class GraphFilterTests
{
    // ---- reference implementations (plain loops, dense, double precision) ----------------------

    private static double[,] RandomBinary(int users, int items, double density, int seed)
    {
        var random = new Random(seed);
        var r = new double[users, items];
        for (var u = 0; u < users; u++)
        {
            r[u, random.Next(items)] = 1; // every user has at least one item
            for (var i = 0; i < items; i++) if (random.NextDouble() < density) r[u, i] = 1;
        }
        for (var i = 0; i < items; i++) r[random.Next(users), i] = 1; // and every item a user
        return r;
    }

    /// <summary>Each user picks items with probability proportional to 1/(rank+1): a few popular items, a long tail.</summary>
    private static double[,] PowerLawBinary(int users, int items, int perUser, int seed)
    {
        var random = new Random(seed);
        var cumulative = new double[items];
        for (var i = 0; i < items; i++) cumulative[i] = (i == 0 ? 0 : cumulative[i - 1]) + 1.0 / (i + 1);
        var r = new double[users, items];
        for (var u = 0; u < users; u++)
            for (var n = 0; n < perUser; n++)
            {
                var pick = Array.BinarySearch(cumulative, random.NextDouble() * cumulative[^1]);
                r[u, Math.Min(items - 1, pick < 0 ? ~pick : pick)] = 1;
            }
        for (var i = 0; i < items; i++) r[random.Next(users), i] = 1; // every item a user
        return r;
    }

    private static SparseMatrix ToSparse(double[,] dense)
    {
        int rows = dense.GetLength(0), columns = dense.GetLength(1);
        var offsets = new int[rows + 1];
        var indices = new List<int>();
        var values = new List<float>();
        for (var u = 0; u < rows; u++)
        {
            for (var i = 0; i < columns; i++)
            {
                if (dense[u, i] == 0) continue;
                indices.Add(i);
                values.Add((float)dense[u, i]);
            }
            offsets[u + 1] = indices.Count;
        }
        return new SparseMatrix(rows, columns, offsets, [.. indices], [.. values]);
    }

    /// <summary>GF-CF scores of every user, straight from the definition with dense matrices.</summary>
    private static double[,] ReferenceScores(double[,] r, int components, double alpha)
    {
        int m = r.GetLength(0), n = r.GetLength(1);
        var du = new double[m];
        var di = new double[n];
        for (var u = 0; u < m; u++) for (var i = 0; i < n; i++) { du[u] += r[u, i]; di[i] += r[u, i]; }
        var norm = new double[m, n];
        for (var u = 0; u < m; u++) for (var i = 0; i < n; i++) norm[u, i] = r[u, i] / Math.Sqrt(du[u]) / Math.Sqrt(di[i]);
        // P = R~^T R~ (item-item), and its top eigenvectors are R~'s top right singular vectors.
        var p = new double[n * n];
        for (var a = 0; a < n; a++) for (var b = 0; b < n; b++) for (var u = 0; u < m; u++) p[a * n + b] += norm[u, a] * norm[u, b];
        var (_, vectors) = ReferenceEigen(p, n);
        var scores = new double[m, n];
        for (var u = 0; u < m; u++)
        {
            for (var j = 0; j < n; j++)
            {
                double linear = 0, ideal = 0;
                for (var i = 0; i < n; i++)
                {
                    linear += r[u, i] * p[i * n + j];
                    double projection = 0;
                    for (var c = 0; c < components; c++) projection += vectors[i * n + c] * vectors[j * n + c];
                    ideal += r[u, i] / Math.Sqrt(di[i]) * projection * Math.Sqrt(di[j]);
                }
                scores[u, j] = linear + alpha * ideal;
            }
        }
        return scores;
    }

    /// <summary>Eigenvectors of a symmetric matrix by power iteration with deflation (independent of DenseMath).</summary>
    private static (double[] Values, double[] Vectors) ReferenceEigen(double[] a, int n)
    {
        var work = (double[])a.Clone();
        var values = new double[n];
        var vectors = new double[n * n];
        var random = new Random(1);
        for (var c = 0; c < n; c++)
        {
            var v = Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5).ToArray();
            double lambda = 0;
            for (var iteration = 0; iteration < 5000; iteration++)
            {
                var w = new double[n];
                for (var i = 0; i < n; i++) for (var j = 0; j < n; j++) w[i] += work[i * n + j] * v[j];
                var norm = Math.Sqrt(w.Sum(x => x * x));
                if (norm < 1e-300) break;
                for (var i = 0; i < n; i++) w[i] /= norm;
                lambda = norm;
                var change = w.Zip(v, (x, y) => Math.Abs(x - y)).Max();
                v = w;
                if (change < 1e-13) break;
            }
            values[c] = lambda;
            for (var i = 0; i < n; i++) vectors[i * n + c] = v[i];
            for (var i = 0; i < n; i++) for (var j = 0; j < n; j++) work[i * n + j] -= lambda * v[i] * v[j];
        }
        return (values, vectors);
    }

    // ---- kernels ---------------------------------------------------------------------------

    [TestMethod]
    public void FilterMatchesTheDenseReference()
    {
        var r = RandomBinary(users: 30, items: 12, density: 0.2, seed: 3);
        var raw = ToSparse(r);
        var probe = new GraphFilter(raw, null, 0, 0);
        foreach (var components in new[] { 0, 3, 12 })
        {
            const float alpha = 0.3f;
            float[]? vectors = null;
            if (components > 0)
            {
                // Oversampling past the matrix size makes the randomized SVD exact.
                var svd = RandomizedSvd.Compute(probe.Normalized, probe.NormalizedTransposed, components, 20, 2, seed: 5);
                Assert.AreEqual(components, svd.Components);
                vectors = svd.RightVectors;
            }
            var filter = new GraphFilter(raw, vectors, components, alpha);
            var expected = ReferenceScores(r, components, alpha);
            var scores = new float[12];
            for (var u = 0; u < 30; u++)
            {
                filter.Score(u, scores);
                for (var j = 0; j < 12; j++) Assert.AreEqual(expected[u, j], scores[j], 1e-4, $"components {components}, user {u}, item {j}");
            }
        }
    }

    [TestMethod]
    public void UnnormalizedLinearFilterIsGtesPropagation()
    {
        // GTE (Cai et al. 2023): item representations start as the identity, users at zero, and each
        // layer does U' = R I + U, I' = R^T U + I. Run its 3 layers literally, densely.
        var r = RandomBinary(users: 25, items: 10, density: 0.25, seed: 5);
        int m = 25, n = 10;
        var user = new double[m, n];
        var item = new double[n, n];
        for (var i = 0; i < n; i++) item[i, i] = 1;
        for (var layer = 0; layer < 3; layer++)
        {
            var nextUser = (double[,])user.Clone();
            var nextItem = (double[,])item.Clone();
            for (var u = 0; u < m; u++) for (var j = 0; j < n; j++) for (var i = 0; i < n; i++) nextUser[u, j] += r[u, i] * item[i, j];
            for (var i = 0; i < n; i++) for (var j = 0; j < n; j++) for (var u = 0; u < m; u++) nextItem[i, j] += r[u, i] * user[u, j];
            (user, item) = (nextUser, nextItem);
        }
        var filter = new GraphFilter(ToSparse(r), null, 0, 0, normalizeLinear: false);
        var scores = new float[n];
        for (var u = 0; u < m; u++)
        {
            filter.Score(u, scores);
            // Equal on every item the user has not interacted with (seen items are masked at ranking).
            for (var j = 0; j < n; j++) if (r[u, j] == 0) Assert.AreEqual(user[u, j], scores[j], 1e-4, $"user {u} item {j}");
        }
    }

    [TestMethod]
    public void RandomizedSvdFindsTheSingularValuesOfALowRankMatrix()
    {
        var r = RandomBinary(users: 200, items: 60, density: 0.1, seed: 11);
        var probe = new GraphFilter(ToSparse(r), null, 0, 0);
        var dense = new double[60 * 60];
        var n = probe.Normalized;
        for (var u = 0; u < n.Rows; u++)
            for (var p = n.Offsets[u]; p < n.Offsets[u + 1]; p++)
                for (var q = n.Offsets[u]; q < n.Offsets[u + 1]; q++) dense[n.Indices[p] * 60 + n.Indices[q]] += n.Values[p] * n.Values[q];
        var (values, _) = ReferenceEigen(dense, 60);
        var svd = RandomizedSvd.Compute(n, probe.NormalizedTransposed, components: 10, oversampling: 10, powerIterations: 10, seed: 2);
        for (var c = 0; c < 10; c++) Assert.AreEqual(Math.Sqrt(values[c]), svd.SingularValues[c], 2e-3 * Math.Sqrt(values[0]), $"sigma {c}");
        // The vectors are orthonormal.
        for (var a = 0; a < 10; a++)
            for (var b = 0; b < 10; b++)
            {
                double dot = 0;
                for (var i = 0; i < 60; i++) dot += svd.RightVectors[i * 10 + a] * svd.RightVectors[i * 10 + b];
                Assert.AreEqual(a == b ? 1 : 0, dot, 1e-3, $"v{a}.v{b}");
            }
    }

    [TestMethod]
    public void DenseKernelsMatchPlainLoops()
    {
        var random = new Random(4);
        const int rows = 500, width = 7;
        var y = Enumerable.Range(0, rows * width).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var gram = DenseMath.Gram(y, rows, width);
        for (var a = 0; a < width; a++)
            for (var b = 0; b < width; b++)
            {
                double expected = 0;
                for (var r = 0; r < rows; r++) expected += (double)y[r * width + a] * y[r * width + b];
                Assert.AreEqual(expected, gram[a * width + b], 1e-3, $"G[{a},{b}]");
            }
        var (values, vectors) = DenseMath.SymmetricEigen(gram, width);
        var (referenceValues, _) = ReferenceEigen(gram, width);
        for (var c = 0; c < width; c++) Assert.AreEqual(referenceValues[c], values[c], 1e-6 * referenceValues[0]);
        // G v = lambda v for every pair.
        for (var c = 0; c < width; c++)
            for (var i = 0; i < width; i++)
            {
                double gv = 0;
                for (var j = 0; j < width; j++) gv += gram[i * width + j] * vectors[j * width + c];
                Assert.AreEqual(values[c] * vectors[i * width + c], gv, 1e-6 * values[0]);
            }
        DenseMath.Orthonormalize(y, rows, width);
        var after = DenseMath.Gram(y, rows, width);
        for (var a = 0; a < width; a++)
            for (var b = 0; b < width; b++) Assert.AreEqual(a == b ? 1 : 0, after[a * width + b], 1e-4);
        // A rank-deficient block (a repeated column) falls back to SVQB and yields a zero column, not noise.
        var deficient = new float[rows * 2];
        for (var r = 0; r < rows; r++) deficient[r * 2] = deficient[r * 2 + 1] = (float)random.NextDouble();
        Assert.IsNull(DenseMath.InverseCholeskyTransposed(DenseMath.Gram(deficient, rows, 2), 2));
        DenseMath.Orthonormalize(deficient, rows, 2);
        var g = DenseMath.Gram(deficient, rows, 2);
        Assert.AreEqual(1, g[0] + g[3], 1e-4, "one unit column and one zero column");
    }

    [TestMethod]
    public void BlockedGramAndRightProductMatchRowByRow()
    {
        // Widths around the 4 x 16 register tiles (whole tiles, a column tail, a row tail, narrower than
        // one tile) and row counts that leave a partial panel and a partial block of 4.
        var random = new Random(20);
        foreach (var (rows, width, outWidth) in new[] { (131, 32, 32), (70, 37, 21), (9, 3, 5), (257, 288, 288), (6, 16, 48), (5, 20, 17) })
        {
            var y = Enumerable.Range(0, rows * width).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            var m = Enumerable.Range(0, width * outWidth).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            var plain = DenseMath.Gram(y, rows, width, blocked: false);
            var blocked = DenseMath.Gram(y, rows, width, blocked: true);
            for (var i = 0; i < plain.Length; i++) Assert.AreEqual(plain[i], blocked[i], 1e-4 * (1 + Math.Abs(plain[i])), $"{rows}x{width}: G at {i}");
            var (expected, actual) = (new float[rows * outWidth], new float[rows * outWidth]);
            DenseMath.MultiplyRight(y, rows, width, m, outWidth, expected, blocked: false);
            DenseMath.MultiplyRight(y, rows, width, m, outWidth, actual, blocked: true);
            for (var i = 0; i < expected.Length; i++) Assert.AreEqual(expected[i], actual[i], 1e-4 * (1 + Math.Abs(expected[i])), $"{rows}x{width}x{outWidth}: Y M at {i}");
            // Orthonormalisation's in-place product (square transforms), against the product into another array.
            var square = m.AsSpan(0, width * Math.Min(width, outWidth)).ToArray();
            if (outWidth < width) continue;
            var into = new float[rows * width];
            DenseMath.MultiplyRight(y, rows, width, square, width, into, blocked: false);
            var inPlace = (float[])y.Clone();
            DenseMath.MultiplyRightInPlace(inPlace, rows, width, square);
            for (var i = 0; i < into.Length; i++) Assert.AreEqual(into[i], inPlace[i], 1e-4 * (1 + Math.Abs(into[i])), $"{rows}x{width}: in place at {i}");
        }
    }

    [TestMethod]
    public void BlockedProductMatchesPlainLoops()
    {
        var random = new Random(12);
        foreach (var (users, items, k) in new[] { (7, 13, 16), (4, 4, 8), (9, 130, 24), (5, 6, 5), (1, 3, 256), (1, 130, 64), (3, 9, 64) })
        {
            var a = Enumerable.Range(0, users * k).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            var b = Enumerable.Range(0, items * k).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            var c = Enumerable.Range(0, users * items).Select(x => (float)x).ToArray();
            var expected = (float[])c.Clone();
            for (var u = 0; u < users; u++)
                for (var j = 0; j < items; j++)
                    for (var q = 0; q < k; q++) expected[u * items + j] += a[u * k + q] * b[j * k + q];
            DenseMath.MultiplyTransposedAdd(a, users, b, items, k, c);
            for (var i = 0; i < c.Length; i++) Assert.AreEqual(expected[i], c[i], 1e-3, $"{users}x{items}x{k} at {i}");
        }
    }

    /// <summary>P = R~^T R~ from the definition.</summary>
    private static double[] DenseP(double[,] r)
    {
        int m = r.GetLength(0), n = r.GetLength(1);
        var du = new double[m];
        var di = new double[n];
        for (var u = 0; u < m; u++) for (var i = 0; i < n; i++) { du[u] += r[u, i]; di[i] += r[u, i]; }
        var p = new double[n * n];
        for (var a = 0; a < n; a++)
            for (var b = 0; b < n; b++)
                for (var u = 0; u < m; u++) p[a * n + b] += r[u, a] * r[u, b] / du[u] / Math.Sqrt(di[a] * di[b]);
        return p;
    }

    /// <summary>
    /// BSPM's sharpening against the definition: GF-CF's scores y carried along dy/dt = -y P with
    /// classic RK4 in double on dense matrices; and batch scoring equals one user at a time.
    /// </summary>
    [TestMethod]
    public void SharpeningMatchesADenseRk4Reference()
    {
        var r = RandomBinary(users: 30, items: 12, density: 0.2, seed: 3);
        var raw = ToSparse(r);
        var probe = new GraphFilter(raw, null, 0, 0);
        var svd = RandomizedSvd.Compute(probe.Normalized, probe.NormalizedTransposed, 3, 20, 2, seed: 5);
        var filter = new GraphFilter(raw, svd.RightVectors, 3, 0.3f, true, sharpenTime: 2.5, sharpenSteps: 2);
        var start = ReferenceScores(r, 3, 0.3);
        var p = DenseP(r);
        const int n = 12;
        double[] Times(double[] y)
        {
            var result = new double[n];
            for (var j = 0; j < n; j++) for (var i = 0; i < n; i++) result[j] -= y[i] * p[i * n + j];
            return result;
        }
        double[] Plus(double[] y, double[] k, double h) => y.Select((v, i) => v + h * k[i]).ToArray();
        var scores = new float[n];
        for (var u = 0; u < 30; u++)
        {
            var y = Enumerable.Range(0, n).Select(j => start[u, j]).ToArray();
            const double h = 1.25;
            for (var step = 0; step < 2; step++)
            {
                var k1 = Times(y);
                var k2 = Times(Plus(y, k1, h / 2));
                var k3 = Times(Plus(y, k2, h / 2));
                var k4 = Times(Plus(y, k3, h));
                y = y.Select((v, i) => v + h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i])).ToArray();
            }
            filter.Score(u, scores);
            var scale = Math.Max(1e-3, y.Max(Math.Abs));
            for (var j = 0; j < n; j++) Assert.AreEqual(y[j], scores[j], 1e-4 * scale, $"user {u}, item {j}");
        }
        int[] users = [3, 0, 29, 17, 17, 8, 22, 11, 5, 1];
        var batch = new float[users.Length * n];
        filter.ScoreBatch(users, batch);
        for (var b = 0; b < users.Length; b++)
        {
            filter.Score(users[b], scores);
            for (var j = 0; j < n; j++) Assert.AreEqual(scores[j], batch[b * n + j], 1e-5, $"batch: user {users[b]} item {j}");
        }
    }

    /// <summary>
    /// recommend()'s top-k path (a floor from the best linear items, the Cauchy-Schwarz bound per
    /// item, the int8 ideal part with error bounds, exact rescoring of the shortlist) selects exactly
    /// the items and scores of the exact path, for many rows, k and exclusions, on uniform and on
    /// power-law (popularity-skewed) data, and does skip exact work for most items.
    /// </summary>
    [TestMethod]
    [DataRow(32, false)]
    [DataRow(24, false)]
    [DataRow(32, true)]
    public void TheShortlistPathSelectsExactlyWhatTheExactPathSelects(int components, bool skewed)
    {
        // 32 components take the int16 path where AVX2 is there; 24 (not a multiple of 16) the float one.
        var r = skewed ? PowerLawBinary(users: 300, items: 400, perUser: 16, seed: 8) : RandomBinary(users: 300, items: 400, density: 0.04, seed: 8);
        var raw = ToSparse(r);
        var probe = new GraphFilter(raw, null, 0, 0);
        var svd = RandomizedSvd.Compute(probe.Normalized, probe.NormalizedTransposed, components, 16, 3, seed: 2);
        var filter = new GraphFilter(raw, svd.RightVectors, svd.Components, 0.3f);
        var random = new Random(4);
        var exact = new float[400];
        var fast = new float[400];
        var skipped = 0L;
        var checkedRows = 0;
        for (var trial = 0; trial < 300; trial++)
        {
            var items = Enumerable.Range(0, 400).Where(_ => random.NextDouble() < 0.03).ToArray();
            if (items.Length == 0) continue;
            var weights = items.Select(_ => trial % 3 == 0 ? (float)(0.5 + random.NextDouble() * 3) : 1f).ToArray();
            var k = new[] { 1, 5, 20, 99 }[trial % 4];
            var excluded = trial % 2 == 0 ? items : Enumerable.Range(0, 400).Where(i => i % 7 == 0).Union(items).Order().ToArray();
            filter.ScoreRow(items, weights, exact);
            filter.ScoreRowForTop(items, weights, k, excluded, fast);
            var expectedTop = new int[k];
            var actualTop = new int[k];
            var expectedCount = TopK.Select(exact, k, excluded, expectedTop);
            var actualCount = TopK.Select(fast, k, excluded, actualTop);
            Assert.AreEqual(expectedCount, actualCount);
            CollectionAssert.AreEqual(expectedTop[..expectedCount], actualTop[..actualCount], $"trial {trial}, k {k}: exact {exact[expectedTop[0]]} / fast {fast[expectedTop[0]]}; chosen exact {exact[actualTop[0]]} / fast {fast[actualTop[0]]}");
            for (var i = 0; i < actualCount; i++) Assert.AreEqual(exact[actualTop[i]], fast[actualTop[i]], $"the score shown is the exact one (trial {trial})");
            skipped += Enumerable.Range(0, 400).Count(j => fast[j] != exact[j]);
            checkedRows++;
        }
        // A user of the training data (the snapshot path of recommend()) selects as the exact path too.
        for (var user = 0; user < 300; user += 7)
        {
            var seen = raw.RowIndices(user).ToArray();
            filter.Score(user, exact);
            filter.ScoreUserForTop(user, 10, seen, fast);
            var expectedTop = new int[10];
            var actualTop = new int[10];
            var expectedCount = TopK.Select(exact, 10, seen, expectedTop);
            Assert.AreEqual(expectedCount, TopK.Select(fast, 10, seen, actualTop));
            CollectionAssert.AreEqual(expectedTop[..expectedCount], actualTop[..expectedCount], $"user {user}");
            for (var i = 0; i < expectedCount; i++) Assert.AreEqual(exact[actualTop[i]], fast[actualTop[i]], $"user {user}: the score shown is the exact one");
        }
        Assert.IsGreaterThan(250, checkedRows);
        Assert.IsGreaterThan(checkedRows * 100L, skipped, $"most items skip the exact dot product ({skipped} of {checkedRows * 400L})");
    }

    /// <summary>
    /// An item of the row with weight 0 adds nothing: it once made every user it shares with a
    /// later item of the row count twice (the sum stayed 0, so the user was listed again).
    /// </summary>
    [TestMethod]
    public void AZeroWeightInTheRowAddsNothing()
    {
        var r = RandomBinary(users: 30, items: 12, density: 0.4, seed: 6);
        var filter = new GraphFilter(ToSparse(r), null, 0, 0);
        var shared = Enumerable.Range(0, 12).SelectMany(a => Enumerable.Range(a + 1, 11 - a).Select(b => (a, b)))
            .First(pair => Enumerable.Range(0, 30).Any(u => r[u, pair.a] != 0 && r[u, pair.b] != 0));
        var withZero = new float[12];
        var without = new float[12];
        filter.ScoreRow([shared.a, shared.b], [0f, 1f], withZero);
        filter.ScoreRow([shared.b], [1f], without);
        for (var j = 0; j < 12; j++) Assert.AreEqual(without[j], withZero[j], 1e-6 * Math.Abs(without[j]) + 1e-7, $"item {j}");
    }

    [TestMethod]
    public void BatchScoringEqualsOneUserAtATime()
    {
        var r = RandomBinary(users: 40, items: 50, density: 0.15, seed: 21);
        var raw = ToSparse(r);
        var probe = new GraphFilter(raw, null, 0, 0);
        var svd = RandomizedSvd.Compute(probe.Normalized, probe.NormalizedTransposed, 8, 8, 3, seed: 1);
        var filter = new GraphFilter(raw, svd.RightVectors, svd.Components, 0.3f);
        int[] users = [3, 0, 39, 17, 17, 8, 22];
        var batch = new float[users.Length * 50];
        filter.ScoreBatch(users, batch);
        var single = new float[50];
        for (var b = 0; b < users.Length; b++)
        {
            filter.Score(users[b], single);
            for (var j = 0; j < 50; j++) Assert.AreEqual(single[j], batch[b * 50 + j], 1e-5, $"user {users[b]} item {j}");
        }
    }

    [TestMethod]
    public void SparseKernelsMatchPlainLoops()
    {
        var r = RandomBinary(20, 15, 0.3, 8);
        var sparse = ToSparse(r);
        var transposed = sparse.Transpose();
        for (var u = 0; u < 20; u++)
            for (var i = 0; i < 15; i++)
            {
                var index = transposed.RowIndices(i).IndexOf(u);
                Assert.AreEqual(r[u, i], index < 0 ? 0 : transposed.RowValues(i)[index]);
            }
        var dense = Enumerable.Range(0, 15 * 3).Select(x => (float)x / 7).ToArray();
        var output = new float[20 * 3];
        sparse.MultiplyDense(dense, 3, output);
        for (var u = 0; u < 20; u++)
            for (var c = 0; c < 3; c++)
            {
                double expected = 0;
                for (var i = 0; i < 15; i++) expected += r[u, i] * dense[i * 3 + c];
                Assert.AreEqual(expected, output[u * 3 + c], 1e-4);
            }
    }

    // ---- from SQL --------------------------------------------------------------------------

    /// <summary>
    /// Users in 4 taste clusters of 15 items each, with a popular "bestseller" set that everyone
    /// touches; one held-out liked item per user.
    /// </summary>
    internal static TestDb ClusteredShop(int users = 240, int seed = 9, SqlRecOptions? options = null)
    {
        var db = TestDb.InMemory(options);
        db.Execute("CREATE TABLE train(user_id INTEGER, item_id INTEGER); CREATE TABLE heldout(user_id INTEGER, item_id INTEGER); CREATE INDEX train_user ON train(user_id)");
        var random = new Random(seed);
        using var transaction = db.Connection.BeginTransaction();
        for (var u = 0; u < users; u++)
        {
            var cluster = u % 4;
            var liked = Enumerable.Range(0, 15).Where(_ => random.NextDouble() < 0.45).Select(i => 100 * (cluster + 1) + i).ToList();
            if (liked.Count < 3) liked.AddRange([100 * (cluster + 1) + 14, 100 * (cluster + 1) + 13, 100 * (cluster + 1) + 12]);
            liked = liked.Distinct().ToList();
            var held = liked[random.Next(liked.Count)];
            foreach (var item in liked.Where(i => i != held)) Insert("train", u, item);
            Insert("heldout", u, held);
            foreach (var best in Enumerable.Range(0, 5).Where(_ => random.NextDouble() < 0.6)) Insert("train", u, best);
        }
        transaction.Commit();
        return db;

        void Insert(string table, int user, int item)
        {
            using var command = db.Connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"INSERT INTO {table} VALUES ($u, $i)";
            command.Parameters.AddWithValue("$u", user);
            command.Parameters.AddWithValue("$i", item);
            command.ExecuteNonQuery();
        }
    }

    private const string HitRate = "SELECT avg(EXISTS (SELECT 1 FROM recommend(h.user_id, 10, $1) r WHERE r.item_id = h.item_id)) FROM heldout h";

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void GraphFilterBeatsPopularityOnClusteredData()
    {
        using var db = ClusteredShop();
        db.Scalar("SELECT rec_train('pop', json_object('model','popular','source','SELECT user_id, item_id FROM train'))");
        db.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',8))");
        db.Scalar("SELECT rec_train('linear', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',0))");
        var popular = (double)db.Scalar(HitRate, "pop")!;
        var filter = (double)db.Scalar(HitRate, "gf")!;
        var linear = (double)db.Scalar(HitRate, "linear")!;
        Console.WriteLine($"hit rate@10: popular {popular:F3}, graph_filter {filter:F3}, linear only {linear:F3}");
        Assert.IsGreaterThan(popular + 0.3, filter, $"graph_filter {filter} vs popular {popular}");
        Assert.IsGreaterThan(popular + 0.3, linear);
        Assert.AreEqual("graph_filter", db.Scalar("SELECT DISTINCT source FROM recommend(0, 5, 'gf')"));
        var options = (string)db.Scalar("SELECT options FROM rec_models WHERE name = 'gf'")!;
        StringAssert.Contains(options, "\"components\":8");
        StringAssert.Contains(options, "\"alpha\":0.3");
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void TrainingIsDeterministicForASeed()
    {
        using var db = ClusteredShop(users: 80);
        db.Scalar("SELECT rec_train('a', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',6,'seed',7))");
        db.Scalar("SELECT rec_train('b', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',6,'seed',7))");
        var a = db.Rows("SELECT item_id, score FROM recommend(3, 20, 'a')");
        var b = db.Rows("SELECT item_id, score FROM recommend(3, 20, 'b')");
        Assert.HasCount(a.Count, b);
        for (var i = 0; i < a.Count; i++) CollectionAssert.AreEqual(a[i], b[i]);
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void NewInteractionsCountAtOnceWithoutRetraining()
    {
        using var db = ClusteredShop(users: 120);
        db.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',8))");
        var before = (string)db.Scalar("SELECT recommend(0, 5, 'gf')")!;
        var first = (long)db.Scalar("SELECT item_id FROM recommend(0, 1, 'gf')")!;
        // The user interacts with their top recommendation: it leaves the list at once.
        db.Execute("INSERT INTO train VALUES (0, $1)", first);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM recommend(0, 50, 'gf') WHERE item_id = $1", first));
        Assert.AreNotEqual(before, db.Scalar("SELECT recommend(0, 5, 'gf')"));
        // A brand-new user with a few cluster-2 items gets cluster-2 recommendations, not the popular fallback.
        db.Execute("INSERT INTO train VALUES (9999, 300), (9999, 301), (9999, 302)");
        var rows = db.Rows("SELECT item_id, source FROM recommend(9999, 5, 'gf')");
        Assert.IsTrue(rows.All(r => r[1] as string == "graph_filter"), "scored from the live row");
        Assert.IsGreaterThanOrEqualTo(4, rows.Count(r => (long)r[0]! / 100 == 3), string.Join(",", rows.Select(r => r[0])));
        Assert.IsFalse(rows.Any(r => (long)r[0]! is 300 or 301 or 302), "own items are excluded");
        // Items added after training are not scored (they enter at the next rec_train), and do not break serving.
        db.Execute("INSERT INTO train VALUES (9999, 777)");
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM recommend(9999, 100, 'gf') WHERE item_id = 777"));
        // A user whose rows are all gone falls back to popular.
        db.Execute("DELETE FROM train WHERE user_id = 5");
        Assert.AreEqual("popular", db.Scalar("SELECT DISTINCT source FROM recommend(5, 5, 'gf')"));
        // With live = false the model serves its training snapshot.
        db.Scalar("SELECT rec_train('snap', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',8,'live',json('false')))");
        db.Execute("INSERT INTO train VALUES (1, 101)");
        Assert.AreEqual("popular", db.Scalar("SELECT DISTINCT source FROM recommend(424242, 3, 'snap')"));
    }

    [TestMethod]
    [TestCategory("errors:recommend")]
    public void ALiveModelWhoseSourceIsGoneSaysSo()
    {
        using var db = ClusteredShop(users: 20);
        db.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',2))");
        db.Execute("ALTER TABLE train RENAME TO old_train");
        SqlRec.Operations.LoadedVersions.Clear();
        db.AssertError("SELECT recommend(1, 5, 'gf')", Errors.LiveSourceFailed("recommend", "gf", "no such table: train").Message);
        db.Execute("ALTER TABLE old_train RENAME TO train");
        Assert.AreEqual(5L, db.Scalar("SELECT count(*) FROM recommend(1, 5, 'gf')"));
    }

    [TestMethod]
    [TestCategory("errors:recommend")]
    public void AnInterruptWhileTheLiveRowsAreReadSaysInterruptedNotABrokenSource()
    {
        using var db = ClusteredShop(users: 20);
        // The source spins in a recursive CTE as long as cfg.spin says: 1 to train, then long enough for the interrupt to land mid-read.
        db.Execute("CREATE TABLE cfg(spin INTEGER); INSERT INTO cfg VALUES (1)");
        const string source = "SELECT user_id, item_id FROM train WHERE (WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < (SELECT spin FROM cfg)) SELECT max(n) FROM c) > 0";
        db.Scalar($"SELECT rec_train('gf', json_object('model','graph_filter','source','{source}','components',2))");
        Assert.AreEqual(5L, db.Scalar("SELECT count(*) FROM recommend(1, 5, 'gf')"));
        db.Execute("UPDATE cfg SET spin = 2000000000");
        foreach (var (sql, message) in new[]
        {
            ("SELECT recommend(1, 5, 'gf')", Errors.LiveReadInterrupted("recommend", "gf").Message),
            ("SELECT * FROM recommend(1, 5, 'gf')", Errors.LiveReadInterrupted("recommend", "gf").Message),
            ("SELECT * FROM rec_score('gf', 'SELECT 1 UNION ALL SELECT 2', 5)", Errors.ScoringInterrupted("rec_score", 0).Message),
        })
        {
            using var stop = new Timer(_ => SQLitePCL.raw.sqlite3_interrupt(db.Connection.Handle), null, TimeSpan.FromMilliseconds(300), Timeout.InfiniteTimeSpan);
            db.AssertError(sql, message);
        }
        // The connection serves again once the source is quick.
        db.Execute("UPDATE cfg SET spin = 1");
        Assert.AreEqual(5L, db.Scalar("SELECT count(*) FROM recommend(1, 5, 'gf')"));
    }

    [TestMethod]
    public void TheLiveQueryUsesTheSourceTablesIndex()
    {
        using var db = ClusteredShop(users: 20);
        var wrapped = SqlRec.Store.LiveRows.WrapSource("SELECT user_id, item_id FROM train;", 2);
        var plan = string.Join(" / ", db.Rows("EXPLAIN QUERY PLAN " + wrapped, 3L).Select(r => r[3]));
        StringAssert.Contains(plan, "USING INDEX train_user", plan);
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void AModelTooLargeForMemoryIsRefusedBeforeAnythingIsWritten()
    {
        using var db = ClusteredShop(users: 40, options: new SqlRecOptions { MemoryLimit = 10_000 });
        var users = (long)db.Scalar("SELECT count(DISTINCT user_id) FROM train")!;
        var items = (long)db.Scalar("SELECT count(DISTINCT item_id) FROM train")!;
        var width = Math.Min(8 + 32, Math.Min(users, items));
        db.AssertError("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',8))",
            Errors.ModelTooLarge("rec_train", "graph_filter", $"'components' 8 on {users:N0} users and {items:N0} items",
                (3 * items + 2 * users) * width * 4, 8_000, "lower 'components' (or 'oversampling'), or set 'components' to 0 for the linear filter alone").Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'rec_models'"));
        // The linear filter alone needs no SVD blocks.
        db.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',0))");
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void GraphFilterOptionErrors()
    {
        using var db = ClusteredShop(users: 20);
        string Train(string extra) => $"SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train'{extra}))";
        db.AssertError(Train(", 'components', -1"), Errors.OptionRange("rec_train", "components", "between 0 and 2048", "-1").Message);
        db.AssertError(Train(", 'components', 1.5"), Errors.OptionType("rec_train", "components", "an integer", "1.5").Message);
        db.AssertError(Train(", 'alpha', -0.1"), Errors.OptionRange("rec_train", "alpha", "between 0 and 1000", "-0.1").Message);
        db.AssertError(Train(", 'weighting', 'log'"), Errors.OptionRange("rec_train", "weighting", "one of 'binary', 'weight'", "\"log\"").Message);
        db.AssertError(Train(", 'normalization', 'row'"), Errors.OptionRange("rec_train", "normalization", "one of 'symmetric', 'none'", "\"row\"").Message);
        db.AssertError(Train(", 'live', 'yes'"), Errors.OptionType("rec_train", "live", "true or false", "the string \"yes\"").Message);
        db.AssertError(Train(", 'half_life_days', 3"), Errors.UnknownOption("rec_train", "half_life_days", "model kind 'graph_filter'",
            ["model", "source", "components", "alpha", "power_iterations", "oversampling", "seed", "weighting", "live", "normalization", "sharpen_time", "sharpen_steps"]).Message);
        db.AssertError(Train(", 'sharpen_time', -1"), Errors.OptionRange("rec_train", "sharpen_time", "between 0 and 100", "-1").Message);
        db.AssertError(Train(", 'sharpen_steps', 0"), Errors.OptionRange("rec_train", "sharpen_steps", "between 1 and 16", "0").Message);
        db.AssertError("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT 1, item_id FROM train'))",
            Errors.SourceTooSmall("rec_train", "graph_filter", "at least 2 users and 2 items").Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'rec_models'"));
    }
}
