using Microsoft.Data.Sqlite;

namespace SqlRec.Tests;

/// <summary>recommend() in both forms: ranking, exclusion, cold start, and the virtual table inside queries.</summary>
[TestClass]
public sealed class RecommendTests
{
    // Popularity (count of likes): 10 -> 4, 11 -> 3, 12 -> 2, 13 -> 1, 'x' -> 1.
    internal const string Likes = """
        CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
        INSERT INTO users VALUES (1,'ann'),(2,'bob'),(3,'cy'),(4,'di'),(5,'new');
        CREATE TABLE likes(user_id INTEGER, item_id, stars INTEGER);
        INSERT INTO likes VALUES (1,10,5),(1,11,4),(2,10,5),(2,12,3),(3,10,4),(3,11,5),(3,13,2),(4,12,5),(4,10,1),(4,11,2),(2,'x',4);
        CREATE TABLE items(id PRIMARY KEY, title TEXT);
        INSERT INTO items VALUES (10,'ten'),(11,'eleven'),(12,'twelve'),(13,'thirteen'),('x','ex');
        """;

    internal const string TrainPopular = "SELECT rec_train('pop', json_object('model','popular','source','SELECT user_id, item_id FROM likes'))";

    private static TestDb Trained()
    {
        var db = TestDb.InMemory().Execute(Likes);
        db.Scalar(TrainPopular);
        return db;
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void ScalarReturnsJsonArrayBestFirstWithoutSeenItems()
    {
        using var db = Trained();
        Assert.AreEqual("[12,13,\"x\"]", db.Scalar("SELECT recommend(1, 10)"));
        Assert.AreEqual("[12]", db.Scalar("SELECT recommend(1, 1)"));
        Assert.AreEqual("[11,13]", db.Scalar("SELECT recommend(2, 10, 'pop')"));
        Assert.AreEqual("[13,\"x\"]", db.Scalar("SELECT recommend(4, 10)"));
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void TableFormReturnsTheSameRankingAsTheScalarForm()
    {
        using var db = Trained();
        foreach (var user in new object[] { 1L, 2L, 3L, 4L, 99L, "nobody" })
        {
            var scalar = (string)db.Scalar("SELECT recommend($1, 3)", user)!;
            var table = (string)db.Scalar("SELECT json_group_array(item_id) FROM (SELECT item_id FROM recommend($1, 3) ORDER BY rank)", user)!;
            Assert.AreEqual(scalar, table, $"user {user}");
        }
        var rows = db.Rows("SELECT rank, item_id, score, source FROM recommend(1, 10)");
        CollectionAssert.AreEqual(new object?[] { 1L, 12L, 2.0, "popular" }, rows[0]);
        CollectionAssert.AreEqual(new object?[] { 3L, "x", 1.0, "popular" }, rows[2]);
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void SeenItemsCanBeIncluded()
    {
        using var db = Trained();
        Assert.AreEqual("[10,11,12]", db.Scalar("SELECT recommend(1, 3, NULL, json_object('exclude_seen', json('false')))"));
        Assert.AreEqual("[10,11,12]", db.Scalar("SELECT recommend(1, 3, 'pop', '{\"exclude_seen\": false}')"));
        Assert.AreEqual(3L, db.Scalar("SELECT count(*) FROM recommend(1, 3, 'pop', '{\"exclude_seen\": 0}')"));
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void UnknownUserGetsThePopularFallback()
    {
        using var db = Trained();
        Assert.AreEqual("[10,11,12]", db.Scalar("SELECT recommend(5, 3)"));
        Assert.AreEqual("[10,11,12]", db.Scalar("SELECT recommend('5', 3)"), "TEXT '5' is another id than INTEGER 5; both are unknown here");
        var rows = db.Rows("SELECT source, score FROM recommend(12345, 2)");
        CollectionAssert.AreEqual(new object?[] { "popular", 4.0 }, rows[0]);
        Assert.AreEqual("[10,11,12]", db.Scalar("SELECT recommend(1.0e9, 3)"));
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void RealIdsWithoutFractionMatchIntegerIds()
    {
        using var db = Trained();
        Assert.AreEqual(db.Scalar("SELECT recommend(1, 10)"), db.Scalar("SELECT recommend(1.0, 10)"));
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void KLargerThanTheCatalogueReturnsEveryCandidate()
    {
        using var db = Trained();
        Assert.AreEqual(3L, db.Scalar("SELECT count(*) FROM recommend(1, 10000)"));
        Assert.AreEqual(5L, db.Scalar("SELECT count(*) FROM recommend(42, 10000)"));
        Assert.AreEqual("[]", db.Scalar("SELECT recommend(99, 5) FROM users WHERE 0") ?? "[]");
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void VirtualTableJoinsWhereLimitAndOrder()
    {
        using var db = Trained();
        var titles = db.Rows("SELECT i.title FROM recommend(1, 10) r JOIN items i ON i.id = r.item_id ORDER BY r.rank");
        CollectionAssert.AreEqual(new[] { "twelve", "thirteen", "ex" }, titles.Select(r => r[0]).ToArray());
        Assert.AreEqual(2L, db.Scalar("SELECT count(*) FROM recommend(1, 10) WHERE score < 2"));
        Assert.AreEqual(13L, db.Scalar("SELECT item_id FROM recommend(1, 10) ORDER BY rank LIMIT 1 OFFSET 1"));
        Assert.AreEqual(3L, db.Scalar("SELECT max(rank) FROM recommend(1, 10)"));
        // Named-parameter form: the HIDDEN columns can be constrained in WHERE instead.
        Assert.AreEqual(12L, db.Scalar("SELECT item_id FROM recommend WHERE user = 1 AND k = 1"));
        Assert.AreEqual(1L, db.Scalar("SELECT user FROM recommend(1, 1)"));
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void VirtualTableInJoinsAndCorrelatedSubqueries()
    {
        using var db = Trained();
        // Lateral-style join: the user id comes from the outer table.
        var rows = db.Rows("SELECT u.id, r.item_id FROM users u JOIN recommend(u.id, 1) r ORDER BY u.id");
        CollectionAssert.AreEqual(new object?[] { 1L, 2L, 3L, 4L, 5L }, rows.Select(r => r[0]).ToArray());
        CollectionAssert.AreEqual(new object?[] { 12L, 11L, 12L, 13L, 10L }, rows.Select(r => r[1]).ToArray());
        // The same written with the table-valued function first: the planner must reorder.
        var reversed = db.Rows("SELECT u.id, r.item_id FROM recommend(u.id, 1) r, users u ORDER BY u.id");
        CollectionAssert.AreEqual(rows.Select(r => r[1]).ToArray(), reversed.Select(r => r[1]).ToArray());
        // Correlated subquery per user, and batch scoring with the scalar form.
        var perUser = db.Rows("SELECT u.id, (SELECT json_group_array(item_id) FROM (SELECT item_id FROM recommend(u.id, 2) ORDER BY rank)) FROM users u ORDER BY u.id");
        var batch = db.Rows("SELECT id, recommend(id, 2) FROM users ORDER BY id");
        for (var i = 0; i < perUser.Count; i++)
            Assert.AreEqual(perUser[i][1], batch[i][1], $"user {perUser[i][0]}");
        Assert.AreEqual(2L, db.Scalar("SELECT count(*) FROM users u WHERE EXISTS (SELECT 1 FROM recommend(u.id, 1) WHERE item_id = 12)"));
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void TextIdsRoundTrip()
    {
        using var db = TestDb.InMemory().Execute("""
            CREATE TABLE e(u TEXT, i TEXT);
            INSERT INTO e VALUES ('alice','book-1'),('alice','book-2'),('bob','book-2'),('bob','book-3'),('carol','book-"q"');
            """);
        db.Scalar("SELECT rec_train('t', json_object('model','popular','source','SELECT u, i FROM e'))");
        // Equal scores rank by id order: '"' (0x22) sorts before '3'.
        Assert.AreEqual("[\"book-\\\"q\\\"\",\"book-3\"]", db.Scalar("SELECT recommend('alice', 5)"));
        Assert.AreEqual("book-\"q\"", db.Scalar("SELECT item_id FROM recommend('alice', 1)"));
        Assert.AreEqual("book-\"q\"", db.Scalar("SELECT recommend('alice', 5) ->> 0"), "SQLite's JSON reads the array back");
        Assert.AreEqual("text", db.Scalar("SELECT typeof(item_id) FROM recommend('alice', 1)"));
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void DirectOnlyFunctionsAreRefusedInViewsAndTriggers()
    {
        using var db = Trained();
        db.Execute("CREATE VIEW v AS SELECT recommend(1, 3) AS r");
        var error = Assert.ThrowsExactly<SqliteException>(() => db.Scalar("SELECT r FROM v"));
        StringAssert.Contains(TestDb.SqliteMessage(error), "unsafe use of recommend()");
        db.Execute("CREATE VIEW w AS SELECT item_id FROM recommend(1, 3)");
        error = Assert.ThrowsExactly<SqliteException>(() => db.Scalar("SELECT * FROM w"));
        StringAssert.Contains(TestDb.SqliteMessage(error), "unsafe use of virtual table");
    }

    [TestMethod]
    [TestCategory("errors:recommend")]
    public void BadArgumentsGiveClearErrors()
    {
        using var db = Trained();
        const string kHint = "pass how many items to return";
        db.AssertError("SELECT recommend(NULL, 10)", Errors.UserOrSequence("recommend").Message);
        db.AssertError("SELECT recommend(x'0102', 10)", Errors.ArgumentType("recommend", "user", "an INTEGER or TEXT id", new byte[] { 1, 2 }).Message);
        db.AssertError("SELECT recommend(1.5, 10)", Errors.ArgumentType("recommend", "user", "an INTEGER or TEXT id", 1.5).Message);
        db.AssertError("SELECT recommend(1, NULL)", Errors.ArgumentNull("recommend", "k", kHint).Message);
        db.AssertError("SELECT recommend(1, 0)", Errors.KOutOfRange("recommend", 0L).Message);
        db.AssertError("SELECT recommend(1, -3)", Errors.KOutOfRange("recommend", -3L).Message);
        db.AssertError("SELECT recommend(1, 10001)", Errors.KOutOfRange("recommend", 10001L).Message);
        db.AssertError("SELECT recommend(1, 9223372036854775807)", Errors.KOutOfRange("recommend", long.MaxValue).Message);
        db.AssertError("SELECT recommend(1, 'ten')", Errors.ArgumentType("recommend", "k", "an INTEGER", "ten").Message);
        db.AssertError("SELECT recommend(1, 2.5)", Errors.ArgumentType("recommend", "k", "an INTEGER", 2.5).Message);
        db.AssertError("SELECT recommend(1, 10, 'nope')", Errors.UnknownModel("recommend", "nope", ["pop"]).Message);
        db.AssertError("SELECT recommend(1, 10, 7)", Errors.ArgumentType("recommend", "model", "TEXT", 7L).Message);
        db.AssertError("SELECT recommend(1, 10, NULL, '{\"excluded\": true}')", Errors.UnknownOption("recommend", "excluded", "recommend()", ["exclude_seen", "candidates", "exclude", "sequence"]).Message);
        db.AssertError("SELECT recommend(1, 10, NULL, '{\"exclude_seen\": \"no\"}')", Errors.OptionType("recommend", "exclude_seen", "true or false", "the string \"no\"").Message);
        db.AssertError("SELECT recommend(1, 10, NULL, '[]')", Errors.OptionsNotObject("recommend", "array").Message);
        // The table-valued form reports the same errors, and says which argument is missing.
        db.AssertError("SELECT * FROM recommend(1, 0)", Errors.KOutOfRange("recommend", 0L).Message);
        db.AssertError("SELECT * FROM recommend(1, 5, 'nope')", Errors.UnknownModel("recommend", "nope", ["pop"]).Message);
        db.AssertError("SELECT * FROM recommend", Errors.TableArgumentMissing("recommend", "user", "SELECT * FROM recommend(user, k[, model[, options]])").Message);
        db.AssertError("SELECT * FROM recommend(1)", Errors.TableArgumentMissing("recommend", "k", "SELECT * FROM recommend(user, k[, model[, options]])").Message);
        db.AssertError("SELECT * FROM recommend(NULL, 3)", Errors.UserOrSequence("recommend").Message);
    }

    [TestMethod]
    [TestCategory("errors:recommend")]
    public void ModelResolutionErrors()
    {
        using var db = TestDb.InMemory().Execute(Likes);
        db.AssertError("SELECT recommend(1, 10)", Errors.NoModels("recommend").Message);
        db.AssertError("SELECT recommend(1, 10, 'pop')", Errors.UnknownModel("recommend", "pop", []).Message);
        db.Scalar(TrainPopular);
        db.Scalar("SELECT rec_train('second', json_object('model','popular','source','SELECT user_id, item_id FROM likes WHERE stars >= 4'))");
        db.AssertError("SELECT recommend(1, 10)", Errors.ModelRequired("recommend", ["pop", "second"]).Message);
        Assert.AreEqual("[12,13,\"x\"]", db.Scalar("SELECT recommend(1, 10, 'pop')"));
        Assert.AreEqual("[10,11,\"x\"]", db.Scalar("SELECT recommend(4, 3, 'second')"));
    }
}
