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
}
