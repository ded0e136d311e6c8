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
}
