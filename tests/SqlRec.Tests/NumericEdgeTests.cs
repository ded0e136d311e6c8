using SqlRec.Vectors;

namespace SqlRec.Tests;

/// <summary>
/// Numbers at the edge of float32: weights whose sums or products pass 3.4e38, and vectors with
/// components near it. Either the answer is right (compared with the same data scaled by a power
/// of two, or with a plain double-precision reference) or SqlRec refuses with a message naming
/// the function, the column or option, and the row; never an Infinity, a NULL or a wrong order.
/// </summary>
[TestClass]
public sealed class NumericEdgeTests
{
    private const string Weighted = "CREATE TABLE r(u INTEGER, i INTEGER, w REAL)";

    private static string Train(string name, string kind, string extra = "") =>
        $"SELECT rec_train('{name}', json_object('model', '{kind}', 'source', 'SELECT u, i, w FROM r'{extra}))";

    // ---- weights ----------------------------------------------------------------------------

    /// <summary>
    /// Each item's weights add up to its popularity, a float32 every model falls back on: a sum past
    /// 3.4e38 (it came out as Infinity, and two such items tied) is refused at the row that passes it,
    /// for every kind and with time decay too.
    /// </summary>
    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void AnItemWhoseWeightsAddUpPastFloat32IsRefusedAtTheRowThatPassesIt()
    {
        using var db = TestDb.InMemory().Execute(Weighted);
        db.Execute("ALTER TABLE r ADD COLUMN t INTEGER");
        db.Execute("INSERT INTO r VALUES (1, 10, 3e38, 100), (2, 11, 2e38, 200), (3, 11, 1e38, 300), (2, 10, 3e38, 400), (3, 12, 1, 500)");
        var expected = Errors.SourceWeightSumTooLarge("rec_train", 4, 10L, 2.0 * (float)3e38).Message;
        StringAssert.Contains(expected, "item INTEGER 10 add up to 6E+38 by row 4");
        db.AssertError(Train("p", "popular"), expected);
        db.AssertError(Train("g", "graph_filter", ", 'components', 0"), expected);
        db.AssertError("SELECT rec_train('d', json_object('model', 'popular', 'half_life_days', 1, 'source', 'SELECT u, i, w, t FROM r'))", expected);
        db.AssertError("SELECT recommend(1, 3)", Errors.NoModels("recommend").Message);

        // Item 11's 2e38 + 1e38 fits: popularity is summed in double and is exact to float32.
        db.Execute("DELETE FROM r WHERE u = 2 AND i = 10");
        db.Scalar(Train("p", "popular"));
        var rows = db.Rows("SELECT item_id, score FROM recommend(9, 3, 'p')");
        CollectionAssert.AreEqual(new object[] { 10L, 11L, 12L }, rows.Select(r => r[0]).ToArray());
        Assert.AreEqual((double)(float)3e38, rows[0][1]);
        Assert.AreEqual((double)(float)((double)(float)2e38 + (float)1e38), rows[1][1]);
    }

    /// <summary>
    /// A weight must be a number from 0 to the largest float32: NaN cannot come out of SQLite (it
    /// reads back as NULL), infinities and finite numbers past float32 are refused by name, in
    /// training and in a live model's current rows (a 1e300 there became Infinity before).
    /// </summary>
    [TestMethod]
    [TestCategory("errors:rec_train")]
    [TestCategory("errors:recommend")]
    public void WeightsOutsideFloat32AreRefusedInTrainingAndInLiveRows()
    {
        using var db = TestDb.InMemory().Execute(Weighted);
        db.Execute("INSERT INTO r VALUES (1, 10, 1), (1, 11, 2), (2, 10, 1), (2, 12, 1)");
        foreach (var (value, described) in new (string Sql, object? Got)[] { ("1e300", 1e300), ("-1e300", -1e300), ("9e999", double.PositiveInfinity), ("0.0/0.0", null) })
        {
            db.AssertError($"SELECT rec_train('p', json_object('model', 'popular', 'source', 'SELECT u, i, {value} FROM r'))",
                Errors.SourceBadWeight("rec_train", 1, described).Message);
        }
        db.Scalar(Train("g", "graph_filter", ", 'weighting', 'weight', 'components', 0"));
        db.Execute("INSERT INTO r VALUES (1, 12, 1e300)");
        db.AssertError("SELECT recommend(1, 3, 'g')", Errors.SourceBadWeight("recommend", 3, 1e300).Message);
        db.Execute("UPDATE r SET w = 3e38 WHERE u = 1 AND i = 12; INSERT INTO r VALUES (1, 12, 3e38)");
        db.AssertError("SELECT recommend(1, 3, 'g')", Errors.SourceWeightSumTooLarge("recommend", 4, 12L, 2.0 * (float)3e38).Message);
    }

    /// <summary>
    /// 300 users, 20 items, weights of 2^110 (about 1.3e33) times 1 to 3: item 0's degree, 7.8e35,
    /// times alpha 1000 passed float32, so its term of the ideal filter became 0 and the order came
    /// out wrong. The graph filter keeps degrees in double now: the same data scaled down by 2^100 (where
    /// nothing comes near the limit) gives the same rankings, and every score exactly 2^100 smaller.
    /// </summary>
    [TestMethod]
    [TestCategory("fn:recommend")]
    public void AWeightedGraphFilterNearTheFloat32LimitRanksAsTheSameDataScaledDown()
    {
        using var db = TestDb.InMemory().Execute("CREATE TABLE r(u INTEGER, i INTEGER, m INTEGER)");
        var rows = new List<string>();
        for (var u = 0; u < 300; u++)
        {
            rows.Add($"({u}, 0, {1 + u % 3})");
            rows.Add($"({u}, {1 + u % 19}, {1 + (u + 1) % 3})");
            rows.Add($"({u}, {1 + u * 7 % 19}, {1 + (u + 2) % 3})");
        }
        db.Execute($"INSERT INTO r VALUES {string.Join(", ", rows)}");
        Assert.AreEqual(Math.ScaleB(1.0, 110), db.Scalar($"SELECT {Math.ScaleB(1.0, 110):R}"), "SQLite reads the multiplier back exactly");
        foreach (var live in new[] { "true", "false" })
        {
            foreach (var (name, exponent) in new[] { ("huge", 110), ("small", 10) })
            {
                db.Scalar($"SELECT rec_train('{name}', json_object('model', 'graph_filter', 'weighting', 'weight', 'components', 4, 'alpha', 1000, 'live', json('{live}'), " +
                    $"'source', 'SELECT u, i, m * {Math.ScaleB(1.0, exponent):R} FROM r'))");
            }
            for (var u = 0; u < 300; u += 7)
            {
                var huge = db.Rows("SELECT item_id, score FROM recommend($1, 5, 'huge')", u);
                var small = db.Rows("SELECT item_id, score FROM recommend($1, 5, 'small')", u);
                CollectionAssert.AreEqual(small.Select(r => r[0]).ToArray(), huge.Select(r => r[0]).ToArray(), $"user {u}, live {live}");
                for (var i = 0; i < huge.Count; i++)
                {
                    Assert.IsTrue(double.IsFinite((double)huge[i][1]!), $"user {u}: score {huge[i][1]}");
                    Assert.AreEqual(Math.ScaleB((double)small[i][1]!, 100), (double)huge[i][1]!, $"user {u}, rank {i + 1}, live {live}");
                }
            }
        }
    }

    /// <summary>
    /// Weighted graph filter scores grow with the user's summed weight (and with 'normalization'
    /// 'none', with three weights multiplied); a bound past float32 is refused at training, naming
    /// the user, and a user's current rows that score past it are refused at recommend().
    /// </summary>
    [TestMethod]
    [TestCategory("errors:rec_train")]
    [TestCategory("errors:recommend")]
    public void AWeightedGraphFilterWhoseScoresCouldPassFloat32IsRefused()
    {
        using var db = TestDb.InMemory().Execute(Weighted);
        db.Execute("INSERT INTO r VALUES (1, 10, 1e38), (1, 11, 1e38), (1, 12, 1e38), (2, 10, 1), (2, 13, 1)");
        var heavy = 3.0 * (float)1e38;
        db.AssertError(Train("g", "graph_filter", ", 'weighting', 'weight', 'components', 0"),
            Errors.GraphFilterScoresTooLarge("rec_train", heavy, 1L, heavy, unnormalized: false).Message);
        var withIdeal = heavy + 0.3 * Math.Sqrt(((double)(float)1e38 + 1) * heavy);
        db.AssertError(Train("g", "graph_filter", ", 'weighting', 'weight', 'components', 1"),
            Errors.GraphFilterScoresTooLarge("rec_train", withIdeal, 1L, heavy, unnormalized: false).Message);
        db.Scalar(Train("b", "graph_filter", ", 'components', 0"));
        Assert.AreEqual("[13]", db.Scalar("SELECT recommend(1, 3, 'b')"), "binary weighting does not see the weights");

        db.Execute("DELETE FROM r; INSERT INTO r VALUES (1, 10, 1e13), (1, 11, 1e13), (2, 10, 1e13), (2, 12, 1)");
        var user = 2.0 * (float)1e13;
        db.AssertError(Train("n", "graph_filter", ", 'weighting', 'weight', 'components', 0, 'normalization', 'none'"),
            Errors.GraphFilterScoresTooLarge("rec_train", user * (float)1e13 * user, 1L, user, unnormalized: true).Message);

        db.Scalar(Train("g", "graph_filter", ", 'weighting', 'weight', 'components', 0"));
        db.Execute("INSERT INTO r VALUES (2, 11, 3e38), (2, 11, 3e38)");
        db.AssertError("SELECT recommend(2, 3, 'g')", Errors.SourceWeightSumTooLarge("recommend", 4, 11L, 2.0 * (float)3e38).Message);
        db.Execute("DELETE FROM r WHERE u = 2 AND i = 11 AND rowid = (SELECT max(rowid) FROM r); UPDATE r SET w = 3.4e38 WHERE u = 2");
        db.AssertError("SELECT recommend(2, 3, 'g')", Errors.LiveScoresTooLarge("recommend", "g", 2L, 3.0 * (float)3.4e38).Message);
    }

    // ---- vectors ----------------------------------------------------------------------------

    private static VectorSet Set(float[] data, int dimensions) =>
        new("collection 'edge'", "item", new IdIndex(Enumerable.Range(0, data.Length / dimensions).Select(i => ExternalId.Of(i)).ToArray()), dimensions, data, VectorMetric.Dot);

    /// <summary>Row-major vectors multiplied row by row by <paramref name="factor"/>(row) (rounded to float32, as a BLOB would hold them).</summary>
    private static float[] Scaled(float[] data, int dimensions, Func<int, double> factor) =>
        [.. data.Select((v, i) => (float)(v * factor(i / dimensions)))];

    /// <summary>
    /// Sets and queries whose components are near float32's largest value (3e38) or its smallest
    /// (2^-140), or mix both: squares and inner products of such numbers overflowed to Infinity (L2
    /// distances), 0 * Infinity (NULL cosines) or underflowed to 0. Every metric, exact and with
    /// each quantized first pass (whose shortlist here covers every row), must give the order and
    /// the scores of the plain double-precision reference.
    /// </summary>
    [TestMethod]
    public void VectorsAtTheEdgesOfFloat32SearchAsTheDoubleReference()
    {
        const int rows = 60, dimensions = 16, k = 10;
        var data = VectorTestData.VaryingLengths(rows, dimensions, 71);
        var query = VectorTestData.Gaussian(dimensions, 72);
        var toLargest = 3e38 / data.Max(Math.Abs);
        var cases = new (string Name, Func<int, double> Rows, double Query)[]
        {
            ("set near 3e38", _ => toLargest, 1),
            ("set and query near 3e38", _ => toLargest, 3e38 / query.Max(Math.Abs)),
            ("query near 3e38", _ => 1, 3e38 / query.Max(Math.Abs)),
            ("set near 2^-140", _ => Math.ScaleB(1.0, -140), 1),
            ("set and query near 2^-120", _ => Math.ScaleB(1.0, -120), Math.ScaleB(1.0, -120)),
            ("query near 2^-140", _ => 1, Math.ScaleB(1.0, -140)),
            ("rows of 1e36 and of 1", r => r % 2 == 0 ? 1e36 : 1, 1),
            ("set near 3e38, query near 2^-120", _ => toLargest, Math.ScaleB(1.0, -120)),
        };
        foreach (var (name, rowFactor, queryFactor) in cases)
        {
            var scaled = Scaled(data, dimensions, rowFactor);
            var set = Set(scaled, dimensions);
            var scaledQuery = Scaled(query, dimensions, _ => queryFactor);
            foreach (var metric in Enum.GetValues<VectorMetric>())
            {
                var (keys, reported) = DoubleReference(scaled, dimensions, scaledQuery, metric);
                var expected = TestData.TopK(keys, k);
                var tolerance = 1e-5 * expected.Max(e => Math.Abs(reported[e]));
                var keyTolerance = 1e-6 * keys.Max(Math.Abs);
                foreach (var quantize in Enum.GetValues<Quantization>())
                {
                    var hits = VectorSearch.Search(set, new SearchRequest(scaledQuery, k, metric, quantize, Rescore: rows), ItemFilter.None);
                    var context = $"{name}, {metric}, {quantize}";
                    Assert.HasCount(k, hits, context);
                    for (var i = 0; i < k; i++)
                    {
                        var hit = hits[i];
                        Assert.IsTrue(double.IsFinite(hit.Score) && double.IsFinite(hit.Distance), $"{context}: row {hit.Index} scored {hit.Score}, distance {hit.Distance}");
                        Assert.AreEqual(reported[hit.Index], hit.Score, tolerance, $"{context}: score of row {hit.Index}");
                        Assert.AreEqual(metric switch { VectorMetric.Cosine => 1 - hit.Score, _ => -hit.Score }, hit.Distance, tolerance, context);
                        Assert.IsTrue(hit.Index == expected[i] || Math.Abs(keys[hit.Index] - keys[expected[i]]) <= keyTolerance,
                            $"{context}: rank {i + 1} is row {hit.Index}, expected row {expected[i]} (not a tie)");
                    }
                }
            }
        }
    }

    /// <summary>
    /// The plain double-precision reference of every row: the key that orders it (the inner product;
    /// the cosine; for l2, 2 q.x - |x|^2, which orders as minus the distance and keeps its digits when
    /// |q| is far larger than every |x|, where the distances themselves agree to all of double's
    /// digits) and the score reported (the inner product, the cosine, minus the distance).
    /// </summary>
    private static (double[] Keys, double[] Reported) DoubleReference(float[] data, int dimensions, float[] query, VectorMetric metric)
    {
        var rows = data.Length / dimensions;
        var queryNorm = Math.Sqrt(query.Sum(v => (double)v * v));
        var keys = new double[rows];
        var reported = new double[rows];
        for (var r = 0; r < rows; r++)
        {
            double dot = 0, squared = 0, distance = 0;
            for (var j = 0; j < dimensions; j++)
            {
                double x = data[r * dimensions + j], q = query[j];
                dot += q * x;
                squared += x * x;
                distance += (q - x) * (q - x);
            }
            (keys[r], reported[r]) = metric switch
            {
                VectorMetric.Dot => (dot, dot),
                VectorMetric.Cosine when squared == 0 || queryNorm == 0 => (0.0, 0.0),
                VectorMetric.Cosine => (dot / Math.Sqrt(squared) / queryNorm, dot / Math.Sqrt(squared) / queryNorm),
                _ => (2 * dot - squared, -Math.Sqrt(distance)),
            };
        }
        return (keys, reported);
    }

    /// <summary>
    /// The same through SQL: a collection of vectors with components up to 3e38 (rec_search gave
    /// NULL cosines and infinite distances, in every order), searched by rec_search and
    /// similar_items with each metric; a model's vectors searched with a query of 2^120-sized
    /// components rank as with the same query scaled down, their inner products 2^120 times larger.
    /// </summary>
    [TestMethod]
    [TestCategory("fn:rec_search")]
    [TestCategory("fn:similar_items")]
    public void RecSearchAndSimilarItemsOnHugeVectorsMatchTheDoubleReference()
    {
        float[] data = [3e38f, 1e38f, 0, 1e38f, 3e38f, 0, -3e38f, 0, 1e38f, 1, 2, 3, 2e38f, -2e38f, 2e38f];
        float[] query = [3e38f, 2e38f, 0];
        using var db = TestDb.InMemory().StoreVectors("v", data, 3);
        db.Scalar("SELECT rec_publish('c', json_object('source', 'SELECT id, emb FROM v'))");
        foreach (var metric in new[] { "cosine", "l2", "dot" })
        {
            var expected = VectorTestData.Reference(data, 3, query, VectorMetrics.Parse(metric), 5);
            var tolerance = 1e-6 * expected.Max(e => Math.Abs(e.Score));
            foreach (var quantize in new[] { "none", "int8", "bit" })
            {
                var rows = db.Rows("SELECT item_id, score, distance FROM rec_search('c', $1, 5, json_object('metric', $2, 'quantize', $3))",
                    VectorTestData.Blob(query), metric, quantize);
                VectorTestData.AssertSameRanking(expected, [.. rows.Select(r => ((int)(long)r[0]! - 1, (double)r[1]!))], tolerance, $"rec_search {metric} {quantize}");
                Assert.IsTrue(rows.All(r => r[2] is double distance && double.IsFinite(distance)), $"{metric} {quantize}: every distance is a finite number");
            }
            var similar = VectorTestData.Reference(data, 3, data[..3], VectorMetrics.Parse(metric), 5, excluded: [0]);
            var neighbours = db.Rows("SELECT item_id, score FROM similar_items(1, 4, 'c', json_object('metric', $1))", metric);
            VectorTestData.AssertSameRanking(similar, [.. neighbours.Select(r => ((int)(long)r[0]! - 1, (double)r[1]!))], 1e-6 * similar.Max(e => Math.Abs(e.Score)), $"similar_items {metric}");
        }

        db.Execute(RecommendTests.Likes);
        db.Scalar("SELECT rec_train('gf', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes', 'components', 2))");
        float[] small = [0.75f, -1.5f];
        float[] huge = [.. small.Select(v => MathF.ScaleB(v, 120))];
        foreach (var metric in new[] { "dot", "cosine" })
        {
            const string search = "SELECT item_id, score FROM rec_search('gf', $1, 5, json_object('metric', $2))";
            var plain = db.Rows(search, VectorTestData.Blob(small), metric);
            var scaled = db.Rows(search, VectorTestData.Blob(huge), metric);
            CollectionAssert.AreEqual(plain.Select(r => r[0]).ToArray(), scaled.Select(r => r[0]).ToArray(), metric);
            for (var i = 0; i < plain.Count; i++)
            {
                var expected = (double)plain[i][1]! * (metric == "dot" ? Math.ScaleB(1.0, 120) : 1);
                Assert.AreEqual(expected, (double)scaled[i][1]!, 1e-6 * Math.Abs(expected) + 1e-7, $"{metric} rank {i + 1}");
            }
        }
    }

    /// <summary>
    /// sqlite-vec's vec0 squares in float32 too, and SqlRec cannot scale the queries it is given, so
    /// rec_publish refuses to write a vector whose squared length passes float32 into a vec0 table
    /// (the collection itself, searched by SqlRec, is fine); nothing is written.
    /// </summary>
    [TestMethod]
    [TestCategory("errors:rec_publish")]
    public void Vec0RefusesVectorsWhoseSquaredLengthPassesFloat32()
    {
        float[] data = [1, 2, 3e38f, 1e19f, 0, 0];
        using var db = TestDb.InMemory().StoreVectors("v", data, 2);
        var squared = (double)3e38f * 3e38f + (double)1e19f * 1e19f;
        db.AssertError("SELECT rec_publish('c', json_object('source', 'SELECT id, emb FROM v', 'table', 't'))",
            Errors.PublishVectorTooLong("rec_publish", "t_items", "item", 2L, squared).Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name = 't_items'"));
        db.Scalar("SELECT rec_publish('c', json_object('source', 'SELECT id, emb FROM v'))");
        Assert.AreEqual(2L, db.Scalar("SELECT item_id FROM rec_search('c', $1, 1)", VectorTestData.Blob([1f, 1e-30f])));
        db.AssertError("SELECT rec_publish('c')", Errors.PublishVectorTooLong("rec_publish", "c_items", "item", 2L, squared).Message);
        db.Execute("UPDATE v SET emb = $1 WHERE id = 2", VectorTestData.Blob([1e19f, 1e18f]));
        db.Scalar("SELECT rec_publish('c', json_object('source', 'SELECT id, emb FROM v', 'table', 't'))");
        Assert.AreEqual(3L, db.Scalar("SELECT count(*) FROM t_items"), "squared lengths up to 1e38 are written");
    }
}
