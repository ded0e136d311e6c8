using SqlRec.Compute;
using SqlRec.Models;

namespace SqlRec.Tests;

/// <summary>
/// The <c>ease</c> kind: the blocked Cholesky inverse against Gauss-Jordan, the model's scores from
/// SQL against a plain dense EASE, live rows, and its errors.
/// </summary>
[TestClass]
public sealed class EaseTests
{
    /// <summary>A plain reference: the inverse by Gauss-Jordan elimination with partial pivoting.</summary>
    private static double[] GaussJordanInverse(double[] matrix, int n)
    {
        var a = (double[])matrix.Clone();
        var inverse = new double[n * n];
        for (var i = 0; i < n; i++) inverse[i * n + i] = 1;
        for (var column = 0; column < n; column++)
        {
            var pivotRow = column;
            for (var r = column + 1; r < n; r++)
                if (Math.Abs(a[r * n + column]) > Math.Abs(a[pivotRow * n + column])) pivotRow = r;
            for (var c = 0; c < n; c++)
            {
                (a[column * n + c], a[pivotRow * n + c]) = (a[pivotRow * n + c], a[column * n + c]);
                (inverse[column * n + c], inverse[pivotRow * n + c]) = (inverse[pivotRow * n + c], inverse[column * n + c]);
            }
            var pivot = a[column * n + column];
            for (var c = 0; c < n; c++)
            {
                a[column * n + c] /= pivot;
                inverse[column * n + c] /= pivot;
            }
            for (var r = 0; r < n; r++)
            {
                if (r == column) continue;
                var factor = a[r * n + column];
                if (factor == 0) continue;
                for (var c = 0; c < n; c++)
                {
                    a[r * n + c] -= factor * a[column * n + c];
                    inverse[r * n + c] -= factor * inverse[column * n + c];
                }
            }
        }
        return inverse;
    }

    /// <summary>A random symmetric positive definite matrix: M M^T / n + shift I.</summary>
    private static double[] RandomSpd(int n, int seed, double shift)
    {
        var random = new Random(seed);
        var m = new double[n * n];
        for (var i = 0; i < m.Length; i++) m[i] = random.NextDouble() * 2 - 1;
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++)
            {
                var sum = 0.0;
                for (var k = 0; k < n; k++) sum += m[i * n + k] * m[j * n + k];
                a[i * n + j] = sum / n + (i == j ? shift : 0);
            }
        return a;
    }

    /// <summary>Sizes below, at and past the block size and the row groups, so every edge of the blocking runs.</summary>
    [TestMethod]
    [DataRow(1)]
    [DataRow(7)]
    [DataRow(96)]
    [DataRow(97)]
    [DataRow(250)]
    public void TheBlockedInverseEqualsGaussJordan(int n)
    {
        var a = RandomSpd(n, seed: n, shift: 0.05);
        var expected = GaussJordanInverse(a, n);
        var actual = (double[])a.Clone();
        // Only the lower triangle may be read: spoil the upper one.
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++) actual[i * n + j] = double.NaN;
        var steps = new List<long>();
        Assert.IsTrue(SpdInverse.Invert(actual, n, (done, total) => steps.Add(done)));
        var scale = expected.Max(Math.Abs);
        for (var i = 0; i < n * n; i++)
            Assert.AreEqual(expected[i], actual[i], 1e-10 * scale, $"entry ({i / n}, {i % n}) of {n} x {n}");
        CollectionAssert.AreEqual(steps.Order().ToList(), steps, "progress only goes forward");
        Assert.AreEqual(3L * ((n + 95) / 96), steps[^1], "progress ends at its total");
    }

    [TestMethod]
    public void AMatrixThatIsNotPositiveDefiniteIsRefused()
    {
        var a = RandomSpd(20, seed: 3, shift: 0.05);
        a[5 * 20 + 5] = -1;
        Assert.IsFalse(SpdInverse.Invert(a, 20));
        Assert.IsFalse(SpdInverse.Invert(new double[4], 2), "a zero matrix");
    }

    /// <summary>The ILGPU path (Gauss-Jordan kernels, here on ILGPU's CPU accelerator) against the plain reference.</summary>
    [TestMethod]
    [DataRow(1)]
    [DataRow(7)]
    [DataRow(40)]
    public void TheGpuInverseEqualsGaussJordan(int n)
    {
        var a = RandomSpd(n, seed: n + 1, shift: 0.05);
        var expected = GaussJordanInverse(a, n);
        var actual = (double[])a.Clone();
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++) actual[i * n + j] = double.NaN;
        var steps = new List<long>();
        Assert.IsTrue(IlgpuSpdInverse.Invert(ComputeDevice.IlgpuCpu.Ilgpu!, actual, n, (done, total) => steps.Add(done)));
        var scale = expected.Max(Math.Abs);
        for (var i = 0; i < n * n; i++)
            Assert.AreEqual(expected[i], actual[i], 1e-10 * scale, $"entry ({i / n}, {i % n}) of {n} x {n}");
        CollectionAssert.AreEqual(steps.Order().ToList(), steps, "progress only goes forward");
        Assert.AreEqual(n, steps[^1], "progress ends at its total");
    }

    [TestMethod]
    public void TheGpuInverseRefusesAMatrixThatIsNotPositiveDefinite()
    {
        var a = RandomSpd(20, seed: 3, shift: 0.05);
        a[5 * 20 + 5] = -1;
        Assert.IsFalse(IlgpuSpdInverse.Invert(ComputeDevice.IlgpuCpu.Ilgpu!, a, 20));
        Assert.IsFalse(IlgpuSpdInverse.Invert(ComputeDevice.IlgpuCpu.Ilgpu!, new double[4], 2), "a zero matrix");
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void EaseOnTheGpuKernelsRanksAsOnTheCpu()
    {
        if (ExtensionHost.Enabled)
            Assert.Inconclusive("ILGPU compiles its kernels with a JIT, which the loadable extension has none of; ExtensionTests checks that it says so");
        using var db = Shop();
        db.Scalar("SELECT rec_train('cpu', json_object('model', 'ease', 'source', 'SELECT user_id, item_id FROM train', 'lambda', 5, 'device', 'cpu'))");
        db.Scalar("SELECT rec_train('gpu', json_object('model', 'ease', 'source', 'SELECT user_id, item_id FROM train', 'lambda', 5, 'device', 'ilgpu-cpu'))");
        Assert.AreEqual("cpu", db.Scalar("SELECT metrics ->> '$.device' FROM rec_models WHERE name = 'cpu'"));
        Assert.AreEqual("ilgpu-cpu", db.Scalar("SELECT metrics ->> '$.device' FROM rec_models WHERE name = 'gpu'"));
        foreach (var user in new long[] { 0, 5, 33, 79 })
        {
            var cpu = db.Rows("SELECT item_id, score FROM recommend($1, 60, 'cpu')", user);
            var gpu = db.Rows("SELECT item_id, score FROM recommend($1, 60, 'gpu')", user);
            Assert.AreEqual(cpu.Count, gpu.Count);
            for (var r = 0; r < cpu.Count; r++)
                Assert.AreEqual((double)cpu[r][1]!, (double)gpu[r][1]!, 1e-5 * Math.Abs((double)cpu[0][1]!) + 1e-6, $"user {user} rank {r}");
            CollectionAssert.AreEqual(cpu.Take(10).Select(r => r[0]).ToList(), gpu.Take(10).Select(r => r[0]).ToList(), $"user {user}: the same top 10");
        }
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void AMissingGpuIsRefusedBeforeAnyWork()
    {
        var none = new ComputeDevices(new ComputeDevices.Probe([], [], 0, null, null));
        using var db = Shop(new SqlRecOptions { Devices = none });
        db.AssertError("SELECT rec_train('e', json_object('model', 'ease', 'source', 'SELECT user_id, item_id FROM train', 'device', 'cuda'))",
            Errors.DeviceUnavailable("rec_train", "cuda", "ILGPU found no CUDA device").Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'rec_models'"), "refused before anything is written");
        db.Scalar("SELECT rec_train('e', json_object('model', 'ease', 'source', 'SELECT user_id, item_id FROM train'))");
        Assert.AreEqual("cpu", db.Scalar("SELECT metrics ->> '$.device' FROM rec_models WHERE name = 'e'"), "'auto' without a GPU is the CPU");
    }

    /// <summary>Users in 4 clusters over 60 items, with weights 1-5.</summary>
    private static TestDb Shop(SqlRecOptions? options = null)
    {
        var db = GraphFilterTests.ClusteredShop(users: 80, options: options);
        db.Execute("ALTER TABLE train ADD COLUMN stars REAL; UPDATE train SET stars = 1 + (user_id * 7 + item_id) % 5");
        return db;
    }

    /// <summary>Dense EASE in double from the rows of the train table, as Steck's two lines of numpy.</summary>
    private static (Dictionary<long, int> Index, long[] Items, double[] B) Reference(TestDb db, double lambda, bool weighted)
    {
        var rows = db.Rows("SELECT user_id, item_id, sum(stars) FROM train GROUP BY user_id, item_id");
        var items = rows.Select(r => (long)r[1]!).Distinct().Order().ToArray();
        var index = items.Select((item, i) => (item, i)).ToDictionary(p => p.item, p => p.i);
        var n = items.Length;
        var g = new double[n * n];
        foreach (var user in rows.GroupBy(r => (long)r[0]!))
        {
            var row = user.Select(r => (Index: index[(long)r[1]!], Weight: weighted ? (double)r[2]! : 1.0)).ToList();
            foreach (var a in row)
                foreach (var b in row) g[a.Index * n + b.Index] += a.Weight * b.Weight;
        }
        for (var i = 0; i < n; i++) g[i * n + i] += lambda;
        var p = GaussJordanInverse(g, n);
        var bMatrix = new double[n * n];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++) bMatrix[i * n + j] = i == j ? 0 : -p[i * n + j] / p[j * n + j];
        return (index, items, bMatrix);
    }

    private static double[] ReferenceScores((Dictionary<long, int> Index, long[] Items, double[] B) model, IEnumerable<(long Item, double Weight)> row)
    {
        var n = model.Items.Length;
        var scores = new double[n];
        foreach (var (item, weight) in row)
            for (var j = 0; j < n; j++) scores[j] += weight * model.B[model.Index[item] * n + j];
        return scores;
    }

    [TestMethod]
    [DataRow(false, 2.0)]
    [DataRow(true, 40.0)]
    [TestCategory("fn:rec_train")]
    [TestCategory("fn:recommend")]
    public void ScoresFromSqlEqualAPlainDenseEase(bool weighted, double lambda)
    {
        using var db = Shop();
        var source = weighted ? "SELECT user_id, item_id, stars FROM train" : "SELECT user_id, item_id FROM train";
        db.Scalar($"SELECT rec_train('e', json_object('model', 'ease', 'source', '{source}', 'lambda', {lambda.ToString(System.Globalization.CultureInfo.InvariantCulture)}, 'weighting', '{(weighted ? "weight" : "binary")}'))");
        var reference = Reference(db, lambda, weighted);
        var n = reference.Items.Length;
        var checkedUsers = 0;
        foreach (var user in new long[] { 0, 1, 2, 3, 17, 42, 79 })
        {
            var row = db.Rows("SELECT item_id, sum(stars) FROM train WHERE user_id = $1 GROUP BY item_id", user)
                .Select(r => ((long)r[0]!, weighted ? (double)r[1]! : 1.0)).ToList();
            var expected = ReferenceScores(reference, row);
            var seen = row.Select(r => r.Item1).ToHashSet();
            var ranking = db.Rows("SELECT item_id, score FROM recommend($1, $2, 'e')", user, n);
            Assert.AreEqual(n - seen.Count, ranking.Count, "every unseen item is ranked");
            var scale = expected.Max(Math.Abs);
            foreach (var r in ranking)
                Assert.AreEqual(expected[reference.Index[(long)r[0]!]], (double)r[1]!, 1e-5 * scale + 1e-6, $"user {user} item {r[0]}");
            var scores = ranking.Select(r => (double)r[1]!).ToList();
            CollectionAssert.AreEqual(scores.OrderDescending().ToList(), scores, "best first");
            checkedUsers++;
        }
        Assert.AreEqual(7, checkedUsers);
        Assert.AreEqual(lambda, Convert.ToDouble(db.Scalar("SELECT metrics ->> '$.lambda' FROM rec_models WHERE name = 'e'")));
    }

    /// <summary>EASE ranks a cluster's held-out items well above popularity on clustered data.</summary>
    [TestMethod]
    public void EaseFindsTheHeldOutItemsOfEachCluster()
    {
        using var db = Shop();
        db.Scalar("SELECT rec_train('e', json_object('model', 'ease', 'source', 'SELECT user_id, item_id FROM train', 'lambda', 5))");
        db.Scalar("SELECT rec_train('p', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM train'))");
        var ease = (double)db.Scalar("SELECT rec_evaluate('e', json_object('test', 'SELECT user_id, item_id FROM heldout', 'k', 10)) ->> '$.metrics.\"recall@10\"'")!;
        var popular = (double)db.Scalar("SELECT rec_evaluate('p', json_object('test', 'SELECT user_id, item_id FROM heldout', 'k', 10)) ->> '$.metrics.\"recall@10\"'")!;
        Assert.IsTrue(ease > 0.6 && ease > popular + 0.2, $"ease recall@10 {ease}, popular {popular}");
    }

    /// <summary>With live on, a new row counts at the next recommend(), as with graph_filter.</summary>
    [TestMethod]
    public void LiveRowsCountAtOnce()
    {
        using var db = Shop();
        db.Scalar("SELECT rec_train('e', json_object('model', 'ease', 'source', 'SELECT user_id, item_id FROM train', 'lambda', 5))");
        var before = db.Rows("SELECT item_id FROM recommend(0, 3, 'e')").Select(r => (long)r[0]!).ToList();
        db.Execute("INSERT INTO train VALUES (0, $1, 1)", before[0]);
        var after = db.Rows("SELECT item_id FROM recommend(0, 3, 'e')").Select(r => (long)r[0]!).ToList();
        CollectionAssert.DoesNotContain(after, before[0], "the new interaction is excluded at once");
        db.Scalar("SELECT rec_train('s', json_object('model', 'ease', 'source', 'SELECT user_id, item_id FROM train', 'lambda', 5, 'live', false))");
        db.Execute("INSERT INTO train VALUES (0, $1, 1)", after[0]);
        CollectionAssert.Contains(db.Rows("SELECT item_id FROM recommend(0, 3, 's')").Select(r => (long)r[0]!).ToList(), after[0],
            "with live false the training snapshot serves");
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void EaseOptionErrors()
    {
        using var db = Shop();
        string Train(string options) => $"SELECT rec_train('e', json_object('model','ease','source','SELECT user_id, item_id FROM train'{options}))";
        db.AssertError(Train(", 'lambda', 0"), Errors.OptionRange("rec_train", "lambda", "greater than 0 and at most 1000000000000", "0").Message);
        db.AssertError(Train(", 'lambda', -5"), Errors.OptionRange("rec_train", "lambda", "greater than 0 and at most 1000000000000", "-5").Message);
        db.AssertError(Train(", 'lambda', 'x'"), Errors.OptionType("rec_train", "lambda", "a number", "the string \"x\"").Message);
        db.AssertError(Train(", 'lambda', 1e13"), Errors.OptionRange("rec_train", "lambda", "greater than 0 and at most 1000000000000", "10000000000000.0").Message);
        db.AssertError(Train(", 'weighting', 'log'"), Errors.OptionRange("rec_train", "weighting", "one of 'binary', 'weight'", "\"log\"").Message);
        db.AssertError(Train(", 'components', 3"), Errors.UnknownOption("rec_train", "components", "model kind 'ease'", ["model", "source", "lambda", "weighting", "live", "device"]).Message);
        db.AssertError(Train(", 'device', 'tpu'"), Errors.OptionRange("rec_train", "device", "one of 'auto', 'cpu', 'cuda', 'opencl', 'ilgpu-cpu'", "\"tpu\"").Message);
        db.AssertError("SELECT rec_train('e', json_object('model','ease','source','SELECT 1, item_id FROM train'))",
            Errors.SourceTooSmall("rec_train", "ease", "at least 2 users and 2 items").Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'rec_models'"), "nothing was written");
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void ACatalogueTooLargeForMemoryIsRefusedBeforeAnyWork()
    {
        using var db = Shop(new SqlRecOptions { MemoryLimit = 10_000 });
        var items = (long)db.Scalar("SELECT count(DISTINCT item_id) FROM train")!;
        db.AssertError("SELECT rec_train('e', json_object('model','ease','source','SELECT user_id, item_id FROM train'))",
            Errors.ModelTooLarge("rec_train", "ease", $"{items:N0} items (an items x items matrix)", items * items * 20, 8_000,
                "use 'graph_filter' (its memory grows with items x components, not items squared), or train on fewer items").Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'rec_models'"));
        StringAssert.StartsWith(Errors.EaseTooManyItems("rec_train", 50_000, SpdInverse.MaxOrder).Message,
            "rec_train(): model kind 'ease' holds an items x items matrix and handles at most 46,340 items, got 50,000;");
    }

    /// <summary>The Gram matrix's lower triangle from CSR rows, weighted, against the definition.</summary>
    [TestMethod]
    public void TheGramMatrixIsXTransposeX()
    {
        int[] offsets = [0, 2, 5, 6];
        int[] items = [0, 2, 0, 1, 3, 2];
        float[] weights = [1, 2, 3, 4, 5, 6];
        var g = EaseKind.Gram(offsets, items, weights, 4);
        double[,] x = { { 1, 0, 2, 0 }, { 3, 4, 0, 5 }, { 0, 0, 6, 0 } };
        for (var i = 0; i < 4; i++)
            for (var j = 0; j <= i; j++)
            {
                var expected = 0.0;
                for (var u = 0; u < 3; u++) expected += x[u, i] * x[u, j];
                Assert.AreEqual(expected, g[i * 4 + j], 1e-12, $"({i}, {j})");
            }
    }
}
