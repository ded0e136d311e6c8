namespace SqlRec.Tests;

/// <summary>
/// What SqlRec refuses to be fooled by: tables that shadow its store, queries that try to write
/// through SqlRec's own functions, SQL stored in a hostile file. See SECURITY.md.
/// </summary>
[TestClass]
public sealed class TrustTests
{
    /// <summary>TEMP tables named like the store's hide the main ones from unqualified SQL; SqlRec names the schema.</summary>
    [TestMethod]
    public void TempTablesNamedLikeTheStoreChangeNothing()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        var before = (string)db.Scalar("SELECT recommend(1, 5, 'pop')")!;
        db.Execute("""
            CREATE TEMP TABLE rec_models(name TEXT, current_version INTEGER);
            INSERT INTO temp.rec_models VALUES ('pop', 99), ('ghost', 1);
            CREATE TEMP TABLE rec_model_versions(model TEXT, version INTEGER);
            CREATE TEMP TABLE rec_arrays(model TEXT, version INTEGER, name TEXT, part INTEGER, dtype TEXT, data BLOB);
            CREATE TEMP TABLE rec_id_map(model TEXT, version INTEGER, space TEXT, idx INTEGER, id);
            CREATE TEMP TABLE rec_embedders(name TEXT);
            CREATE TEMP TABLE rec_collections(name TEXT);
            CREATE TEMP TABLE rec_publications(vec_table TEXT);
            """);
        Assert.AreEqual(before, db.Scalar("SELECT recommend(1, 5, 'pop')"));
        db.Scalar(RecommendTests.TrainPopular);
        db.Scalar(RecommendTests.TrainPopular);
        Assert.AreEqual(before, db.Scalar("SELECT recommend(1, 5, 'pop')"), "a retrain switches main's model to a version that exists");
        Assert.AreEqual(3L, db.Scalar("SELECT current_version FROM main.rec_models WHERE name = 'pop'"));
        Assert.AreEqual(2L, db.Scalar("SELECT count(*) FROM main.rec_model_versions WHERE model = 'pop'"));
        db.AssertError("SELECT recommend(1, 5, 'ghost')", Errors.UnknownModel("recommend", "ghost", ["pop"]).Message);
        Assert.AreEqual(2L, db.Scalar("SELECT rec_drop('pop')"), "the two kept versions");
        Assert.AreEqual(2L, db.Scalar("SELECT count(*) FROM temp.rec_models"), "the TEMP tables are the application's and stay as they were");
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM main.rec_models"));
    }

    private const string TrainGraphFilter = "SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',2))";

    private static string Refused(string function, string subject, string called, string reason) =>
        Errors.QueryCallsRefused(function, subject, called, reason).Message;

    private const string Writes = "writes or runs a query of its own; the queries SqlRec runs may only read";
    private const string LoadsCode = "loads native code; the queries SqlRec runs may only read";
    private const string NotFromStored = "SqlRec does not run from SQL stored in a database; retrain the model with a source that does not call it";
    private const string NotInnocuous = "is neither built into SQLite nor registered as innocuous; SqlRec runs SQL stored in a database only with such functions, " +
        "as SQLite runs a view under PRAGMA trusted_schema = OFF; retrain the model with a source that does not call it";

    /// <summary>The store's rows, to show a refused call changed nothing.</summary>
    private static string StoreState(TestDb db) => string.Join("|", db.Rows(
        "SELECT name, coalesce(current_version, -1), status FROM main.rec_models ORDER BY name").Select(r => string.Join(",", r)))
        + "|" + db.Scalar("SELECT count(*) FROM main.rec_model_versions") + "|" + db.Scalar("SELECT count(*) FROM sqlite_schema");

    /// <summary>
    /// Every query a caller gives SqlRec is one read-only SELECT, and SQLite counts a SELECT that
    /// calls rec_drop() as read-only: each role refuses SqlRec's writing functions and
    /// load_extension() before the query runs, and nothing changes.
    /// </summary>
    [TestMethod]
    public void AGivenQueryCannotCallAFunctionThatWrites()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        db.Scalar(TrainGraphFilter);
        var state = StoreState(db);
        const string drop = "rec_drop(''pop'') > 0";
        var cases = new (string Sql, string Function, string Subject, string Called, string Reason)[]
        {
            ($"SELECT rec_train('m', json_object('model','popular','source','SELECT user_id, item_id FROM likes WHERE {drop}'))", "rec_train", "the 'source' query", "rec_drop", Writes),
            ($"SELECT recommend(1, 3, 'pop', json_object('candidates', 'SELECT item_id FROM likes WHERE {drop}'))", "recommend", "the 'candidates' query", "rec_drop", Writes),
            ($"SELECT rec_evaluate('pop', json_object('test', 'SELECT user_id, item_id FROM likes WHERE {drop}'))", "rec_evaluate", "the 'test' query", "rec_drop", Writes),
            ("SELECT rec_publish('c', json_object('text', 'SELECT id, title FROM items WHERE rec_train(''z'', ''{}'') IS NULL', 'embedder', 'hash'))", "rec_publish", "the 'text' query", "rec_train", Writes),
            ($"SELECT rec_publish('c', json_object('source', 'SELECT id, rec_embed(''hash'', title) FROM items WHERE {drop}'))", "rec_publish", "the 'source' query", "rec_drop", Writes),
            ($"SELECT count(*) FROM rec_embed_each('hash', 'SELECT id, title FROM items WHERE {drop}')", "rec_embed_each", "the 'query'", "rec_drop", Writes),
            ($"SELECT count(*) FROM rec_score('pop', 'SELECT user_id FROM likes WHERE {drop}', 3)", "rec_score", "the 'users' query", "rec_drop", Writes),
            ("SELECT recommend(1, 3, 'pop', json_object('candidates', 'SELECT item_id FROM likes WHERE rec_register_embedder(''e'', json_object(''kind'', ''hash'')) IS NULL'))",
                "recommend", "the 'candidates' query", "rec_register_embedder", Writes),
            ("SELECT rec_train('m', json_object('model','popular','source','SELECT user_id, item_id FROM likes WHERE load_extension(''/tmp/x'') IS NULL'))",
                "rec_train", "the 'source' query", "load_extension", LoadsCode),
        };
        db.Execute("CREATE VIEW sneaky AS SELECT item_id FROM likes WHERE rec_unpublish('pop') IS NOT NULL");
        state = StoreState(db);
        foreach (var (sql, function, subject, called, reason) in cases)
        {
            db.AssertError(sql, Refused(function, subject, called, reason));
            Assert.AreEqual(state, StoreState(db), sql);
        }
        // Through a view SQLite itself refuses SqlRec's functions: they are DIRECTONLY.
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('candidates', 'SELECT item_id FROM sneaky'))",
            Errors.QueryFailed("recommend", QueryRole.Candidates, "unsafe use of rec_unpublish()").Message);
        Assert.AreEqual(state, StoreState(db));
        Assert.AreEqual(2, db.Rows("SELECT name FROM main.rec_models").Count, "both models are still there");
    }

    /// <summary>
    /// The table-valued forms are virtual tables, which a query's program does not name: inside a
    /// query SqlRec runs, the SQL layer refuses every SqlRec function that writes or runs a query
    /// of its own when it is called, and a function that reads may run but not start a query.
    /// </summary>
    [TestMethod]
    public void InsideItsQueriesSqlRecRunsOnlyWhatReadsAndNothingNests()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        db.Scalar(TrainGraphFilter);
        var state = StoreState(db);
        // rec_embed_each runs a query of its own: refused when SQLite opens it inside the candidates query.
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('candidates', 'SELECT id FROM rec_embed_each(''hash'', ''SELECT id, title FROM items'')'))",
            Errors.QueryFailed("recommend", QueryRole.Candidates,
                Errors.CalledInsideQuery("rec_embed_each", "recommend", "the 'candidates' query").Message).Message);
        Assert.AreEqual(state, StoreState(db));
        // So does rec_score, which runs its users query.
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('candidates', 'SELECT item_id FROM rec_score(''pop'', ''SELECT 1'', 3)'))",
            Errors.QueryFailed("recommend", QueryRole.Candidates,
                Errors.CalledInsideQuery("rec_score", "recommend", "the 'candidates' query").Message).Message);
        Assert.AreEqual(state, StoreState(db));

        // Reading functions compose: re-rank another model's top 3 with this one (a snapshot model: it runs no query to serve).
        db.Scalar("SELECT rec_train('snap', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',2,'live',json('false')))");
        state = StoreState(db);
        var top3 = db.Rows("SELECT item_id FROM recommend(1, 3, 'snap')").Select(r => r[0]).ToHashSet();
        var within = db.Rows("SELECT item_id FROM recommend(1, 3, 'pop', json_object('candidates', 'SELECT item_id FROM recommend(1, 3, ''snap'')'))");
        Assert.IsNotEmpty(within);
        foreach (var row in within) Assert.Contains(row[0], top3);
        Assert.AreEqual(1L, db.Scalar("SELECT count(*) FROM recommend(1, 1, 'pop', json_object('candidates', 'SELECT 12 WHERE rec_version() IS NOT NULL'))"));

        // ... but one that would run a query of its own (a live model reads the user's rows, a candidates list) does not nest.
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('candidates', 'SELECT item_id FROM recommend(1, 3, ''gf'')'))",
            Errors.QueryFailed("recommend", QueryRole.Candidates,
                Errors.QueryInsideQuery("recommend", "the 'source' query stored with model 'gf'", "recommend", "the 'candidates' query").Message).Message);
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('candidates', 'SELECT item_id FROM recommend(1, 3, ''snap'', json_object(''candidates'', ''SELECT 10''))'))",
            Errors.QueryFailed("recommend", QueryRole.Candidates,
                Errors.QueryInsideQuery("recommend", "the 'candidates' query", "recommend", "the 'candidates' query").Message).Message);
        Assert.AreEqual(state, StoreState(db));
    }

    /// <summary>
    /// A model's source is stored in the file and re-run: by a live model on every recommend(), and
    /// by rec_evaluate's split. A hostile file may hold any text there: it is checked when read,
    /// against the rules for stored SQL, before it runs.
    /// </summary>
    [TestMethod]
    public void SqlStoredInTheFileIsCheckedBeforeItRuns()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        db.Scalar(TrainGraphFilter);
        // An application function with no flags (not innocuous): fine in a query the caller gives, not in stored SQL.
        db.Connection.CreateFunction("app_score", (long x) => x);
        Assert.AreEqual(1L, db.Scalar("SELECT count(*) FROM recommend(1, 1, 'pop', json_object('candidates', 'SELECT app_score(12)'))"));

        var stored = new (string Source, string Called, string Reason)[]
        {
            ("SELECT user_id, item_id FROM likes WHERE rec_drop('pop') > 0", "rec_drop", Writes),
            ("SELECT user_id, item_id FROM likes WHERE load_extension('/tmp/evil') IS NULL", "load_extension", LoadsCode),
            ("SELECT user_id, item_id FROM likes WHERE app_score(1) = 1", "app_score", NotInnocuous),
            ("SELECT user_id, item_id FROM likes WHERE recommend(1, 1, 'pop') IS NOT NULL", "recommend", NotFromStored),
        };
        // Each case on a model of its own, damaged before anything loads it (a loaded version keeps the text it was checked with).
        var n = 0;
        foreach (var (source, called, reason) in stored)
        {
            var model = $"live{++n}";
            db.Scalar($"SELECT rec_train('{model}', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',2))");
            db.Execute("UPDATE main.rec_model_versions SET options = json_set(options, '$.source', $1) WHERE model = $2", source, model);
            db.Execute("UPDATE main.rec_models SET options = json_set(options, '$.source', $1) WHERE name = $2", source, model);
            var state = StoreState(db);
            db.AssertError($"SELECT recommend(1, 3, '{model}')", Refused("recommend", $"the 'source' query stored with model '{model}'", called, reason));
            db.AssertError($"SELECT rec_evaluate('{model}', json_object('split', 'random'))", Refused("rec_evaluate", $"the 'source' query stored with model '{model}'", called, reason));
            Assert.AreEqual(state, StoreState(db), source);
        }
        // Built-in functions are what stored SQL may use.
        const string plain = "SELECT user_id, item_id FROM likes WHERE abs(stars) >= 0 AND coalesce(user_id, 0) = user_id";
        db.Scalar("SELECT rec_train('plain', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',2))");
        db.Execute("UPDATE main.rec_model_versions SET options = json_set(options, '$.source', $1) WHERE model = 'plain'", plain);
        Assert.IsNotNull(db.Scalar("SELECT recommend(1, 3, 'plain')"));
        Assert.AreEqual(2 + n + 1, db.Rows("SELECT name FROM main.rec_models").Count, "every model is still there");
    }

    /// <summary>The names the query rules know are the functions the SQL layer registers.</summary>
    [TestMethod]
    public void TheQueryRulesKnowEveryFunctionSqlRecRegisters()
    {
        CollectionAssert.AreEquivalent(SqlRec.Sql.SqlFunctions.All.Select(f => f.Name).ToArray(), OwnFunctions.All.ToArray());
        Assert.IsTrue(OwnFunctions.ReadOnly.IsSubsetOf(OwnFunctions.All));
        Assert.IsFalse(OwnFunctions.ReadOnly.Overlaps(OwnFunctions.Writers), "a function either reads or writes");
        CollectionAssert.AreEquivalent(OwnFunctions.All.ToArray(), OwnFunctions.ReadOnly.Concat(OwnFunctions.Writers).Append("rec_embed_each").Append("rec_score").ToArray(),
            "every function is a reader, a writer, or rec_embed_each / rec_score (read, but run a query of their own)");
    }

    /// <summary>
    /// A hostile file's trigger on a store table would run inside SqlRec's own writes (here: delete
    /// the arrays of the version a retrain just published, and log to a table); every writing
    /// function refuses while it is there, writes nothing, and serving goes on.
    /// </summary>
    [TestMethod]
    public void TriggersOnTheStoreStopEveryWrite()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        var ranking = (string)db.Scalar("SELECT recommend(1, 5, 'pop')")!;
        db.Execute(""""
            CREATE TABLE spy(what TEXT);
            CREATE TRIGGER "evil ""one""" AFTER UPDATE ON rec_models BEGIN
              DELETE FROM rec_arrays WHERE model = new.name AND version = new.current_version;
              INSERT INTO spy VALUES ('fired');
            END;
            """");
        var before = StoreState(db);
        var refused = Errors.ForeignTrigger("rec_train", "evil \"one\"", "rec_models").Message;
        StringAssert.Contains(refused, "DROP TRIGGER main.\"evil \"\"one\"\"\"");
        db.AssertError(RecommendTests.TrainPopular, refused);
        foreach (var (sql, function) in new[]
                 {
                     ("SELECT rec_drop('pop')", "rec_drop"),
                     ("SELECT rec_evaluate('pop', json_object('test', 'SELECT user_id, item_id FROM likes'))", "rec_evaluate"),
                     ("SELECT rec_register_embedder('h', json_object('kind', 'hash', 'dim', 8))", "rec_register_embedder"),
                     ("SELECT rec_drop_embedder('h')", "rec_drop_embedder"),
                     ("SELECT rec_unpublish('nothing')", "rec_unpublish"),
                 })
        {
            db.AssertError(sql, Errors.ForeignTrigger(function, "evil \"one\"", "rec_models").Message);
        }
        Assert.AreEqual(before, StoreState(db), "nothing was written");
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM spy"), "the trigger never ran");
        Assert.AreEqual(ranking, db.Scalar("SELECT recommend(1, 5, 'pop')"), "reading is unaffected: triggers do not run on reads");
        db.Execute("DROP TRIGGER main.\"evil \"\"one\"\"\"");
        db.Scalar(RecommendTests.TrainPopular);
        Assert.AreEqual(ranking, db.Scalar("SELECT recommend(1, 5, 'pop')"));
    }

    /// <summary>A view under a store table's name stands in for it: writes are refused before anything runs.</summary>
    [TestMethod]
    public void AViewNamedLikeAStoreTableStopsEveryWrite()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        db.Execute("CREATE VIEW rec_Models AS SELECT 'pop' AS name, 1 AS current_version");
        db.AssertError(RecommendTests.TrainPopular, Errors.ForeignStoreObject("rec_train", "rec_models", "view").Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'rec\\_%' ESCAPE '\\' AND type = 'table'"), "no store table was created");
    }
}
