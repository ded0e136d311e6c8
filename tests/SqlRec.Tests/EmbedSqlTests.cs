using SqlRec.Tests.Onnx;
using SqlRec.Vectors;

namespace SqlRec.Tests;

/// <summary>
/// The embedding functions from SQL: the built-in hash embedder, registration and dropping, the
/// per-row and bulk forms, every error message, and the acceptance path into a sqlite-vec
/// <c>vec0</c> table queried with <c>MATCH ... AND k = 10</c>.
/// </summary>
[TestClass]
public sealed class EmbedSqlTests
{
    private static float[] Floats(object? blob) => VectorBlob.ToFloats("test", "blob", (byte[])blob!);

    private static double Cosine(TestDb db, string a, string b) =>
        1 - (double)db.Scalar("SELECT vec_distance_cosine(rec_embed('hash', $1), rec_embed('hash', $2))", a, b)!;

    [TestMethod]
    [TestCategory("fn:rec_embed")]
    public void TheHashEmbedderNeedsNoModelAndGivesUnitVectorsThatSqliteVecReads()
    {
        using var db = TestDb.InMemory();
        var vector = Floats(db.Scalar("SELECT rec_embed('hash', 'The Dark Ocean')"));
        Assert.HasCount(512, vector);
        Assert.AreEqual(1.0, Math.Sqrt(vector.Sum(v => (double)v * v)), 1e-6);
        Assert.AreEqual(512L, db.Scalar("SELECT vec_length(rec_embed('hash', 'x'))"));
        // Case and accents do not matter; shared words and spellings make texts close.
        CollectionAssert.AreEqual((byte[])db.Scalar("SELECT rec_embed('hash', 'Crème brûlée')")!, (byte[])db.Scalar("SELECT rec_embed('hash', 'creme BRULEE')")!);
        Assert.IsGreaterThan(Cosine(db, "the dark ocean", "a garden recipe book"), Cosine(db, "the dark ocean", "dark oceans"));
        Assert.IsGreaterThan(Cosine(db, "dragon fire", "a garden recipe"), Cosine(db, "dragon fire", "dragons and fire"));
        Assert.IsNull(db.Scalar("SELECT rec_embed('hash', NULL)"));
        // Punctuation alone still has features.
        Assert.HasCount(512, Floats(db.Scalar("SELECT rec_embed('hash', '!?')")));
    }

    [TestMethod]
    [TestCategory("fn:rec_register_embedder")]
    [TestCategory("fn:rec_drop_embedder")]
    public void HashVariantsAreRegisteredIdempotentlyAndDropped()
    {
        using var db = TestDb.InFile();
        var summary = (string)db.Scalar("SELECT rec_register_embedder('hash64', json_object('kind', 'hash', 'dim', 64))")!;
        Assert.AreEqual("""{"name":"hash64","kind":"hash","dim":64,"word_ngrams":2,"min_char_ngram":3,"max_char_ngram":5,"lowercase":true,"strip_accents":true}""", summary);
        Assert.AreEqual(summary, db.Scalar("SELECT rec_register_embedder('hash64', json_object('kind', 'hash', 'dim', 64))"), "the same registration again changes nothing");
        Assert.AreEqual(64L, db.Scalar("SELECT vec_length(rec_embed('hash64', 'x'))"));
        // Another connection (and process) reads the registry from the file.
        using (var other = db.OpenAnother())
            Assert.AreEqual(64L, TestDb.Scalar(other, "SELECT vec_length(rec_embed('hash64', 'x'))"));
        Assert.AreEqual("hash|64", string.Join("|", db.Rows("SELECT kind, dimension FROM rec_embedders WHERE name = 'hash64'")[0]));
        Assert.AreEqual(1L, db.Scalar("SELECT rec_drop_embedder('hash64')"));
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_embedders"));
        db.AssertError("SELECT rec_embed('hash64', 'x')", Errors.UnknownEmbedder("rec_embed", "hash64", ["hash"]).Message);
    }

    [TestMethod]
    [TestCategory("errors:rec_register_embedder")]
    public void RegistrationErrors()
    {
        using var db = TestDb.InMemory();
        const string f = "rec_register_embedder";
        db.AssertError("SELECT rec_register_embedder(NULL, json_object('kind', 'hash'))", Errors.EmbedderNameInvalid(f, "name", null).Message);
        db.AssertError("SELECT rec_register_embedder('hash', json_object('kind', 'hash'))", Errors.EmbedderBuiltIn(f, "hash").Message);
        db.AssertError("SELECT rec_register_embedder('e', NULL)",
            Errors.ArgumentNull(f, "options", "pass json_object('model', 'path/to/model.onnx') or json_object('kind', 'hash', 'dim', 512)").Message);
        db.AssertError("SELECT rec_register_embedder('e', 5)", Errors.ArgumentType(f, "options", "TEXT holding a JSON object", 5L).Message);
        db.AssertError("SELECT rec_register_embedder('e', '{}')",
            Errors.MissingOption(f, "model", "give the name of a model SqlRec knows ('all-MiniLM-L6-v2') or the path of a BERT-style ONNX model, or use kind 'hash' for the weight-free embedder").Message);
        db.AssertError("SELECT rec_register_embedder('e', json_object('kind', 'word2vec'))", Errors.UnknownEmbedderKind(f, "word2vec", ["onnx", "hash"]).Message);
        db.AssertError("SELECT rec_register_embedder('e', json_object('kind', 'hash', 'dim', 1))", Errors.OptionRange(f, "dim", "between 2 and 8192", "1").Message);
        db.AssertError("SELECT rec_register_embedder('e', json_object('kind', 'hash', 'pooling', 'mean'))",
            Errors.UnknownOption(f, "pooling", "embedder kind 'hash'", ["kind", "dim", "word_ngrams", "min_char_ngram", "max_char_ngram", "lowercase", "strip_accents"]).Message);
        var missing = Path.Combine(Environment.CurrentDirectory, "no-such-folder", "model.onnx");
        // A missing model is reported as the missing model, whether or not a tokenizer is named (it was once reported as a missing tokenizer).
        db.AssertError("SELECT rec_register_embedder('e', json_object('model', 'no-such-folder/model.onnx', 'tokenizer', 'no-such-folder/vocab.txt'))",
            Errors.EmbedderFileMissing(f, "model", missing).Message);
        db.AssertError("SELECT rec_register_embedder('e', json_object('model', 'no-such-folder/model.onnx'))",
            Errors.EmbedderFileMissing(f, "model", missing).Message);
        db.Scalar("SELECT rec_register_embedder('e', json_object('kind', 'hash', 'dim', 32))");
        db.AssertError("SELECT rec_register_embedder('e', json_object('kind', 'hash', 'dim', 64))", Errors.EmbedderExists(f, "e").Message);
        Assert.AreEqual(32L, db.Scalar("SELECT dimension FROM rec_embedders WHERE name = 'e'"), "the refused registration changed nothing");
    }

    [TestMethod]
    [TestCategory("errors:rec_drop_embedder")]
    public void DropErrors()
    {
        using var db = TestDb.InMemory();
        db.AssertError("SELECT rec_drop_embedder('nope')", Errors.UnknownEmbedder("rec_drop_embedder", "nope", ["hash"]).Message);
        db.AssertError("SELECT rec_drop_embedder('hash')", Errors.EmbedderBuiltIn("rec_drop_embedder", "hash").Message);
        db.AssertError("SELECT rec_drop_embedder(7)", Errors.EmbedderNameInvalid("rec_drop_embedder", "name", 7L).Message);
    }

    [TestMethod]
    [TestCategory("errors:rec_embed")]
    public void EmbedErrors()
    {
        using var db = TestDb.InMemory();
        const string f = "rec_embed";
        db.Scalar("SELECT rec_register_embedder('h8', json_object('kind', 'hash', 'dim', 8))");
        db.AssertError("SELECT rec_embed('minilm', 'x')", Errors.UnknownEmbedder(f, "minilm", ["hash", "h8"]).Message);
        db.AssertError("SELECT rec_embed('minilm', NULL)", Errors.UnknownEmbedder(f, "minilm", ["hash", "h8"]).Message);
        db.AssertError("SELECT rec_embed(NULL, 'x')", Errors.EmbedderNameInvalid(f, "embedder", null).Message);
        db.AssertError("SELECT rec_embed('hash', 42)", Errors.EmbedTextType(f, 42L).Message);
        db.AssertError("SELECT rec_embed('hash', x'00')", Errors.EmbedTextType(f, new byte[1]).Message);
        db.AssertError("SELECT rec_embed('hash', '')", Errors.EmbedTextEmpty(f).Message);
        db.AssertError("SELECT rec_embed('hash', '  \n ')", Errors.EmbedTextEmpty(f).Message);
        // DIRECTONLY: not from a view (nor a trigger), so a schema cannot run a model behind the application's back.
        db.Execute("CREATE VIEW v AS SELECT rec_embed('hash', 'x') AS e");
        Assert.ThrowsExactly<Microsoft.Data.Sqlite.SqliteException>(() => db.Scalar("SELECT e FROM v"));
        // A registry row edited by hand into something unreadable.
        db.Execute("UPDATE rec_embedders SET options = '{\"kind\": \"hash\", \"dim\": 0}'");
        db.AssertError("SELECT rec_embed('h8', 'x')", Errors.EmbedderRowInvalid(f, "h8", "option 'dim' must be between 2 and 8192, got 0").Message);
    }

    [TestMethod]
    [TestCategory("fn:rec_embed_each")]
    public void EmbedEachStreamsIdsOfBothTypesAndKeepsNullTexts()
    {
        using var db = TestDb.InMemory();
        db.Execute("CREATE TABLE t(id, body TEXT)");
        db.Execute("INSERT INTO t VALUES (1, 'one'), ('b', 'two'), (3.0, NULL)");
        var rows = db.Rows("SELECT id, typeof(id), length(embedding) FROM rec_embed_each('hash', 'SELECT id, body FROM t ORDER BY rowid')");
        Assert.AreEqual("1|integer|2048;b|text|2048;3|integer|", string.Join(";", rows.Select(r => string.Join("|", r.Select(CatalogTests.Format)))));
        CollectionAssert.AreEqual((byte[])db.Scalar("SELECT rec_embed('hash', 'two')")!, (byte[])db.Scalar("SELECT embedding FROM rec_embed_each('hash', 'SELECT id, body FROM t') WHERE id = 'b'")!);
        // More rows than one window: 3,000 rows through the streaming cursor, counted without holding them.
        Assert.AreEqual(3000L, db.Scalar("SELECT count(*) FROM rec_embed_each('hash', 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) SELECT i, ''item '' || i FROM n')"));
        // Hidden columns as WHERE constraints work too.
        Assert.AreEqual(3L, db.Scalar("SELECT count(*) FROM rec_embed_each WHERE embedder = 'hash' AND query = 'SELECT id, body FROM t'"));
    }

    [TestMethod]
    [TestCategory("errors:rec_embed_each")]
    public void EmbedEachErrors()
    {
        using var db = TestDb.InMemory();
        const string f = "rec_embed_each";
        db.Execute("CREATE TABLE t(id, body)");
        db.Execute("INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 3), (x'01', 'four'), (5, '')");
        db.AssertError("SELECT * FROM rec_embed_each('nope', 'SELECT id, body FROM t')", Errors.UnknownEmbedder(f, "nope", ["hash"]).Message);
        db.AssertError("SELECT * FROM rec_embed_each('hash', NULL)",
            Errors.ArgumentNull(f, "query", "pass a SELECT returning (id, text), e.g. 'SELECT id, title FROM items'").Message);
        db.AssertError("SELECT * FROM rec_embed_each('hash')", Errors.TableArgumentMissing(f, "query", "SELECT id, embedding FROM rec_embed_each(embedder, 'SELECT id, text FROM ...')").Message);
        db.AssertError("SELECT * FROM rec_embed_each('hash', 'DELETE FROM t')", Errors.QueryNotSelect(f, QueryRole.EmbedQuery, "DELETE FROM t").Message);
        db.AssertError("SELECT * FROM rec_embed_each('hash', 'SELECT 1, 2; DELETE FROM t')", Errors.QuerySeveralStatements(f, QueryRole.EmbedQuery, " DELETE FROM t").Message);
        db.AssertError("SELECT * FROM rec_embed_each('hash', 'SELECT id FROM nowhere')", Errors.QueryFailed(f, QueryRole.EmbedQuery, "no such table: nowhere").Message);
        db.AssertError("SELECT * FROM rec_embed_each('hash', 'SELECT body FROM t')", Errors.QueryColumns(f, QueryRole.EmbedQuery, 1).Message);
        db.AssertError("SELECT * FROM rec_embed_each('hash', 'SELECT id, body FROM t ORDER BY rowid')", Errors.EmbedQueryBadText(f, 3, 3L, 3L).Message);
        db.AssertError("SELECT * FROM rec_embed_each('hash', 'SELECT id, body FROM t WHERE rowid = 4')", Errors.QueryBadId(f, QueryRole.EmbedQuery, "id", 1, new byte[] { 1 }).Message);
        db.AssertError("SELECT * FROM rec_embed_each('hash', 'SELECT id, body FROM t WHERE rowid = 5')", Errors.EmbedQueryEmptyText(f, 1, 5L).Message);
        // A failure part way through an INSERT changes nothing.
        db.Execute("CREATE TABLE out(id, e)");
        db.AssertError("INSERT INTO out SELECT id, embedding FROM rec_embed_each('hash', 'SELECT id, body FROM t ORDER BY rowid')", Errors.EmbedQueryBadText(f, 3, 3L, 3L).Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM out"));
        // An error in a later window surfaces from xNext with its own message.
        db.AssertError("SELECT count(*) FROM rec_embed_each('hash', 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) SELECT i, CASE WHEN i = 1500 THEN '''' ELSE ''x'' END FROM n')",
            Errors.EmbedQueryEmptyText(f, 1500, 1500L).Message);
    }

    /// <summary>The acceptance path: register, embed a column into vec0, query with MATCH ... AND k = 10.</summary>
    [TestMethod]
    [TestCategory("fn:rec_embed_each")]
    public void ACatalogueGoesIntoVec0AndIsSearchedWithMatchAndK()
    {
        var folder = Directory.CreateTempSubdirectory("sqlrec-vec0-").FullName;
        try
        {
            var vocabulary = BertFixture.SmallVocabulary();
            var model = new BertFixture(BertFixture.Config.Small(vocabulary.Count)).Write(folder, vocabulary);
            using var db = TestDb.InMemory();
            db.Execute("CREATE TABLE books(id INTEGER PRIMARY KEY, title TEXT)");
            var titles = new[]
            {
                "The Dark Ocean", "A Dragon of Fire", "Recipes for Bread", "The Old King", "Murder in the Garden", "Stars and Ships",
                "The Queen of Ice", "History of an Empire", "Love and War", "The Red City", "Night on the Sea", "The Blue Star",
                "Cook with Fire", "Detective Stories", "The Mystery Ship", "Space Dragons",
            };
            for (var i = 0; i < titles.Length; i++) db.Execute("INSERT INTO books VALUES ($1, $2)", i + 1, titles[i]);
            foreach (var (embedder, options) in new[] { ("fixture", $"json_object('model', '{model}')"), ("hash128", "json_object('kind', 'hash', 'dim', 128)") })
            {
                var dim = (long)db.Scalar($"SELECT rec_register_embedder('{embedder}', {options}) ->> 'dim'")!;
                db.Execute($"CREATE VIRTUAL TABLE vecs_{embedder} USING vec0(embedding float[{dim}] distance_metric=cosine)");
                db.Execute($"INSERT INTO vecs_{embedder}(rowid, embedding) SELECT id, embedding FROM rec_embed_each('{embedder}', 'SELECT id, title FROM books')");
                Assert.AreEqual((long)titles.Length, db.Scalar($"SELECT count(*) FROM vecs_{embedder}"));
                var hits = db.Rows($"""
                    SELECT b.title, v.distance FROM vecs_{embedder} v JOIN books b ON b.id = v.rowid
                    WHERE v.embedding MATCH rec_embed('{embedder}', 'The Mystery Ship') AND k = 10 ORDER BY v.distance
                    """);
                Assert.HasCount(10, hits, embedder);
                Assert.AreEqual("The Mystery Ship", hits[0][0], embedder);
                Assert.AreEqual(0.0, (double)hits[0][1]!, 1e-5, embedder);
                CollectionAssert.AreEqual(hits.Select(h => (double)h[1]!).Order().ToArray(), hits.Select(h => (double)h[1]!).ToArray(), "nearest first");
                // vec_distance_cosine reads the same BLOBs.
                Assert.AreEqual((double)hits[1][1]!, (double)db.Scalar($"SELECT vec_distance_cosine(rec_embed('{embedder}', 'The Mystery Ship'), rec_embed('{embedder}', $1))", hits[1][0])!, 1e-5);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
