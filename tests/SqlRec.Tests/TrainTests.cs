using System.Text.Json;
using SqlRec.Store;

namespace SqlRec.Tests;

/// <summary>rec_train: the popular kind, option and source validation, atomic replacement and training leases.</summary>
[TestClass]
[DoNotParallelize]
public sealed class TrainTests
{
    private static string Options(string source, string extra = "") =>
        $"SELECT rec_train('m', json_object('model','popular','source','{source.Replace("'", "''")}'{extra}))";

    private static TestDb Db(SqlRecOptions? options = null) => TestDb.InMemory(options).Execute(RecommendTests.Likes);

    /// <summary>Everything SqlRec stores, to prove a failed call changed nothing.</summary>
    private static string Snapshot(TestDb db)
    {
        var tables = db.Rows("SELECT name FROM sqlite_schema WHERE name LIKE 'rec\\_%' ESCAPE '\\' AND type = 'table' ORDER BY name");
        var parts = new List<string>();
        foreach (var table in tables)
        {
            var rows = db.Rows($"SELECT * FROM \"{table[0]}\"");
            parts.Add(table[0] + ":" + string.Join(";", rows.Select(r => string.Join(",", r.Select(v => v is byte[] b ? Convert.ToBase64String(b) : v?.ToString())))));
        }
        return string.Join("\n", parts);
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void ReturnsASummaryAndStoresTheModel()
    {
        using var db = Db();
        var summary = JsonDocument.Parse((string)db.Scalar(Options("SELECT user_id, item_id FROM likes"))!).RootElement;
        Assert.AreEqual("m", summary.GetProperty("model").GetString());
        Assert.AreEqual(1, summary.GetProperty("version").GetInt32());
        Assert.AreEqual("popular", summary.GetProperty("kind").GetString());
        Assert.AreEqual(4, summary.GetProperty("users").GetInt32(), "user 5 likes nothing");
        Assert.AreEqual(5, summary.GetProperty("items").GetInt32());
        Assert.AreEqual(11, summary.GetProperty("interactions").GetInt32());
        var model = db.Rows("SELECT kind, status, current_version, training_owner, json_extract(options, '$.source') FROM rec_models WHERE name = 'm'").Single();
        CollectionAssert.AreEqual(new object?[] { "popular", "ready", 1L, null, "SELECT user_id, item_id FROM likes" }, model);
        // Ids keep their SQLite type in the id map, in sorted order (integers first).
        var items = db.Rows("SELECT idx, id, typeof(id) FROM rec_id_map WHERE model = 'm' AND space = 'item' ORDER BY idx");
        CollectionAssert.AreEqual(new object?[] { 10L, 11L, 12L, 13L, "x" }, items.Select(r => r[1]).ToArray());
        Assert.AreEqual("text", items[4][2]);
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void WeightsAndDuplicatesAreSummed()
    {
        using var db = Db();
        db.Scalar(Options("SELECT user_id, item_id, stars FROM likes"));
        // Weighted popularity: 10 -> 5+5+4+1 = 15, 11 -> 4+5+2 = 11, 12 -> 3+5 = 8, 'x' -> 4, 13 -> 2.
        var scores = db.Rows("SELECT item_id, score FROM recommend(999, 5)");
        CollectionAssert.AreEqual(new object?[] { 10L, 11L, 12L, "x", 13L }, scores.Select(r => r[0]).ToArray());
        CollectionAssert.AreEqual(new object?[] { 15.0, 11.0, 8.0, 4.0, 2.0 }, scores.Select(r => r[1]).ToArray());
        db.Scalar(Options("SELECT 1, 7 UNION ALL SELECT 1, 7 UNION ALL SELECT 2, 8"));
        Assert.AreEqual(2.0, db.Scalar("SELECT score FROM recommend(3, 1)"));
        Assert.AreEqual(2L, db.Scalar("SELECT interactions FROM rec_model_versions WHERE model = 'm' AND version = 2"));
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void TimeDecayFavoursRecentInteractions()
    {
        using var db = TestDb.InMemory().Execute("""
            CREATE TABLE events(u INTEGER, i INTEGER, t TEXT);
            -- item 1: three old events; item 2: two recent ones.
            INSERT INTO events VALUES (1,1,'2024-01-01'),(2,1,'2024-01-02'),(3,1,'2024-01-03'),(4,2,'2024-06-01'),(5,2,'2024-06-01T12:00:00Z');
            """);
        db.Scalar(Options("SELECT u, i, 1, t FROM events"));
        Assert.AreEqual("[1,2]", db.Scalar("SELECT recommend(0, 2)"), "no decay: counts");
        db.Scalar(Options("SELECT u, i, 1, t FROM events", ", 'half_life_days', 30"));
        Assert.AreEqual("[2,1]", db.Scalar("SELECT recommend(0, 2)"), "30-day half-life: the recent item wins");
        var newest = (double)db.Scalar("SELECT score FROM recommend(0, 1)")!;
        Assert.AreEqual(1 + Math.Pow(2, -0.5 / 30), newest, 1e-5, "an event half a day before the newest counts 2^(-0.5/30)");
        // Unix seconds work as timestamps too.
        db.Scalar(Options("SELECT u, i, 1.0, unixepoch(t) FROM events", ", 'half_life_days', 30"));
        Assert.AreEqual("[2,1]", db.Scalar("SELECT recommend(0, 2)"));
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void RetrainingReplacesTheServingVersionAndKeepsOnePrevious()
    {
        using var db = Db();
        db.Scalar(Options("SELECT user_id, item_id FROM likes"));
        db.Scalar(Options("SELECT user_id, item_id FROM likes WHERE item_id <> 10"));
        Assert.AreEqual("[11,12,13]", db.Scalar("SELECT recommend(42, 3)"));
        db.Scalar(Options("SELECT user_id, item_id FROM likes WHERE item_id = 13"));
        Assert.AreEqual("[13]", db.Scalar("SELECT recommend(42, 3)"));
        CollectionAssert.AreEqual(new object?[] { 2L, 3L }, db.Rows("SELECT version FROM rec_model_versions ORDER BY version").Select(r => r[0]).ToArray());
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_arrays WHERE version < 2"));
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_id_map WHERE version < 2"));
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void SourceMayBeAnyReadOnlyQuery()
    {
        using var db = Db();
        db.Scalar(Options("WITH l AS (SELECT * FROM likes) SELECT user_id, item_id FROM l"));
        db.Scalar(Options("  -- a comment first\n  VALUES (1, 2), (2, 3)"));
        Assert.AreEqual("[3]", db.Scalar("SELECT recommend(1, 5)"));
        db.Scalar(Options("/* c */ SELECT user_id, item_id FROM likes;  "));
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void BadArgumentsAndOptionsChangeNothing()
    {
        using var db = Db();
        var before = Snapshot(db);
        const string optionsHint = "pass json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM ...')";
        var cases = new (string Sql, string Message)[]
        {
            ("SELECT rec_train(NULL, '{}')", Errors.ModelNameInvalid("rec_train", null).Message),
            ("SELECT rec_train('', '{}')", Errors.ModelNameInvalid("rec_train", "").Message),
            ("SELECT rec_train('   ', '{}')", Errors.ModelNameInvalid("rec_train", "   ").Message),
            ("SELECT rec_train(5, '{}')", Errors.ModelNameInvalid("rec_train", 5L).Message),
            ($"SELECT rec_train('{new string('n', 129)}', '{{}}')", Errors.ModelNameInvalid("rec_train", new string('n', 129)).Message),
            ("SELECT rec_train('m', NULL)", Errors.ArgumentNull("rec_train", "options", optionsHint).Message),
            ("SELECT rec_train('m', 42)", Errors.ArgumentType("rec_train", "options", "TEXT holding a JSON object", 42L).Message),
            ("SELECT rec_train('m', '[1]')", Errors.OptionsNotObject("rec_train", "array").Message),
            ("SELECT rec_train('m', '{\"model\":\"popular\",\"model\":\"popular\"}')", Errors.DuplicateOption("rec_train", "model").Message),
            // Without 'model' the kind is 'auto', which still needs a source.
            ("SELECT rec_train('m', '{}')", Errors.MissingOption("rec_train", "source", "a SELECT that returns (user, item[, weight[, timestamp]])").Message),
            ("SELECT rec_train('m', '{\"model\":\"popular\"}')", Errors.MissingOption("rec_train", "source", "a SELECT that returns (user, item[, weight[, timestamp]])").Message),
            ("SELECT rec_train('m', '{\"model\":\"lightgcm\",\"source\":\"SELECT 1,2\"}')", Errors.UnknownModelKind("rec_train", "lightgcm", ["popular", "graph_filter", "lightgcn", "freedom", "ease", "sasrec", "auto"]).Message),
            ("SELECT rec_train('m', '{\"model\":7}')", Errors.OptionType("rec_train", "model", "a string", "7").Message),
            (Options("SELECT user_id, item_id FROM likes", ", 'dim', 64"), Errors.UnknownOption("rec_train", "dim", "model kind 'popular'", ["model", "source", "half_life_days"]).Message),
            (Options("SELECT user_id, item_id, 1, 0 FROM likes", ", 'half_life_days', 0"), Errors.OptionRange("rec_train", "half_life_days", "greater than 0 and at most 1000000", "0").Message),
            (Options("SELECT user_id, item_id, 1, 0 FROM likes", ", 'half_life_days', -1"), Errors.OptionRange("rec_train", "half_life_days", "greater than 0 and at most 1000000", "-1").Message),
            (Options("SELECT user_id, item_id, 1, 0 FROM likes", ", 'half_life_days', 'week'"), Errors.OptionType("rec_train", "half_life_days", "a number", "the string \"week\"").Message),
            (Options("SELECT user_id, item_id FROM likes", ", 'half_life_days', 7"), Errors.DecayNeedsTimestamp("rec_train").Message),
        };
        foreach (var (sql, message) in cases)
        {
            db.AssertError(sql, message);
            Assert.AreEqual(before, Snapshot(db), $"changed by: {sql}");
        }
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'rec_%'"), "no store tables before a training succeeds");
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void MalformedJsonNamesTheProblem()
    {
        using var db = Db();
        foreach (var text in new[] { "{model: popular}", "{\"model\": \"popular\",}", "{", "not json" })
        {
            var parseError = Assert.Throws<JsonException>(() => JsonDocument.Parse(text), text);
            db.AssertError("SELECT rec_train('m', $1)", Errors.OptionsMalformed("rec_train", OptionReader.JsonErrorDetail(parseError)).Message, text);
        }
        // The detail says what is wrong and where, e.g. "'m' is an invalid start of a property name ... LineNumber: 0 | BytePositionInLine: 1".
        StringAssert.Contains(OptionReader.JsonErrorDetail(Assert.Throws<JsonException>(() => JsonDocument.Parse("{model: 1}"))), "BytePositionInLine: 1");
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void BadSourcesChangeNothing()
    {
        using var db = Db();
        db.Scalar(Options("SELECT user_id, item_id FROM likes"));
        var before = Snapshot(db);
        var cases = new (string Source, string Message)[]
        {
            ("DELETE FROM likes", Errors.QueryNotSelect("rec_train", QueryRole.Source, "DELETE FROM likes").Message),
            ("WITH x AS (SELECT 1) DELETE FROM likes", Errors.QueryNotSelect("rec_train", QueryRole.Source, "WITH x AS (SELECT 1) DELETE FROM likes").Message),
            ("PRAGMA table_info(likes)", Errors.QueryNotSelect("rec_train", QueryRole.Source, "PRAGMA table_info(likes)").Message),
            ("SELECT user_id, item_id FROM likes; DELETE FROM likes", Errors.QuerySeveralStatements("rec_train", QueryRole.Source, " DELETE FROM likes").Message),
            ("SELECT * FROM nowhere", Errors.QueryFailed("rec_train", QueryRole.Source, "no such table: nowhere").Message),
            ("SELECT user_id FROM likes", Errors.QueryColumns("rec_train", QueryRole.Source, 1).Message),
            ("SELECT user_id, item_id, stars, 0, 0 FROM likes", Errors.QueryColumns("rec_train", QueryRole.Source, 5).Message),
            ("SELECT user_id, item_id FROM likes WHERE 0", Errors.QueryEmpty("rec_train", QueryRole.Source).Message),
            ("SELECT NULL, 1", Errors.QueryBadId("rec_train", QueryRole.Source, "user", 1, null).Message),
            ("SELECT 1, 2 UNION ALL SELECT 1, x'00'", Errors.QueryBadId("rec_train", QueryRole.Source, "item", 2, new byte[] { 0 }).Message),
            ("SELECT 1, 2.5", Errors.QueryBadId("rec_train", QueryRole.Source, "item", 1, 2.5).Message),
            ("SELECT 1, 2, -1", Errors.SourceBadWeight("rec_train", 1, -1L).Message),
            ("SELECT 1, 2, 'heavy'", Errors.SourceBadWeight("rec_train", 1, "heavy").Message),
            ("SELECT 1, 2, NULL", Errors.SourceBadWeight("rec_train", 1, null).Message),
            ("SELECT 1, 2, 1e999", Errors.SourceBadWeight("rec_train", 1, double.PositiveInfinity).Message),
            ("SELECT 1, 2, 1, 'yesterday'", Errors.SourceBadTimestamp("rec_train", 1, "yesterday").Message),
            ("SELECT 1, 2, 1, NULL", Errors.SourceBadTimestamp("rec_train", 1, null).Message),
            ("SELECT 1, 2 UNION ALL SELECT abs(-9223372036854775808), 1", Errors.QueryFailed("rec_train", QueryRole.Source, "integer overflow").Message),
        };
        foreach (var (source, message) in cases)
        {
            db.AssertError(Options(source), message);
            Assert.AreEqual(before, Snapshot(db), $"changed by source: {source}");
            Assert.AreEqual("[12,13,\"x\"]", db.Scalar("SELECT recommend(1, 10)"), "the old version keeps serving");
        }
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void AFailureHalfwayThroughPublishingLeavesTheOldVersionServing()
    {
        var failing = true;
        using var db = Db(new SqlRecOptions { FaultInjection = stage => { if (failing) throw new InvalidOperationException($"injected at {stage}"); } });
        failing = false;
        db.Scalar(Options("SELECT user_id, item_id FROM likes"));
        var before = Snapshot(db);
        failing = true;
        db.AssertError(Options("SELECT user_id, item_id FROM likes WHERE item_id = 13"),
            Errors.TrainingFailed("rec_train", "m", "injected at publish").Message);
        failing = false;
        Assert.AreEqual(before, Snapshot(db), "version 2's rows were rolled back and the lease released");
        Assert.AreEqual("[12,13,\"x\"]", db.Scalar("SELECT recommend(1, 10)"));
        // The next training works and gets the next version number.
        db.Scalar(Options("SELECT user_id, item_id FROM likes WHERE item_id = 13"));
        Assert.AreEqual("[13]", db.Scalar("SELECT recommend(1, 10)"));
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void AFailedFirstTrainingLeavesNoModelBehind()
    {
        using var db = Db(new SqlRecOptions { FaultInjection = _ => throw new InvalidOperationException("disk on fire") });
        db.AssertError(Options("SELECT user_id, item_id FROM likes"), Errors.TrainingFailed("rec_train", "m", "disk on fire").Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_models"));
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_model_versions"));
        db.AssertError("SELECT recommend(1, 10)", Errors.NoModels("recommend").Message);
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void ALiveLeaseFromAnotherConnectionRefusesASecondTraining()
    {
        using var db = Db();
        db.Scalar(Options("SELECT user_id, item_id FROM likes"));
        // Another process holds the lease with a fresh heartbeat.
        db.Execute("UPDATE rec_models SET status = 'training', training_owner = 'other', training_started_at = '2026-01-01T00:00:00Z', training_heartbeat = unixepoch('subsec')");
        db.AssertError(Options("SELECT user_id, item_id FROM likes"), Errors.TrainingInProgress("rec_train", "m", "2026-01-01T00:00:00Z").Message);
        db.AssertError("SELECT rec_drop('m')", Errors.TrainingInProgress("rec_drop", "m", "2026-01-01T00:00:00Z").Message);
        Assert.AreEqual("[12,13,\"x\"]", db.Scalar("SELECT recommend(1, 10)"), "the serving version is unaffected by a training in progress");
        // A lease whose heartbeat is older than the timeout was abandoned (its process died) and is taken over.
        db.Execute("UPDATE rec_models SET training_heartbeat = unixepoch('subsec') - $1", ModelStore.LeaseTimeout.TotalSeconds + 1);
        db.Scalar(Options("SELECT user_id, item_id FROM likes WHERE item_id = 13"));
        Assert.AreEqual("ready", db.Scalar("SELECT status FROM rec_models"));
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void TheSameModelCannotBeTrainedTwiceAtOnceInOneProcess()
    {
        // While 'm' trains on one connection, its progress callback starts a training of 'm' on another
        // connection of the same process and file: the second is refused at once.
        TestDb? db = null;
        string? second = null;
        void Progress(TrainingProgress progress)
        {
            if (second is not null || progress.Stage != "training") return;
            using var other = db!.OpenAnother();
            var error = Assert.ThrowsExactly<Microsoft.Data.Sqlite.SqliteException>(() => TestDb.Scalar(other, Options("SELECT user_id, item_id FROM likes")));
            second = TestDb.SqliteMessage(error);
        }
        using (db = TestDb.InFile(new SqlRecOptions { Progress = Progress }))
        {
            db.Execute(RecommendTests.Likes);
            db.Scalar(Options("SELECT user_id, item_id FROM likes"));
            StringAssert.StartsWith(second, "rec_train(): model 'm' is already being trained (since ");
            Assert.AreEqual(1L, db.Scalar("SELECT current_version FROM rec_models WHERE name = 'm'"), "the first training finished");
        }
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void AnInterruptedTrainingLeavesTheOldVersionServingAndCanBeRetriedAtOnce()
    {
        Microsoft.Data.Sqlite.SqliteConnection? connection = null;
        string? interruptAt = null;
        void Interrupt(TrainingProgress progress)
        {
            if (progress.Stage != interruptAt) return;
            interruptAt = null;
            // What an application does to cancel a running statement (SqliteConnection exposes the handle).
            SQLitePCL.raw.sqlite3_interrupt(connection!.Handle);
        }
        using var db = TestDb.InMemory(new SqlRecOptions { Progress = Interrupt }).Execute(RecommendTests.Likes);
        connection = db.Connection;
        const string train = "SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',2))";
        db.Scalar(train);
        var before = db.Scalar("SELECT recommend(1, 10)");
        foreach (var stage in new[] { "training", "reading", "saving" })
        {
            interruptAt = stage;
            db.AssertError(train, Errors.TrainingInterrupted("rec_train", "gf").Message);
            Assert.AreEqual(before, db.Scalar("SELECT recommend(1, 10)"), $"interrupted at {stage}: version 1 keeps serving");
            Assert.AreEqual(1L, db.Scalar("SELECT current_version FROM rec_models WHERE name = 'gf'"));
        }
        // The lease the interrupted training could not clear does not block the next one.
        Assert.AreEqual(2L, JsonDocument.Parse((string)db.Scalar(train)!).RootElement.GetProperty("version").GetInt64());
        Assert.AreEqual("ready", db.Scalar("SELECT status FROM rec_models WHERE name = 'gf'"));
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void AnInterruptedFirstTrainingOnAFileLeavesNothingForOtherConnections()
    {
        Microsoft.Data.Sqlite.SqliteConnection? connection = null;
        using var db = TestDb.InFile(new SqlRecOptions
        {
            Progress = p => { if (p.Stage == "training") SQLitePCL.raw.sqlite3_interrupt(connection!.Handle); },
        }).Execute(RecommendTests.Likes);
        connection = db.Connection;
        db.AssertError(RecommendTests.TrainPopular, Errors.TrainingInterrupted("rec_train", "pop").Message);
        // The interrupted connection could not clear its lease; a side connection did, so another
        // connection (another process, as far as SqlRec can tell) trains at once.
        using var other = db.OpenAnother();
        Assert.AreEqual(0L, TestDb.Scalar(other, "SELECT count(*) FROM rec_models"));
        TestDb.Scalar(other, RecommendTests.TrainPopular);
        Assert.AreEqual("[12,13,\"x\"]", TestDb.Scalar(other, "SELECT recommend(1, 10)"));
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void ProgressIsReported()
    {
        var reports = new List<TrainingProgress>();
        using var db = TestDb.InMemory(new SqlRecOptions { Progress = reports.Add }).Execute(RecommendTests.Likes);
        db.Scalar(Options("SELECT user_id, item_id FROM likes"));
        CollectionAssert.IsSubsetOf(new[] { "reading", "training", "saving" }, reports.Select(r => r.Stage).Distinct().ToArray());
        Assert.AreEqual(11L, reports.Last(r => r.Stage == "reading").Done);
        Assert.IsTrue(reports.All(r => r.Model == "m"));
    }
}
