using System.Text;
using Microsoft.Data.Sqlite;

namespace SqlRec.Tests;

/// <summary>
/// Batch scoring in SQL (<c>rec_score</c>): shards are disjoint and together equal the whole, the
/// whole equals <c>recommend</c> user by user, the shard of an id is the documented XXH64, the
/// version is pinned when the statement starts, it runs on an immutable read-only file, and bad
/// input gets the documented messages.
/// </summary>
[TestClass]
public sealed class ScoreTests
{
    private const string Users = "SELECT id FROM people ORDER BY seq";

    /// <summary>
    /// 150 INTEGER users and 30 TEXT users over 40 items in 4 taste clusters (seeded), plus people who
    /// never liked anything (INTEGER 9001, TEXT 'ghost'): the users query lists all of them in a
    /// fixed shuffled order, so streaming order is not id order.
    /// </summary>
    internal static void Fill(TestDb db)
    {
        db.Execute("CREATE TABLE likes(user_id, item_id INTEGER); CREATE TABLE people(seq INTEGER PRIMARY KEY, id)");
        var random = new Random(11);
        var ids = new List<object>();
        for (var u = 1; u <= 150; u++) ids.Add((long)u);
        for (var u = 1; u <= 30; u++) ids.Add($"u-{u}");
        using (var transaction = db.Connection.BeginTransaction())
        {
            foreach (var id in ids)
            {
                var cluster = (id is long l ? (int)l : id.GetHashCode() & 0xff) % 4;
                for (var i = 0; i < 10; i++)
                {
                    if (random.NextDouble() < 0.4) db.Execute("INSERT INTO likes VALUES ($1, $2)", id, 100 + cluster * 10 + i);
                }
                if (random.NextDouble() < 0.3) db.Execute("INSERT INTO likes VALUES ($1, $2)", id, 100 + random.Next(40));
            }
            ids.Add(9001L);
            ids.Add("ghost");
            var order = ids.OrderBy(_ => random.Next()).ToList();
            for (var i = 0; i < order.Count; i++) db.Execute("INSERT INTO people VALUES ($1, $2)", i, order[i]);
            transaction.Commit();
        }
    }

    private static TestDb Trained(string kind = "graph_filter")
    {
        var db = TestDb.InMemory();
        Fill(db);
        db.Scalar($"SELECT rec_train('m', json_object('model', '{kind}', 'source', 'SELECT user_id, item_id FROM likes'))");
        return db;
    }

    private static string Key(object?[] row) => string.Join("|", row.Select(CatalogTests.Format));

    private static string ScoreSql(string options = "NULL") =>
        $"SELECT user_id, rank, item_id, score, source, cold_start, version FROM rec_score('m', '{Users}', 5, {options})";

    [TestMethod]
    [TestCategory("fn:rec_score")]
    [DataRow("graph_filter")]
    [DataRow("popular")]
    [DataRow("ease")]
    public void ShardsTogetherEqualTheWholeAndTheWholeEqualsRecommend(string kind)
    {
        using var db = Trained(kind);
        var whole = db.Rows(ScoreSql());
        var people = db.Rows(Users).Select(r => r[0]).ToList();
        Assert.HasCount(people.Count * 5, whole, "5 rows for every user");

        // Streaming order: users in the query's order, each user's rows by rank.
        var expected = new List<string>();
        foreach (var user in people)
        {
            var cold = user is 9001L or "ghost" ? 1L : 0L;
            foreach (var r in db.Rows("SELECT rank, item_id, score, source FROM recommend($1, 5, 'm')", user))
                expected.Add(Key([user, r[0], r[1], r[2], r[3], cold, 1L]));
        }
        CollectionAssert.AreEqual(expected, whole.Select(Key).ToList(), $"{kind}: rec_score is recommend() user by user");

        foreach (var n in new[] { 1, 2, 3, 7 })
        {
            var parts = Enumerable.Range(0, n).Select(i => db.Rows(ScoreSql($"json_object('shard', '{i}/{n}')"))).ToList();
            var userSets = parts.Select(p => p.Select(r => CatalogTests.Format(r[0]) + ":" + r[0]!.GetType().Name).ToHashSet()).ToList();
            for (var a = 0; a < n; a++)
            {
                for (var b = a + 1; b < n; b++) Assert.IsFalse(userSets[a].Overlaps(userSets[b]), $"{kind}: shards {a} and {b} of {n} share users");
                // Within a shard, the order is the query's.
                var order = parts[a].Select(r => r[0]).Distinct().ToList();
                CollectionAssert.AreEqual(people.Where(order.Contains).ToList(), order, $"{kind}: shard {a}/{n} streams in the query's order");
                if (n > 1) Assert.IsNotEmpty(parts[a], $"{kind}: shard {a}/{n} is empty; the hash does not spread {people.Count} users");
            }
            var together = parts.SelectMany(p => p).Select(Key).Order(StringComparer.Ordinal).ToList();
            CollectionAssert.AreEqual(whole.Select(Key).Order(StringComparer.Ordinal).ToList(), together, $"{kind}: {n} shards put together");
        }
    }

    [TestMethod]
    [TestCategory("fn:rec_score")]
    public void UnknownUsersGetLabelledColdStartRows()
    {
        using var db = Trained();
        var rows = db.Rows($"SELECT user_id, cold_start, source FROM rec_score('m', 'SELECT 9001 UNION ALL SELECT ''ghost'' UNION ALL SELECT 1', 3)");
        Assert.HasCount(9, rows);
        foreach (var row in rows.Take(6)) CollectionAssert.AreEqual(new object?[] { 1L, "popular" }, row[1..], "cold-start rows are labelled");
        foreach (var row in rows.Skip(6)) CollectionAssert.AreEqual(new object?[] { 0L, "graph_filter" }, row[1..], "a known user's rows");
        CollectionAssert.AreEqual(db.Rows("SELECT item_id FROM recommend(9001, 3, 'm')").Select(r => r[0]).ToList(),
            db.Rows("SELECT item_id FROM rec_score('m', 'SELECT 9001', 3)").Select(r => r[0]).ToList(), "the cold-start rows are recommend()'s popular fallback");
    }

    [TestMethod]
    [TestCategory("fn:rec_score")]
    public void TheShardOfAnIdIsXxh64OfItsTextModN()
    {
        // xxHash's reference values: XXH64("", 0) = EF46DB3751D8E999, XXH64("abc", 0) = 44BC2CF5AD770999.
        Assert.AreEqual((int)(0x44BC2CF5AD770999UL % 7), ShardSpec.Of(ExternalId.Of("abc"), 7));
        Assert.AreEqual((int)(0xEF46DB3751D8E999UL % 1000), ShardSpec.Of(ExternalId.Of(""), 1000));
        // An INTEGER id hashes as its decimal text, whatever the platform's integer layout.
        foreach (var value in new long[] { 0, 42, -42, long.MaxValue, long.MinValue })
        {
            var text = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.AreEqual((int)(Checksum.Hash(Encoding.UTF8.GetBytes(text)) % 13UL), ShardSpec.Of(ExternalId.Of(value), 13), text);
            Assert.AreEqual(ShardSpec.Of(ExternalId.Of(text), 13), ShardSpec.Of(ExternalId.Of(value), 13), $"{text}: INTEGER and TEXT by the same rule");
        }
        Assert.AreEqual(ShardSpec.Of(ExternalId.Of("é"), 97), (int)(Checksum.Hash([0xC3, 0xA9]) % 97UL), "TEXT as UTF-8");
        // Through SQL: a REAL with no fraction is the INTEGER.
        using var db = Trained("popular");
        var shard = ShardSpec.Of(ExternalId.Of(7), 5);
        Assert.HasCount(2, db.Rows($"SELECT * FROM rec_score('m', 'SELECT 7.0', 2, json_object('shard', '{shard}/5'))"));
        Assert.IsEmpty(db.Rows($"SELECT * FROM rec_score('m', 'SELECT 7', 2, json_object('shard', '{(shard + 1) % 5}/5'))"));
    }

    [TestMethod]
    [TestCategory("errors:rec_score")]
    public void BadInputGetsTheDocumentedMessages()
    {
        using var db = Trained("popular");
        const string f = "rec_score";
        foreach (var spec in new[] { "3/2", "0/0", "-1/2", "a/b", "2/2", " 0/2", "0/65537", "1/", "/2", "0/2/3", "" })
            db.AssertError($"SELECT * FROM rec_score('m', 'SELECT 1', 3, json_object('shard', $1))", Errors.ShardInvalid(f, spec).Message, spec);
        db.AssertError("SELECT * FROM rec_score('m', 'SELECT 1', 3, json_object('shard', 2))", Errors.OptionType(f, "shard", "a string", "2").Message);
        db.AssertError("SELECT * FROM rec_score('m', 'SELECT 1', 3, json_object('shards', '0/2'))",
            Errors.UnknownOption(f, "shards", "rec_score()", ["shard", "exclude_seen", "candidates", "exclude"]).Message);
        db.AssertError("SELECT * FROM rec_score('m', 'DELETE FROM people', 3)", Errors.QueryNotSelect(f, QueryRole.Users, "DELETE FROM people").Message);
        db.AssertError("SELECT * FROM rec_score('m', 'SELECT 1; DELETE FROM people', 3)", Errors.QuerySeveralStatements(f, QueryRole.Users, " DELETE FROM people").Message);
        Assert.HasCount(182, db.Rows("SELECT * FROM people"), "nothing was deleted");
        StringAssert.StartsWith(Message(db, "SELECT * FROM rec_score('m', 'SELECT rec_drop(''m'')', 3)"), "rec_score(): the 'users' query calls rec_drop(), which ");
        StringAssert.StartsWith(Message(db, "SELECT * FROM rec_score('m', 'SELECT load_extension(''x'')', 3)"), "rec_score(): the 'users' query calls load_extension(), which ");
        Assert.AreEqual(1L, db.Scalar("SELECT count(*) FROM rec_models"), "the model is still there");
        db.AssertError("SELECT * FROM rec_score('m', 'SELECT id, seq FROM people', 3)", Errors.QueryColumns(f, QueryRole.Users, 2).Message);
        db.AssertError("SELECT * FROM rec_score('m', 'SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT NULL', 3)",
            Errors.QueryBadId(f, QueryRole.Users, "user", 3, null).Message);
        db.AssertError("SELECT * FROM rec_score('m', 'SELECT x''00''', 3)", Errors.QueryBadId(f, QueryRole.Users, "user", 1, new byte[1]).Message);
        db.AssertError("SELECT * FROM rec_score('m', 'SELECT id FROM nowhere', 3)", Errors.QueryFailed(f, QueryRole.Users, "no such table: nowhere").Message);
        db.AssertError("SELECT * FROM rec_score('m', 'SELECT 1', 0)", Errors.KOutOfRange(f, 0L).Message);
        db.AssertError("SELECT * FROM rec_score('m', 'SELECT 1', 10001)", Errors.KOutOfRange(f, 10001L).Message);
        db.AssertError("SELECT * FROM rec_score('nope', 'SELECT 1', 3)", Errors.UnknownModel(f, "nope", ["m"]).Message);
        db.AssertError("SELECT * FROM rec_score('m', NULL, 3)", Errors.ArgumentNull(f, "users", "pass a SELECT returning the user ids, e.g. 'SELECT id FROM users'").Message);
        db.AssertError("SELECT * FROM rec_score('m')", Errors.TableArgumentMissing(f, "users", "SELECT * FROM rec_score(model, 'SELECT id FROM users', k[, options])").Message);
    }

    private static string Message(TestDb db, string sql) =>
        TestDb.SqliteMessage(Assert.ThrowsExactly<SqliteException>(() => db.Rows(sql)));

    [TestMethod]
    [TestCategory("fn:rec_score")]
    public void AModelRetrainedWhileTheJobRunsDoesNotChangeItsRows()
    {
        using var db = TestDb.InFile();
        Fill(db);
        db.Scalar("SELECT rec_train('m', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes'))");
        var before = db.Rows(ScoreSql()).Select(Key).ToList();

        // Version 1 (graph_filter) is pinned when the statement starts; then the model is retrained
        // twice as 'popular' - on this very connection, which sees its own writes at once, so a job that looked
        // the version up again would see version 3 - and version 1 is even deleted from the store
        // (two versions are kept). The job's rows are still version 1's, all of them.
        using var command = db.Connection.CreateCommand();
        command.CommandText = ScoreSql();
        var during = new List<string>();
        using (var reader = command.ExecuteReader())
        {
            for (var i = 0; i < 3 && reader.Read(); i++) during.Add(Key(Values(reader)));
            Assert.AreEqual(2L, JsonVersion(db.Scalar("SELECT rec_train('m', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM likes'))")));
            Assert.AreEqual(3L, JsonVersion(db.Scalar("SELECT rec_train('m', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM likes'))")));
            Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_model_versions WHERE model = 'm' AND version = 1"), "version 1 is gone from the store");
            Assert.AreEqual("popular", db.Scalar("SELECT source FROM recommend(1, 1, 'm')"), "recommend() now serves version 3");
            while (reader.Read()) during.Add(Key(Values(reader)));
        }
        CollectionAssert.AreEqual(before, during, "the job's rows are version 1's graph filter rows, all of them");
        Assert.AreNotEqual(before[0], Key(db.Rows(ScoreSql())[0]), "a job started now ranks with version 3 (popular)");
    }

    private static object?[] Values(SqliteDataReader reader)
    {
        var values = new object?[reader.FieldCount];
        reader.GetValues(values!);
        for (var i = 0; i < values.Length; i++) if (values[i] is DBNull) values[i] = null;
        return values;
    }

    private static long JsonVersion(object? json) => System.Text.Json.JsonDocument.Parse((string)json!).RootElement.GetProperty("version").GetInt64();

    [TestMethod]
    [TestCategory("fn:rec_score")]
    public void ItScoresFromAnImmutableReadOnlyFile()
    {
        using var db = TestDb.InFile();
        Fill(db);
        db.Scalar("SELECT rec_train('m', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes'))");
        var whole = db.Rows(ScoreSql()).Select(Key).ToList();
        db.Execute("PRAGMA wal_checkpoint(TRUNCATE)");
        var uri = new Uri(db.Path!).AbsoluteUri + "?mode=ro&immutable=1";
        using var reader = new SqliteConnection($"Data Source={uri};Pooling=False");
        reader.Open();
        TestDb.Enable(reader, null);
        CollectionAssert.AreEqual(whole, TestDb.Rows(reader, ScoreSql()).Select(Key).ToList(), "the same rows from the immutable file");
        TestDb.AssertError(reader, "SELECT rec_train('m2', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM likes'))",
            Errors.DatabaseReadOnly("rec_train").Message);
    }
}
