using System.Text.Json;

namespace SqlRec.Tests;

/// <summary>
/// Collections with an embedder: rec_publish's options 'embedder' and 'text', rec_search with a
/// TEXT query embedded on the fly, databases made before the embedder column, and every error.
/// </summary>
[TestClass]
public sealed class TextCollectionTests
{
    private const string Films = """
        CREATE TABLE films(id INTEGER PRIMARY KEY, title TEXT, genres TEXT);
        INSERT INTO films VALUES
          (1, 'Star Wars', 'Action Adventure Sci-Fi War'),
          (2, 'The Empire Strikes Back', 'Action Adventure Sci-Fi War'),
          (3, 'Toy Story', 'Animation Children Comedy'),
          (4, 'Space Robots Attack', 'Sci-Fi Action'),
          (5, 'A Quiet Garden', 'Drama'),
          (6, 'Robots of the Deep Sea', 'Adventure Sci-Fi'),
          (7, 'Wedding Comedy', 'Comedy Romance'),
          (8, 'The Space Between Us', 'Romance Sci-Fi');
        """;

    private const string TextOptions = "json_object('text', 'SELECT id, title || '' '' || genres FROM films', 'embedder', 'hash')";

    private static TestDb WithFilms() => TestDb.InMemory().Execute(Films);

    private static string Ids(TestDb db, string sql, params object?[] args) => string.Join(",", db.Rows(sql, args).Select(r => r[0]));

    private static string Store(TestDb db) =>
        JsonSerializer.Serialize(db.Rows("SELECT name, uid, source, embedder, items FROM rec_collections ORDER BY name")) +
        JsonSerializer.Serialize(db.Rows("SELECT name FROM sqlite_schema ORDER BY name"));

    [TestMethod]
    [TestCategory("fn:rec_publish")]
    [TestCategory("fn:rec_search")]
    public void ATextCollectionIsSearchedByText()
    {
        using var db = WithFilms();
        var summary = JsonDocument.Parse((string)db.Scalar($"SELECT rec_publish('films_text', {TextOptions})")!).RootElement;
        Assert.AreEqual("films_text", summary.GetProperty("collection").GetString());
        Assert.AreEqual(8, summary.GetProperty("items").GetInt32());
        Assert.AreEqual(512, summary.GetProperty("dim").GetInt32());
        Assert.AreEqual("cosine", summary.GetProperty("metric").GetString());
        Assert.AreEqual("hash", summary.GetProperty("embedder").GetString());
        // The recorded source is the vector query that computes the same vectors.
        var source = "SELECT id, embedding FROM rec_embed_each('hash', 'SELECT id, title || '' '' || genres FROM films')";
        CollectionAssert.AreEqual(new object?[] { source, "hash" }, db.Rows("SELECT source, embedder FROM rec_collections")[0]);
        Assert.AreEqual(0L, db.Scalar($"SELECT count(*) FROM rec_collection_items c JOIN ({source}) e ON e.id = c.id WHERE c.vector IS NOT e.embedding"));
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_collection_items c JOIN films f ON f.id = c.id WHERE c.vector IS NOT rec_embed('hash', f.title || ' ' || f.genres)"));

        // A TEXT query is embedded with the collection's embedder: the same rows as the query's vector gives.
        const string query = "space adventure with robots";
        var byText = db.Rows("SELECT item_id, score, distance FROM rec_search('films_text', $1, 3)", query);
        var byVector = db.Rows("SELECT item_id, score, distance FROM rec_search('films_text', rec_embed('hash', $1), 3)", query);
        Assert.AreEqual(JsonSerializer.Serialize(byVector), JsonSerializer.Serialize(byText));
        Assert.AreEqual("4,6,8", Ids(db, "SELECT item_id FROM rec_search('films_text', $1, 3)", query), "films sharing the query's words come first");
        Assert.AreEqual("[4,6,8]", db.Scalar("SELECT rec_search('films_text', $1, 3)", query), "scalar form");
        // Filters apply as with vector queries: only comedies, always k rows.
        Assert.AreEqual("7,3", Ids(db, "SELECT item_id FROM rec_search('films_text', 'space comedy', 5, json_object('candidates', 'SELECT id FROM films WHERE genres LIKE ''%Comedy%'''))"));
        // "More like this" by text vectors.
        Assert.AreEqual(2L, db.Scalar("SELECT item_id FROM similar_items(1, 1, 'films_text')"));
    }

    [TestMethod]
    [TestCategory("fn:rec_publish")]
    [TestCategory("fn:rec_search")]
    public void AVectorSourceWithItsEmbedderEqualsTheTextOption()
    {
        using var db = WithFilms();
        db.Scalar($"SELECT rec_publish('a', {TextOptions})");
        var summary = (string)db.Scalar("SELECT rec_publish('b', json_object('source', 'SELECT id, rec_embed(''hash'', title || '' '' || genres) FROM films', 'embedder', 'hash', 'table', 'b'))")!;
        StringAssert.Contains(summary, "\"embedder\":\"hash\"");
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_collection_items a JOIN rec_collection_items b ON a.collection = 'a' AND b.collection = 'b' AND a.id = b.id WHERE a.vector IS NOT b.vector"));
        foreach (var query in new[] { "robots", "toy story", "the space war" })
        {
            Assert.AreEqual(db.Scalar("SELECT rec_search('a', $1, 4)", query), db.Scalar("SELECT rec_search('b', $1, 4)", query), query);
            // And plain sqlite-vec SQL on the vec0 table finds the same films.
            Assert.AreEqual(db.Scalar("SELECT rec_search('b', $1, 4)", query),
                db.Scalar("SELECT json_group_array(item_id) FROM (SELECT item_id FROM b_items WHERE embedding MATCH rec_embed('hash', $1) AND k = 4 ORDER BY distance)", query), query);
        }
        // A registered embedder works the same way; published again without 'embedder', the collection forgets it.
        db.Scalar("SELECT rec_register_embedder('h64', json_object('kind', 'hash', 'dim', 64))");
        db.Scalar("SELECT rec_publish('b', json_object('text', 'SELECT id, title FROM films', 'embedder', 'h64'))");
        Assert.AreEqual(64L, db.Scalar("SELECT dim FROM rec_collections WHERE name = 'b'"));
        Assert.AreEqual(1L, db.Scalar("SELECT item_id FROM rec_search('b', 'star wars', 1)"));
        Assert.AreEqual(64L, db.Scalar("SELECT vec_length(embedding) FROM b_items LIMIT 1"), "the vec0 table is rewritten with the new snapshot");
        db.Scalar("SELECT rec_publish('b', json_object('source', 'SELECT id, rec_embed(''h64'', title) FROM films'))");
        Assert.IsNull(db.Scalar("SELECT embedder FROM rec_collections WHERE name = 'b'"));
        db.AssertError("SELECT rec_search('b', 'star wars', 1)", Errors.TextQueryNeedsEmbedder("rec_search", "collection 'b'").Message);
    }

    [TestMethod]
    [TestCategory("fn:rec_publish")]
    public void TextCollectionsEmbedLargeSourcesInWindowsLikeRecEmbedEach()
    {
        using var db = TestDb.InMemory().Execute("""
            CREATE TABLE docs(id TEXT PRIMARY KEY, body TEXT);
            WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 3000)
            INSERT INTO docs SELECT 'd' || x, 'document number ' || x || ' about ' || (x % 17) FROM s;
            """);
        var summary = (string)db.Scalar("SELECT rec_publish('docs', json_object('text', 'SELECT id, body FROM docs', 'embedder', 'hash'))")!;
        StringAssert.Contains(summary, "\"items\":3000");
        db.Execute("CREATE TABLE each AS SELECT id, embedding FROM rec_embed_each('hash', 'SELECT id, body FROM docs')");
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_collection_items c JOIN each e ON e.id = c.id WHERE c.vector IS NOT e.embedding"));
        Assert.AreEqual(3000L, db.Scalar("SELECT count(*) FROM rec_collection_items c JOIN docs d ON d.id = c.id"));
        Assert.AreEqual("d1234", db.Scalar("SELECT item_id FROM rec_search('docs', 'document number 1234 about 10', 1)"));
    }

    [TestMethod]
    [TestCategory("fn:rec_publish")]
    [TestCategory("fn:rec_search")]
    public void DatabasesMadeBeforeTheEmbedderColumnKeepWorking()
    {
        using var db = TestDb.InFile().Execute(Films);
        db.Scalar("SELECT rec_publish('old', json_object('source', 'SELECT id, rec_embed(''hash'', title) FROM films'))");
        // The table as the first release made it.
        db.Execute("ALTER TABLE rec_collections DROP COLUMN embedder");
        using (var other = db.OpenAnother())
        {
            // Read paths take the missing column as NULL, and change nothing.
            Assert.AreEqual("[1]", TestDb.Scalar(other, "SELECT rec_search('old', rec_embed('hash', 'star wars'), 1)"));
            TestDb.AssertError(other, "SELECT rec_search('old', 'star wars', 2)", Errors.TextQueryNeedsEmbedder("rec_search", "collection 'old'").Message);
            Assert.AreEqual(0L, TestDb.Scalar(other, "SELECT count(*) FROM pragma_table_info('rec_collections') WHERE name = 'embedder'"));
            // The next write adds the column; old collections have none recorded.
            TestDb.Scalar(other, $"SELECT rec_publish('new', {TextOptions})");
            Assert.AreEqual("hash|", string.Join("|", TestDb.Rows(other, "SELECT embedder FROM rec_collections ORDER BY name").Select(r => r[0])));
            Assert.AreEqual(1L, TestDb.Scalar(other, "SELECT item_id FROM rec_search('new', 'star wars', 1)"));
        }
        // Schema creation stays idempotent: later writes neither fail nor change the store's tables.
        const string storeSchema = "SELECT group_concat(name || ': ' || sql, char(10)) FROM (SELECT name, sql FROM sqlite_schema WHERE name LIKE 'rec%' ORDER BY name)";
        var schema = db.Scalar(storeSchema);
        db.Scalar($"SELECT rec_publish('new', {TextOptions})");
        db.Scalar(RecommendTests.TrainPopular.Replace("likes", "(SELECT 1 AS user_id, id AS item_id FROM films)", StringComparison.Ordinal));
        Assert.AreEqual(schema, db.Scalar(storeSchema));
        Assert.AreEqual(1L, db.Scalar("SELECT count(*) FROM pragma_table_info('rec_collections') WHERE name = 'embedder'"));
    }

    [TestMethod]
    [TestCategory("errors:rec_publish")]
    public void TextAndEmbedderErrorsChangeNothing()
    {
        using var db = WithFilms();
        db.Scalar(RecommendTests.TrainPopular.Replace("likes", "(SELECT 1 AS user_id, id AS item_id FROM films)", StringComparison.Ordinal));
        db.Scalar($"SELECT rec_publish('kept', {TextOptions})");
        db.Execute("CREATE TABLE iv(id, v); INSERT INTO iv VALUES (10, vec_f32('[1, 0, 0]')), (11, vec_f32('[0, 1, 0]'))");
        var store = Store(db);
        const string f = "rec_publish";
        void Fails(string sql, SqlRecException expected)
        {
            db.AssertError(sql, expected.Message);
            Assert.AreEqual(store, Store(db), sql);
        }
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv', 'text', 'SELECT id, title FROM films', 'embedder', 'hash'))", Errors.PublishSourceAndText(f));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id, title FROM films'))",
            Errors.MissingOption(f, "embedder", "option 'text' is embedded with it, e.g. json_object('text', 'SELECT id, title FROM items', 'embedder', 'hash')"));
        Fails("SELECT rec_publish('kept', json_object('embedder', 'hash'))", Errors.PublishEmbedderWithoutCollection(f));
        Fails("SELECT rec_publish('pop', json_object('embedder', 'hash', 'table', 'p'))", Errors.PublishEmbedderWithoutCollection(f));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id, title FROM films', 'embedder', ''))", Errors.EmbedderNameInvalid(f, "embedder", ""));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id, title FROM films', 'embedder', 7))", Errors.OptionType(f, "embedder", "a string", "7"));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id, title FROM films', 'embedder', 'minilm'))", Errors.UnknownEmbedder(f, "minilm", ["hash"]));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv', 'embedder', 'minilm'))", Errors.UnknownEmbedder(f, "minilm", ["hash"]));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv', 'embedder', 'hash'))", Errors.PublishEmbedderDimension(f, 3, "hash", 512));
        Fails($"SELECT rec_publish('pop', {TextOptions})", Errors.CollectionNameIsModel(f, "pop"));
        Fails("SELECT rec_publish('x', json_object('text', 'DELETE FROM films', 'embedder', 'hash'))", Errors.QueryNotSelect(f, QueryRole.Text, "DELETE FROM films"));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id, title FROM films; DROP TABLE films', 'embedder', 'hash'))", Errors.QuerySeveralStatements(f, QueryRole.Text, " DROP TABLE films"));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id, title FROM nowhere', 'embedder', 'hash'))", Errors.QueryFailed(f, QueryRole.Text, "no such table: nowhere"));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT title FROM films', 'embedder', 'hash'))", Errors.QueryColumns(f, QueryRole.Text, 1));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id, title FROM films WHERE 0', 'embedder', 'hash'))", Errors.QueryEmpty(f, QueryRole.Text));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT CASE id WHEN 3 THEN 2.5 ELSE id END, title FROM films ORDER BY id', 'embedder', 'hash'))", Errors.QueryBadId(f, QueryRole.Text, "id", 3, 2.5));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id, CASE id WHEN 2 THEN NULL ELSE title END FROM films ORDER BY id', 'embedder', 'hash'))", Errors.TextSourceBadText(f, 2, 2L, null));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id, CASE id WHEN 4 THEN 42 ELSE title END FROM films ORDER BY id', 'embedder', 'hash'))", Errors.TextSourceBadText(f, 4, 4L, 42L));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id, CASE id WHEN 5 THEN ''  '' ELSE title END FROM films ORDER BY id', 'embedder', 'hash'))", Errors.TextSourceBadText(f, 5, 5L, "  "));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id % 3, title FROM films ORDER BY id', 'embedder', 'hash'))", Errors.TextSourceDuplicateId(f, 1L, 1, 4));
        Fails("SELECT rec_publish('x', json_object('text', 'SELECT id, title FROM films', 'embedder', 'hash', 'k', 1))",
            Errors.UnknownOption(f, "k", "rec_publish()", ["source", "metric", "table", "text", "embedder"]));
    }

    [TestMethod]
    [TestCategory("errors:rec_search")]
    public void TextQueryErrors()
    {
        using var db = WithFilms();
        db.Scalar("SELECT rec_register_embedder('h64', json_object('kind', 'hash', 'dim', 64))");
        db.Scalar("SELECT rec_publish('t', json_object('text', 'SELECT id, title FROM films', 'embedder', 'h64'))");
        db.Scalar("SELECT rec_publish('v', json_object('source', 'SELECT id, rec_embed(''h64'', title) FROM films'))");
        const string f = "rec_search";
        db.AssertError("SELECT rec_search('t', '', 3)", Errors.QueryTextEmpty(f).Message);
        db.AssertError("SELECT rec_search('t', ' \t ', 3)", Errors.QueryTextEmpty(f).Message);
        db.AssertError("SELECT rec_search('t', NULL, 3)",
            Errors.ArgumentNull(f, "query", "pass the text to search for (collection 't' embeds it with embedder 'h64') or a float32 vector BLOB").Message);
        db.AssertError("SELECT * FROM rec_search('t', NULL, 3)",
            Errors.ArgumentNull(f, "query", "pass the text to search for (collection 't' embeds it with embedder 'h64') or a float32 vector BLOB").Message);
        db.AssertError("SELECT rec_search('t', rec_embed('hash', 'star'), 3)", Errors.DimensionMismatch(f, "'query'", 512, "item", "collection 't'", 64).Message);
        db.AssertError("SELECT rec_search('v', 'star', 3)", Errors.TextQueryNeedsEmbedder(f, "collection 'v'").Message);
        // The embedder went away after publishing, or came back with another dimension.
        db.Scalar("SELECT rec_drop_embedder('h64')");
        db.AssertError("SELECT rec_search('t', 'star', 3)", Errors.CollectionEmbedderMissing(f, "collection 't'", "h64", ["hash"]).Message);
        Assert.AreEqual("[1,2]", db.Scalar("SELECT rec_search('t', (SELECT vector FROM rec_collection_items WHERE collection = 't' AND id = 1), 2)"), "vector queries still work");
        db.Scalar("SELECT rec_register_embedder('h64', json_object('kind', 'hash', 'dim', 32))");
        db.AssertError("SELECT rec_search('t', 'star', 3)", Errors.CollectionEmbedderDimensionChanged(f, "collection 't'", "h64", 32, 64).Message);
        // Models have no embedder.
        db.Scalar(RecommendTests.TrainPopular.Replace("likes", "(SELECT 1 AS user_id, id AS item_id FROM films)", StringComparison.Ordinal));
        db.AssertError("SELECT rec_search('pop', 'star', 3)", Errors.TextQueryNeedsEmbedder(f, "model 'pop'").Message);
    }
}
