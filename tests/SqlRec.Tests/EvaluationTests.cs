using System.Text.Json;

namespace SqlRec.Tests;

/// <summary>rec_evaluate() from SQL: test mode, split modes, saving, progress and every error.</summary>
[TestClass]
public sealed class EvaluationTests
{
    private const string F = "rec_evaluate";

    // RecommendTests.Likes trained as 'pop'. Popularity 10 -> 4, 11 -> 3, 12 -> 2, 13 -> 1, 'x' -> 1, so the
    // order is 10, 11, 12, 13, 'x'. Training items: 1 {10, 11}, 2 {10, 12, 'x'}, 3 {10, 11, 13}, 4 {10, 11, 12}.
    // Rankings without training items: 1 -> 12, 13, 'x'; 2 -> 11, 13; 3 -> 12, 'x'; 4 -> 13, 'x'.
    private static TestDb Trained()
    {
        var db = TestDb.InMemory().Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        return db;
    }

    private static string Evaluate(string options, string model = "'pop'") => $"SELECT {F}({model}, {options})";

    private static string TestOption(string query, string extra = "") => $"json_object('test', '{query.Replace("'", "''")}'{extra})";

    private static JsonElement Report(TestDb db, string sql) => JsonDocument.Parse((string)db.Scalar(sql)!).RootElement;

    private static double Metric(JsonElement report, string name) => report.GetProperty("metrics").GetProperty(name).GetDouble();

    /// <summary>Everything SqlRec stores, to prove a call changed nothing.</summary>
    private static string Snapshot(TestDb db)
    {
        var tables = db.Rows("SELECT name FROM sqlite_schema WHERE name LIKE 'rec\\_%' ESCAPE '\\' AND type = 'table' ORDER BY name");
        return string.Join("\n", tables.Select(t => t[0] + ":" + string.Join(";", db.Rows($"SELECT * FROM \"{t[0]}\"")
            .Select(r => string.Join(",", r.Select(v => v is byte[] b ? Convert.ToBase64String(b) : v?.ToString()))))));
    }

    private const string HeldOut = """
        CREATE TABLE held_out(user_id INTEGER, item_id);
        -- 9 is unknown (skipped); (2, 10) and (4, 12) are training pairs (dropped; user 4 has nothing left);
        -- 99 is an unknown item (counts in user 3's |test|); (1, 13) is repeated (counts once).
        INSERT INTO held_out VALUES (1, 13), (2, 11), (2, 10), (3, 'x'), (3, 99), (9, 10), (4, 12), (1, 13);
        """;

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void WithNeitherTestNorSplitTheSeededRandomSplitIsUsed()
    {
        using var db = Trained();
        var byDefault = Report(db, Evaluate("json_object('k', 5)"));
        Assert.AreEqual("split", byDefault.GetProperty("mode").GetString());
        Assert.AreEqual("random", byDefault.GetProperty("split").GetString());
        Assert.AreEqual(42, byDefault.GetProperty("seed").GetInt32());
        var explicitly = Report(db, Evaluate("json_object('split', 'random', 'seed', 42, 'test_ratio', 0.2, 'k', 5)"));
        Assert.AreEqual(explicitly.GetProperty("metrics").ToString(), byDefault.GetProperty("metrics").ToString());
        var empty = Report(db, Evaluate("'{}'"));
        Assert.AreEqual("random", empty.GetProperty("split").GetString());
        Assert.AreEqual("[10,20]", empty.GetProperty("k").ToString().Replace(" ", ""));
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void TestModeMatchesTheHandComputedFigures()
    {
        using var db = Trained().Execute(HeldOut);
        var report = Report(db, Evaluate(TestOption("SELECT user_id, item_id FROM held_out", ", 'k', json_array(2, 1)")));
        // Evaluated: 1 {13} ranked 12, 13, 'x'; 2 {11} ranked 11, 13; 3 {'x', 99} (|test| = 2) ranked 12, 'x'.
        // K = 1: only user 2 hits (position 1): every per-user metric is (0 + 1 + 0) / 3.
        // K = 2: user 1: recall 1, precision 1/2, ndcg 1/log2(3) = 0.6309298, hit 1, mrr 1/2, map 1/2.
        //        user 2: recall 1, precision 1/2, ndcg 1, hit 1, mrr 1, map 1.
        //        user 3: recall 1/2, precision 1/2, ndcg 0.6309298 / (1 + 0.6309298) = 0.3868528, hit 1, mrr 1/2, map (1/2)(1/2) = 1/4.
        // coverage@1: top-1 items {12, 11} of 5 = 0.4; coverage@2: {12, 13, 11, 'x'} of 5 = 0.8.
        Assert.AreEqual("pop", report.GetProperty("model").GetString());
        Assert.AreEqual(1, report.GetProperty("version").GetInt32());
        Assert.AreEqual("test", report.GetProperty("mode").GetString());
        Assert.AreEqual(3, report.GetProperty("users").GetInt32());
        Assert.AreEqual(1, report.GetProperty("skipped_users").GetInt32());
        Assert.AreEqual(5, report.GetProperty("items").GetInt32());
        Assert.AreEqual(4, report.GetProperty("test_pairs").GetInt32());
        Assert.AreEqual(2, report.GetProperty("dropped_pairs").GetInt32());
        Assert.AreEqual(1, report.GetProperty("unknown_items").GetInt32());
        Assert.AreEqual("[1,2]", report.GetProperty("k").GetRawText());
        foreach (var name in new[] { "recall", "ndcg", "precision", "hit_rate", "mrr", "map" }) Assert.AreEqual(0.333333, Metric(report, $"{name}@1"));
        Assert.AreEqual(0.4, Metric(report, "coverage@1"));
        var log3 = 1 / Math.Log2(3);
        Assert.AreEqual(Math.Round((1 + 1 + 0.5) / 3, 6), Metric(report, "recall@2"));
        Assert.AreEqual(Math.Round((log3 + 1 + log3 / (1 + log3)) / 3, 6), Metric(report, "ndcg@2"));
        Assert.AreEqual(0.5, Metric(report, "precision@2"));
        Assert.AreEqual(1.0, Metric(report, "hit_rate@2"));
        Assert.AreEqual(Math.Round((0.5 + 1 + 0.5) / 3, 6), Metric(report, "mrr@2"));
        Assert.AreEqual(Math.Round((0.5 + 1 + 0.25) / 3, 6), Metric(report, "map@2"));
        Assert.AreEqual(0.8, Metric(report, "coverage@2"));
        // Keys in order: per cutoff, the six per-user metrics then coverage.
        var names = report.GetProperty("metrics").EnumerateObject().Select(p => p.Name).ToArray();
        CollectionAssert.AreEqual(new[] { "recall@1", "ndcg@1", "precision@1", "hit_rate@1", "mrr@1", "map@1", "coverage@1",
            "recall@2", "ndcg@2", "precision@2", "hit_rate@2", "mrr@2", "map@2", "coverage@2" }, names);
        Assert.IsGreaterThanOrEqualTo(0.0, report.GetProperty("seconds").GetDouble());
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void DefaultsAreK10And20AndNullMeansTheOnlyModel()
    {
        using var db = Trained().Execute(HeldOut);
        var report = Report(db, Evaluate(TestOption("SELECT * FROM held_out"), "NULL"));
        Assert.AreEqual("[10,20]", report.GetProperty("k").GetRawText());
        Assert.AreEqual("pop", report.GetProperty("model").GetString());
        // Every candidate fits in 10: recall is (1 + 1 + 1/2) / 3; each user has one hit, so precision is 1 / K.
        Assert.AreEqual(0.833333, Metric(report, "recall@10"));
        Assert.AreEqual(0.1, Metric(report, "precision@10"));
        Assert.AreEqual(0.05, Metric(report, "precision@20"));
        Assert.AreEqual(0.8, Metric(report, "coverage@20"), "item 10 is a training item of every evaluated user");
        // A single integer k, and a k list with repeats.
        Assert.AreEqual("[3]", Report(db, Evaluate(TestOption("SELECT * FROM held_out", ", 'k', 3"))).GetProperty("k").GetRawText());
        Assert.AreEqual("[2,5]", Report(db, Evaluate(TestOption("SELECT * FROM held_out", ", 'k', json_array(5, 2, 5)"))).GetProperty("k").GetRawText());
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void TextAndRealIdsMatchLikeRecommend()
    {
        using var db = Trained();
        // 1.0 is the integer 1; '1' is another id than 1 (skipped); 'x' is the item 'x'.
        var report = Report(db, Evaluate(TestOption("VALUES (1.0, 'x'), ('1', 12)", ", 'k', 3")));
        Assert.AreEqual(1, report.GetProperty("users").GetInt32());
        Assert.AreEqual(1, report.GetProperty("skipped_users").GetInt32());
        Assert.AreEqual(1.0 / 3 * 1 / 1, Metric(report, "mrr@3"), 1e-6, "user 1 ranks 12, 13, 'x': 'x' at position 3");
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void NothingIsWrittenUnlessSaveIsTrue()
    {
        using var db = Trained().Execute(HeldOut);
        var before = Snapshot(db);
        db.Scalar(Evaluate(TestOption("SELECT * FROM held_out")));
        db.Scalar(Evaluate(TestOption("SELECT * FROM held_out", ", 'save', json('false')")));
        db.Scalar(Evaluate("json_object('split', 'random')"));
        Assert.AreEqual(before, Snapshot(db));
        Assert.AreEqual("[12,13,\"x\"]", db.Scalar("SELECT recommend(1, 10)"), "the serving version is untouched");
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void SaveStoresTheReportWithTheVersionAndTheModel()
    {
        using var db = Trained().Execute(HeldOut);
        var json = (string)db.Scalar(Evaluate(TestOption("SELECT * FROM held_out", ", 'k', 2, 'save', json('true')")))!;
        Assert.AreEqual(json, db.Scalar("SELECT metrics -> '$.evaluation' FROM rec_model_versions WHERE model = 'pop' AND version = 1"));
        Assert.AreEqual(json, db.Scalar("SELECT metrics -> '$.evaluation' FROM rec_models WHERE name = 'pop'"));
        // A second save replaces the first; 1 works as true (what json_object gives for a comparison).
        var second = (string)db.Scalar(Evaluate(TestOption("SELECT * FROM held_out", ", 'k', 1, 'save', 1 = 1")))!;
        Assert.AreEqual(0.333333, JsonDocument.Parse((string)db.Scalar("SELECT metrics FROM rec_models")!).RootElement
            .GetProperty("evaluation").GetProperty("metrics").GetProperty("recall@1").GetDouble());
        Assert.AreEqual(second, db.Scalar("SELECT metrics -> '$.evaluation' FROM rec_model_versions"));
        // A new version starts without an evaluation; the old version keeps its own.
        db.Scalar(RecommendTests.TrainPopular);
        Assert.AreEqual("{}", db.Scalar("SELECT metrics FROM rec_models"));
        Assert.AreEqual(second, db.Scalar("SELECT metrics -> '$.evaluation' FROM rec_model_versions WHERE version = 1"));
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void RandomSplitIsDeterministicForASeedAndIndependentOfRowOrder()
    {
        using var db = TestDb.InMemory().Execute("CREATE TABLE e(u INTEGER, i INTEGER);");
        var random = new Random(7);
        for (var r = 0; r < 400; r++) db.Execute("INSERT INTO e VALUES ($1, $2)", random.Next(30), (int)(40 * Math.Pow(random.NextDouble(), 2)));
        db.Scalar("SELECT rec_train('m', json_object('model', 'popular', 'source', 'SELECT u, i FROM e ORDER BY rowid'))");
        string Run(string options) => JsonDocument.Parse((string)db.Scalar($"SELECT json_remove({F}('m', {options}), '$.seconds')")!).RootElement.GetRawText();
        var first = Run("json_object('split', 'random', 'seed', 5)");
        Assert.AreEqual(first, Run("json_object('split', 'random', 'seed', 5)"));
        Assert.AreNotEqual(first, Run("json_object('split', 'random', 'seed', 6)"));
        Assert.AreEqual(Run("json_object('split', 'random')"), Run("json_object('split', 'random', 'seed', 42, 'test_ratio', 0.2)"), "defaults");
        var report = JsonDocument.Parse(first).RootElement;
        Assert.AreEqual("split", report.GetProperty("mode").GetString());
        Assert.AreEqual("random", report.GetProperty("split").GetString());
        Assert.AreEqual(5, report.GetProperty("seed").GetInt32());
        Assert.AreEqual(0.2, report.GetProperty("test_ratio").GetDouble());
        Assert.AreEqual(0, report.GetProperty("skipped_users").GetInt32());
        Assert.AreEqual(0, report.GetProperty("dropped_pairs").GetInt32());
        // The same data read in another order gives the same split.
        db.Scalar("SELECT rec_train('m', json_object('model', 'popular', 'source', 'SELECT u, i FROM e ORDER BY rowid DESC'))");
        Assert.AreEqual(first.Replace("\"version\":1", "\"version\":2"), Run("json_object('split', 'random', 'seed', 5)"));
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void LastSplitHoldsOutTheNewestItemAndRetrainsWithTheStoredOptions()
    {
        using var db = TestDb.InMemory().Execute("""
            CREATE TABLE events(u INTEGER, i INTEGER, w REAL, t TEXT);
            -- newest per user: 1 -> item 3 (2024-05), 2 -> item 1 (the later of two rows at the same time), 3 has one item only.
            INSERT INTO events VALUES
              (1, 1, 1, '2024-01-01'), (1, 2, 1, '2024-02-01'), (1, 3, 1, '2024-05-01'),
              (2, 2, 1, '2024-03-01'), (2, 3, 1, '2024-03-01'), (2, 1, 1, '2024-03-01'),
              (3, 2, 1, '2024-01-01'), (3, 2, 1, '2024-01-02');
            """);
        db.Scalar("SELECT rec_train('m', json_object('model', 'popular', 'source', 'SELECT u, i, w, t FROM events'))");
        var report = Report(db, $"SELECT {F}('m', json_object('split', 'last', 'k', json_array(1, 2)))");
        // Training part: 1 {1, 2}, 2 {2, 3}, 3 {2}: popularity 2 -> 3, 1 -> 1, 3 -> 1 (order 2, 1, 3).
        // User 1 holds out 3; ranking without {1, 2}: 3 -> hit at 1. User 2 holds out 1; ranking without {2, 3}: 1 -> hit at 1.
        Assert.AreEqual(2, report.GetProperty("users").GetInt32());
        Assert.AreEqual(2, report.GetProperty("test_pairs").GetInt32());
        Assert.AreEqual("last", report.GetProperty("split").GetString());
        Assert.IsFalse(report.TryGetProperty("seed", out _));
        Assert.AreEqual(1.0, Metric(report, "recall@1"));
        Assert.AreEqual(1.0, Metric(report, "ndcg@2"));
        Assert.AreEqual(0.5, Metric(report, "precision@2"));
        Assert.AreEqual(Math.Round(2.0 / 3, 6), Metric(report, "coverage@1"), "items 3 and 1 of 3");

        // With the stored time decay the recent items win: half_life_days is re-read from the version's options.
        db.Scalar("SELECT rec_train('m', json_object('model', 'popular', 'source', 'SELECT u, i, w, t FROM events', 'half_life_days', 1))");
        var decayed = Report(db, $"SELECT {F}('m', json_object('split', 'last', 'k', 1))");
        Assert.AreEqual(2, decayed.GetProperty("version").GetInt32());
        Assert.AreEqual(1.0, Metric(decayed, "recall@1"));
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void ProgressReportsEvaluatingUsers()
    {
        var reports = new List<TrainingProgress>();
        using var db = TestDb.InMemory(new SqlRecOptions { Progress = reports.Add }).Execute(RecommendTests.Likes).Execute(HeldOut);
        db.Scalar(RecommendTests.TrainPopular);
        reports.Clear();
        db.Scalar(Evaluate(TestOption("SELECT * FROM held_out")));
        var evaluating = reports.Where(r => r.Stage == "evaluating").ToList();
        Assert.AreEqual(new TrainingProgress("pop", "evaluating", 0, 3), evaluating[0]);
        Assert.AreEqual(new TrainingProgress("pop", "evaluating", 3, 3), evaluating[^1]);
        reports.Clear();
        db.Scalar(Evaluate("json_object('split', 'random')"));
        CollectionAssert.IsSubsetOf(new[] { "reading", "training", "evaluating" }, reports.Select(r => r.Stage).Distinct().ToArray());
    }

    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void IsDirectOnly()
    {
        using var db = TestDb.InMemory();
        Assert.AreNotEqual(0L, (long)db.Scalar("SELECT flags FROM pragma_function_list WHERE name = 'rec_evaluate'")! & 0x80000);
        db.Execute("CREATE TABLE t(x); CREATE VIEW v AS SELECT rec_evaluate(NULL, '{}') FROM t;");
        db.AssertError("SELECT * FROM v", "unsafe use of rec_evaluate()");
    }

    // ---- errors ----------------------------------------------------------------------------------

    [TestMethod]
    [TestCategory("errors:rec_evaluate")]
    public void BadArgumentsAndOptionsChangeNothing()
    {
        using var db = Trained().Execute(HeldOut);
        db.Scalar("SELECT rec_train('other', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM likes'))");
        var before = Snapshot(db);
        const string modes = "pass json_object('test', 'SELECT user_id, item_id FROM held_out') or json_object('split', 'random')";
        const string test = "'SELECT * FROM held_out'";
        const string kHint = "give one cutoff or several, e.g. 20 or json_array(10, 20)";
        const string kType = "an integer or an array of integers";
        var cases = new (string Sql, string Message)[]
        {
            ($"SELECT {F}(7, '{{}}')", Errors.ArgumentType(F, "model", "TEXT", 7L).Message),
            ($"SELECT {F}('nope', json_object('test', {test}))", Errors.UnknownModel(F, "nope", ["other", "pop"]).Message),
            ($"SELECT {F}(NULL, json_object('test', {test}))", Errors.ModelRequired(F, ["other", "pop"]).Message),
            ($"SELECT {F}('pop', NULL)", Errors.ArgumentNull(F, "options", modes).Message),
            ($"SELECT {F}('pop', 5)", Errors.ArgumentType(F, "options", "TEXT holding a JSON object", 5L).Message),
            ($"SELECT {F}('pop', '[1]')", Errors.OptionsNotObject(F, "array").Message),
            ($"SELECT {F}('pop', json_object('test', {test}, 'split', 'random'))", Errors.EvaluationModeBoth(F).Message),
            ($"SELECT {F}('pop', json_object('test', 5))", Errors.OptionType(F, "test", "a string", "5").Message),
            ($"SELECT {F}('pop', json_object('split', 'lastest'))", Errors.OptionRange(F, "split", "one of 'random', 'last'", "\"lastest\"").Message),
            ($"SELECT {F}('pop', json_object('split', 'random', 'test_ratio', 1))", Errors.OptionRange(F, "test_ratio", "greater than 0 and less than 1", "1").Message),
            ($"SELECT {F}('pop', json_object('split', 'random', 'test_ratio', 0))", Errors.OptionRange(F, "test_ratio", "greater than 0 and less than 1", "0").Message),
            ($"SELECT {F}('pop', json_object('split', 'random', 'test_ratio', 1.5))", Errors.OptionRange(F, "test_ratio", "greater than 0 and less than 1", "1.5").Message),
            ($"SELECT {F}('pop', json_object('split', 'random', 'test_ratio', 'half'))", Errors.OptionType(F, "test_ratio", "a number", "the string \"half\"").Message),
            ($"SELECT {F}('pop', json_object('split', 'random', 'seed', -1))", Errors.OptionRange(F, "seed", "between 0 and 2147483647", "-1").Message),
            ($"SELECT {F}('pop', json_object('split', 'random', 'seed', 1.5))", Errors.OptionType(F, "seed", "an integer", "1.5").Message),
            ($"SELECT {F}('pop', json_object('test', {test}, 'k', 0))", Errors.OptionRange(F, "k", "between 1 and 10000", "0").Message),
            ($"SELECT {F}('pop', json_object('test', {test}, 'k', 10001))", Errors.OptionRange(F, "k", "between 1 and 10000", "10001").Message),
            ($"SELECT {F}('pop', json_object('test', {test}, 'k', json_array(10, 0)))", Errors.OptionRange(F, "k", "between 1 and 10000", "0 at position 2 of the array").Message),
            ($"SELECT {F}('pop', json_object('test', {test}, 'k', json_array(10, '10')))", Errors.OptionType(F, "k", kType, "the string \"10\" at position 2 of the array").Message),
            ($"SELECT {F}('pop', json_object('test', {test}, 'k', json_array(2.5)))", Errors.OptionType(F, "k", kType, "2.5 at position 1 of the array").Message),
            ($"SELECT {F}('pop', json_object('test', {test}, 'k', 'ten'))", Errors.OptionType(F, "k", kType, "the string \"ten\"").Message),
            ($"SELECT {F}('pop', json_object('test', {test}, 'k', 2.5))", Errors.OptionType(F, "k", kType, "2.5").Message),
            ($"SELECT {F}('pop', json_object('test', {test}, 'k', json_array()))", Errors.OptionListEmpty(F, "k", kHint).Message),
            ($"SELECT {F}('pop', json_object('test', {test}, 'save', 'yes'))", Errors.OptionType(F, "save", "true or false", "the string \"yes\"").Message),
            ($"SELECT {F}('pop', json_object('test', {test}, 'seed', 1))", Errors.UnknownOption(F, "seed", "rec_evaluate() with a 'test' query", ["test", "split", "k", "save", "sampled_negatives", "sampling"]).Message),
            ($"SELECT {F}('pop', json_object('split', 'last', 'seed', 1))", Errors.UnknownOption(F, "seed", "rec_evaluate() with split 'last'", ["test", "split", "k", "save", "sampled_negatives", "sampling"]).Message),
            ($"SELECT {F}('pop', json_object('split', 'random', 'ratio', 0.5))", Errors.UnknownOption(F, "ratio", "rec_evaluate() with split 'random'", ["test", "split", "k", "save", "sampled_negatives", "sampling", "test_ratio", "seed"]).Message),
            ($"SELECT {F}('pop', json_object('split', 'random', 'save', json('true')))", Errors.SaveNeedsTest(F).Message),
        };
        foreach (var (sql, message) in cases)
        {
            db.AssertError(sql, message);
            Assert.AreEqual(before, Snapshot(db), $"changed by: {sql}");
        }
    }

    [TestMethod]
    [TestCategory("errors:rec_evaluate")]
    public void MissingModelsAreReportedLikeRecommend()
    {
        using var db = TestDb.InMemory().Execute(HeldOut);
        db.AssertError(Evaluate(TestOption("SELECT * FROM held_out"), "NULL"), Errors.NoModels(F).Message);
        db.AssertError(Evaluate(TestOption("SELECT * FROM held_out")), Errors.UnknownModel(F, "pop", []).Message);
    }

    [TestMethod]
    [TestCategory("errors:rec_evaluate")]
    public void BadTestQueriesChangeNothing()
    {
        using var db = Trained().Execute(HeldOut);
        var before = Snapshot(db);
        var cases = new (string Query, string Message)[]
        {
            ("DELETE FROM held_out", Errors.QueryNotSelect(F, QueryRole.Test, "DELETE FROM held_out").Message),
            ("WITH x AS (SELECT 1) DELETE FROM held_out", Errors.QueryNotSelect(F, QueryRole.Test, "WITH x AS (SELECT 1) DELETE FROM held_out").Message),
            ("SELECT * FROM held_out; DELETE FROM held_out", Errors.QuerySeveralStatements(F, QueryRole.Test, " DELETE FROM held_out").Message),
            ("SELECT * FROM nowhere", Errors.QueryFailed(F, QueryRole.Test, "no such table: nowhere").Message),
            ("SELECT user_id FROM held_out", Errors.QueryColumns(F, QueryRole.Test, 1).Message),
            ("SELECT user_id, item_id, 1 FROM held_out", Errors.QueryColumns(F, QueryRole.Test, 3).Message),
            ("SELECT * FROM held_out WHERE 0", Errors.QueryEmpty(F, QueryRole.Test).Message),
            ("SELECT NULL, 1", Errors.QueryBadId(F, QueryRole.Test, "user", 1, null).Message),
            ("SELECT 1, 12 UNION ALL SELECT 1, x'00'", Errors.QueryBadId(F, QueryRole.Test, "item", 2, new byte[] { 0 }).Message),
            ("SELECT 9, NULL", Errors.QueryBadId(F, QueryRole.Test, "item", 1, null).Message),
            ("SELECT 1, 2.5", Errors.QueryBadId(F, QueryRole.Test, "item", 1, 2.5).Message),
            ("SELECT 1, 12 UNION ALL SELECT abs(-9223372036854775808), 1", Errors.QueryFailed(F, QueryRole.Test, "integer overflow").Message),
            ("VALUES (9, 10), (8, 10), (2, 10)", Errors.NothingToEvaluate(F, "pop", 2, 1).Message),
            ("VALUES ('1', 12)", Errors.NothingToEvaluate(F, "pop", 1, 0).Message),
        };
        foreach (var (query, message) in cases)
        {
            db.AssertError(Evaluate(TestOption(query)), message);
            db.AssertError(Evaluate(TestOption(query, ", 'save', json('true')")), message);
            Assert.AreEqual(before, Snapshot(db), $"changed by test query: {query}");
        }
    }

    [TestMethod]
    [TestCategory("errors:rec_evaluate")]
    public void SplitsThatCannotRunChangeNothing()
    {
        using var db = Trained();
        db.Scalar("SELECT rec_train('single', json_object('model', 'popular', 'source', 'VALUES (1, 10), (2, 10), (3, 11)'))");
        var before = Snapshot(db);
        db.AssertError($"SELECT {F}('pop', json_object('split', 'last'))", Errors.SplitNeedsTimestamp(F, "pop", 2).Message);
        db.AssertError($"SELECT {F}('single', json_object('split', 'random'))", Errors.SplitEmpty(F, "random", "single").Message);
        Assert.AreEqual(before, Snapshot(db));
        // The stored source is run again as it is now.
        db.Execute("ALTER TABLE likes RENAME TO old_likes");
        db.AssertError($"SELECT {F}('pop', json_object('split', 'random'))", Errors.QueryFailed(F, QueryRole.Source, "no such table: likes").Message);
        db.Execute("ALTER TABLE old_likes RENAME TO likes; DELETE FROM likes;");
        db.AssertError($"SELECT {F}('pop', json_object('split', 'random'))", Errors.QueryEmpty(F, QueryRole.Source).Message);
    }

    /// <summary>
    /// With several seeds, each run equals rec_evaluate with that seed alone, the metrics are their
    /// means and the standard errors are over the seeds; one split reports standard errors over users.
    /// </summary>
    [TestMethod]
    [TestCategory("fn:rec_evaluate")]
    public void SeveralSeedsAverageTheirRunsWithStandardErrors()
    {
        using var db = GraphFilterTests.ClusteredShop(users: 60);
        db.Scalar("SELECT rec_train('gf', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM train', 'components', 8))");
        var report = Report(db, "SELECT rec_evaluate('gf', json_object('split', 'random', 'seeds', json_array(3, 1, 2), 'k', 10))");
        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, report.GetProperty("seeds").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        Assert.IsFalse(report.TryGetProperty("seed", out _));
        var runs = report.GetProperty("runs").EnumerateArray().ToList();
        Assert.AreEqual(3, runs.Count);
        var recalls = new List<double>();
        foreach (var run in runs)
        {
            var single = Report(db, $"SELECT rec_evaluate('gf', json_object('split', 'random', 'seed', {run.GetProperty("seed").GetInt32()}, 'k', 10))");
            Assert.AreEqual(single.GetProperty("metrics").GetRawText(), run.GetProperty("metrics").GetRawText(), "a run is that seed's evaluation");
            Assert.AreEqual(single.GetProperty("users").GetInt32(), run.GetProperty("users").GetInt32());
            recalls.Add(Metric(single, "recall@10"));
            var userErrors = single.GetProperty("standard_errors").GetProperty("recall@10").GetDouble();
            Assert.IsTrue(userErrors > 0 && userErrors < 0.2, $"standard error over users {userErrors}");
        }
        var mean = recalls.Average();
        Assert.AreEqual(mean, Metric(report, "recall@10"), 2e-6);
        var expectedError = Math.Sqrt(recalls.Sum(r => (r - mean) * (r - mean)) / 2 / 3);
        Assert.AreEqual(expectedError, report.GetProperty("standard_errors").GetProperty("recall@10").GetDouble(), 2e-6);
        db.AssertError("SELECT rec_evaluate('gf', json_object('split', 'random', 'seed', 1, 'seeds', json_array(1, 2)))", Errors.SeedAndSeeds(F).Message);
        db.AssertError("SELECT rec_evaluate('gf', json_object('split', 'random', 'seeds', json_array(-1)))",
            Errors.OptionRange(F, "seeds", "between 0 and 2147483647", "-1 at position 1 of the array").Message);
    }
}
