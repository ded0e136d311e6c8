using static SqlRec.Tests.VectorSqlFixtures;

namespace SqlRec.Tests;

/// <summary>recommend()'s 'candidates' and 'exclude' options: on every path (model, live row, cold start) and every kind, results are full.</summary>
[TestClass]
public sealed class RecommendFilterTests
{
    private static long[] Ids(TestDb db, string sql, params object?[] args) => db.Rows(sql, args).Select(r => (long)r[0]!).ToArray();

    /// <summary>The reference: the unfiltered full ranking (k = every item), filtered afterwards, the first k.</summary>
    private static long[] Reference(TestDb db, string model, long user, int k, Func<long, bool> allowed, string options = "NULL") =>
        Ids(db, $"SELECT item_id FROM recommend($1, 10000, '{model}', {options}) ORDER BY rank", user).Where(allowed).Take(k).ToArray();

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void CandidatesAndExclusionsOnEveryKindAndPath()
    {
        using var db = TestDb.InMemory().Execute(Likes);
        db.Execute("CREATE TABLE stock(id INTEGER PRIMARY KEY, in_stock INTEGER); INSERT INTO stock SELECT DISTINCT item_id, item_id % 3 = 0 FROM likes");
        db.Scalar("SELECT rec_train('pop', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM likes'))");
        db.Scalar("SELECT rec_train('lg', json_object('model', 'lightgcn', 'source', 'SELECT user_id, item_id FROM likes', 'dim', 8, 'epochs', 2))");
        db.Scalar("SELECT rec_train('gf', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes', 'components', 4))");
        db.Scalar("SELECT rec_train('gfs', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes', 'components', 4, 'live', json('false')))");
        const string options = "json_object('candidates', 'SELECT id FROM stock WHERE in_stock', 'exclude', json_array(3, 9, 'x'))";
        bool Allowed(long item) => item % 3 == 0 && item != 3 && item != 9;
        foreach (var model in new[] { "pop", "lg", "gf", "gfs" })
        {
            // Known users, a user the model never saw (cold start), and for the live model a user with rows it never saw.
            foreach (var user in new long[] { 0, 17, 59, 1000 })
            {
                var expected = Reference(db, model, user, 5, Allowed);
                var actual = Ids(db, $"SELECT item_id FROM recommend($1, 5, '{model}', {options}) ORDER BY rank", user);
                CollectionAssert.AreEqual(expected, actual, $"{model} user {user}");
                Assert.AreEqual($"[{string.Join(",", expected)}]", db.Scalar($"SELECT recommend($1, 5, '{model}', {options})", user));
            }
        }
        // Every candidate that remains fills the result; a JOIN after the unfiltered top 5 is short.
        var allowedCount = (long)db.Scalar("SELECT count(*) FROM stock WHERE in_stock AND id NOT IN (3, 9)")!;
        Assert.AreEqual(allowedCount, db.Scalar($"SELECT count(*) FROM recommend(1000, 100, 'lg', {options})"), "an unknown user: every allowed item");
        Assert.IsLessThan(5L, (long)db.Scalar("SELECT count(*) FROM recommend(17, 5, 'lg') r JOIN stock s ON s.id = r.item_id WHERE s.in_stock")!);
        // With seen items kept, the candidates still restrict.
        var keepSeen = "json_object('exclude_seen', json('false'), 'candidates', 'SELECT id FROM stock WHERE in_stock')";
        CollectionAssert.AreEqual(Reference(db, "lg", 17, 5, i => i % 3 == 0, "json_object('exclude_seen', json('false'))"),
            Ids(db, $"SELECT item_id FROM recommend(17, 5, 'lg', {keepSeen}) ORDER BY rank"));
        // A live user's new interaction is excluded at once, together with the filter.
        db.Execute("INSERT INTO likes VALUES (17, 12)");
        Assert.IsFalse(Ids(db, $"SELECT item_id FROM recommend(17, 50, 'gf', {options})").Contains(12L));
        // An empty candidate list gives no rows, not an error.
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM recommend(17, 5, 'lg', json_object('candidates', 'SELECT id FROM stock WHERE 0'))"));
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void TextIdsInTheExcludeList()
    {
        using var db = TestDb.InMemory().Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        Assert.AreEqual("[12,13]", db.Scalar("SELECT recommend(1, 5, 'pop', json_object('exclude', json_array('x')))"));
        Assert.AreEqual("[13,\"x\"]", db.Scalar("SELECT recommend(1, 5, 'pop', json_object('exclude', json_array(12.0)))"), "12.0 is the integer 12");
        Assert.AreEqual("[\"x\"]", db.Scalar("SELECT recommend(1, 5, 'pop', json_object('candidates', 'SELECT id FROM items WHERE typeof(id) = ''text'''))"));
        Assert.AreEqual("[12,13,\"x\"]", db.Scalar("SELECT recommend(1, 5, 'pop', json_object('exclude', json_array()))"));
    }

    [TestMethod]
    [TestCategory("errors:recommend")]
    public void FilterOptionErrors()
    {
        using var db = TestDb.InMemory().Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        const string f = "recommend";
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('candidates', 'DELETE FROM items'))", Errors.QueryNotSelect(f, QueryRole.Candidates, "DELETE FROM items").Message);
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('candidates', 'SELECT id, title FROM items'))", Errors.QueryColumns(f, QueryRole.Candidates, 2).Message);
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('candidates', 'SELECT 1.5'))", Errors.QueryBadId(f, QueryRole.Candidates, "id", 1, 1.5).Message);
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('candidates', 'SELECT x''00'''))", Errors.QueryBadId(f, QueryRole.Candidates, "id", 1, new byte[1]).Message);
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('candidates', 7))", Errors.OptionType(f, "candidates", "a string", "7").Message);
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('candidates', 'SELECT id FROM nowhere'))", Errors.QueryFailed(f, QueryRole.Candidates, "no such table: nowhere").Message);
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('exclude', json_array(json('true'))))",
            Errors.OptionType(f, "exclude", "an array of ids (integers or strings)", "true at position 1 of the array").Message);
        db.AssertError("SELECT recommend(1, 3, 'pop', json_object('exclude', 'x'))", Errors.OptionType(f, "exclude", "an array of ids (integers or strings)", "the string \"x\"").Message);
        // Table form, and the candidates query is checked even for a cold-start user.
        db.AssertError("SELECT * FROM recommend(999, 3, 'pop', json_object('candidates', 'DROP TABLE items'))", Errors.QueryNotSelect(f, QueryRole.Candidates, "DROP TABLE items").Message);
        Assert.AreEqual(5L, db.Scalar("SELECT count(*) FROM items"));
    }
}
