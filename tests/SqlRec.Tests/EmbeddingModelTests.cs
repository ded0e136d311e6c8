using SqlRec.Embeddings;
using SqlRec.Tests.Onnx;
using SqlRec.Vectors;

namespace SqlRec.Tests;

/// <summary>
/// ONNX embedders end to end on generated fixture models: ONNX Runtime's output through the whole
/// SqlRec pipeline (registry, tokenizer, batching, pooling, vector BLOB) against a plain managed
/// forward pass of the same network, and every way a model can fail to fit its options.
/// </summary>
[TestClass]
public sealed class EmbeddingModelTests
{
    private const double Tolerance = 2e-4;
    private static string _folder = null!;
    private static BertFixture _fixture = null!;
    private static List<string> _vocabulary = null!;
    private static string _model = null!;

    [ClassInitialize]
    public static void CreateFixtures(TestContext _)
    {
        _folder = Directory.CreateTempSubdirectory("sqlrec-onnx-").FullName;
        _vocabulary = BertFixture.SmallVocabulary();
        _fixture = new BertFixture(BertFixture.Config.Small(_vocabulary.Count));
        _model = _fixture.Write(Path.Combine(_folder, "small"), _vocabulary);
        _fixture.Write(Path.Combine(_folder, "sentence"), _vocabulary, sentenceOutput: true);
    }

    [ClassCleanup]
    public static void DeleteFixtures()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private static string Register(TestDb db, string name, string path, string extra = "") =>
        (string)db.Scalar($"SELECT rec_register_embedder('{name}', json_object('model', $1{extra}))", path)!;

    private static float[] Floats(object? blob) => VectorBlob.ToFloats("test", "blob", (byte[])blob!);

    private static WordPieceTokenizer Tokenizer(int maxLength = 256) =>
        WordPieceTokenizer.Load("test", Path.Combine(Path.GetDirectoryName(_model)!, "vocab.txt"), true, true, maxLength);

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.HasCount(expected.Length, actual, what);
        for (var i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], actual[i], Tolerance, $"{what}: element {i}");
    }

    [TestMethod]
    [TestCategory("fn:rec_register_embedder")]
    [TestCategory("fn:rec_embed")]
    public void RecEmbedEqualsTheManagedForwardPassOfTheSameNetwork()
    {
        using var db = TestDb.InMemory();
        var summary = Register(db, "small", _model);
        StringAssert.Contains(summary, "\"dim\":32");
        StringAssert.Contains(summary, "\"output\":\"last_hidden_state\"");
        var tokenizer = Tokenizer();
        foreach (var text in new[] { "The old king of the sea", "Dragons!", "a", "Café crème brûlée, unaffable; 42 stars" })
        {
            var actual = Floats(db.Scalar("SELECT rec_embed('small', $1)", text));
            var expected = _fixture.MeanPooledNormalized(tokenizer.Encode(text));
            AssertClose(expected, actual, text);
            Assert.AreEqual(1.0, Math.Sqrt(actual.Sum(v => (double)v * v)), 1e-5, "L2-normalised");
        }
        Assert.IsNull(db.Scalar("SELECT rec_embed('small', NULL)"));
    }

    [TestMethod]
    [TestCategory("fn:rec_embed_each")]
    public void BulkEmbeddingBatchesMixedLengthsAndGivesWhatOneByOneGives()
    {
        using var db = TestDb.InMemory();
        Register(db, "small", _model, ", 'batch_size', 4");
        var words = new[] { "the", "dark", "ocean", "star", "ship", "of", "love", "and", "war", "red", "fire" };
        db.Execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)");
        var random = new Random(3);
        var texts = new Dictionary<long, string?>();
        for (var id = 1; id <= 300; id++)
        {
            // Lengths from 1 to 40 words, so batches need padding, and a few NULL texts.
            var text = id % 50 == 0 ? null : string.Join(' ', Enumerable.Range(0, 1 + random.Next(40)).Select(_ => words[random.Next(words.Length)]));
            texts[id] = text;
            db.Execute("INSERT INTO docs VALUES ($1, $2)", id, text);
        }
        var rows = db.Rows("SELECT id, embedding FROM rec_embed_each('small', 'SELECT id, body FROM docs ORDER BY id')");
        Assert.HasCount(300, rows);
        CollectionAssert.AreEqual(texts.Keys.ToArray(), rows.Select(r => (long)r[0]!).ToArray(), "rows come in the query's order");
        var tokenizer = Tokenizer();
        foreach (var row in rows)
        {
            var text = texts[(long)row[0]!];
            if (text is null)
            {
                Assert.IsNull(row[1], "NULL text gives a NULL embedding");
                continue;
            }
            AssertClose(_fixture.MeanPooledNormalized(tokenizer.Encode(text)), Floats(row[1]), $"id {row[0]}");
            // The per-row function gives the same vector as the batched one.
            if ((long)row[0]! % 37 == 0) AssertClose(Floats(row[1]), Floats(db.Scalar("SELECT rec_embed('small', $1)", text)), "rec_embed");
        }
    }

    [TestMethod]
    [TestCategory("fn:rec_embed")]
    public void PoolingClsAndNoneAndUnnormalised()
    {
        using var db = TestDb.InMemory();
        var tokenizer = Tokenizer();
        const string text = "the blue ocean and the red star";
        var tokens = tokenizer.Encode(text);

        Register(db, "cls", _model, ", 'pooling', 'cls', 'normalize', json('false')");
        var hidden = _fixture.Forward(tokens);
        AssertClose(hidden.Take(_fixture.Shape.Hidden).Select(v => (float)v).ToArray(), Floats(db.Scalar("SELECT rec_embed('cls', $1)", text)), "cls, not normalised");

        // A model that outputs sentence vectors itself (here the mean over the sequence).
        var sentence = Path.Combine(_folder, "sentence", "model.onnx");
        var summary = Register(db, "sentence", sentence, ", 'pooling', 'none'");
        StringAssert.Contains(summary, "\"output\":\"sentence_embedding\"");
        AssertClose(_fixture.MeanPooledNormalized(tokens), Floats(db.Scalar("SELECT rec_embed('sentence', $1)", text)), "pooling none");
    }

    [TestMethod]
    [TestCategory("fn:rec_embed")]
    public void LongTextsAreTruncatedToMaxLengthTokens()
    {
        using var db = TestDb.InMemory();
        Register(db, "short", _model, ", 'max_length', 8");
        var tokenizer = Tokenizer(8);
        var text = string.Join(' ', Enumerable.Repeat("dragon ship of fire", 50));
        var tokens = tokenizer.Encode(text);
        Assert.HasCount(8, tokens);
        Assert.AreEqual(tokenizer.SepId, tokens[^1]);
        AssertClose(_fixture.MeanPooledNormalized(tokens), Floats(db.Scalar("SELECT rec_embed('short', $1)", text)), "truncated");
        // Only the first six word pieces count: a different tail changes nothing.
        CollectionAssert.AreEqual((byte[])db.Scalar("SELECT rec_embed('short', $1)", text)!,
            (byte[])db.Scalar("SELECT rec_embed('short', $1)", "dragon ship of fire dragon ship and something else entirely")!);
    }

    [TestMethod]
    [TestCategory("fn:rec_register_embedder")]
    public void TheSameModelFileIsLoadedOnceAndSharedAcrossConnectionsAndThreads()
    {
        using var db = TestDb.InFile();
        Register(db, "small", _model);
        using var other = db.OpenAnother();
        var expected = (byte[])db.Scalar("SELECT rec_embed('small', 'the king')")!;
        var results = new byte[8][];
        Parallel.For(0, results.Length, i =>
        {
            using var connection = db.OpenAnother();
            for (var n = 0; n < 20; n++) results[i] = (byte[])TestDb.Scalar(connection, "SELECT rec_embed('small', 'the king')")!;
        });
        foreach (var result in results) CollectionAssert.AreEqual(expected, result);
        CollectionAssert.AreEqual(expected, (byte[])TestDb.Scalar(other, "SELECT rec_embed('small', 'the king')")!);
    }

    [TestMethod]
    [TestCategory("errors:rec_register_embedder")]
    public void ModelsThatDoNotFitTheirOptionsAreRefusedAtRegistration()
    {
        using var db = TestDb.InMemory();
        const string function = "rec_register_embedder";
        var sql = "SELECT rec_register_embedder('m', json_object('model', $1, 'tokenizer', $2))";
        var vocab = Path.Combine(_folder, "small", "vocab.txt");

        var missing = Path.Combine(_folder, "nowhere", "model.onnx");
        db.AssertError(sql, Errors.EmbedderFileMissing(function, "model", missing).Message, missing, vocab);

        var corrupt = Path.Combine(_folder, "corrupt.onnx");
        File.WriteAllBytes(corrupt, [0x08, 0x07, 0xFF, 0xFF, 0x12, 0x99, 0x01, 0x02, 0x03]);
        var error = Assert.ThrowsExactly<Microsoft.Data.Sqlite.SqliteException>(() => db.Scalar(sql, corrupt, vocab));
        StringAssert.StartsWith(TestDb.SqliteMessage(error), $"{function}(): '{corrupt}' is not a model ONNX Runtime can load: ");

        // The tokenizer knows more tokens than the model's embedding table holds.
        var smaller = new BertFixture(BertFixture.Config.Small(_vocabulary.Count - 20)).Write(Path.Combine(_folder, "smaller"), _vocabulary[..^20]);
        var mismatch = Assert.ThrowsExactly<Microsoft.Data.Sqlite.SqliteException>(() => db.Scalar(sql, smaller, vocab));
        StringAssert.StartsWith(TestDb.SqliteMessage(mismatch),
            $"{function}(): the tokenizer has {_vocabulary.Count} tokens but the model fails on token id {_vocabulary.Count - 1} (");

        // Position embeddings for 512 tokens only.
        var tooLong = Assert.ThrowsExactly<Microsoft.Data.Sqlite.SqliteException>(() =>
            db.Scalar("SELECT rec_register_embedder('m', json_object('model', $1, 'max_length', 600))", _model));
        StringAssert.StartsWith(TestDb.SqliteMessage(tooLong), $"{function}(): the model fails on a sequence of 600 tokens (");

        var sentence = Path.Combine(_folder, "sentence", "model.onnx");
        db.AssertError("SELECT rec_register_embedder('m', json_object('model', $1))",
            Errors.PoolingMismatch(function, "mean", "sentence_embedding", "float32 [batch, 32]", "use pooling 'none' for a model that outputs one vector per text").Message, sentence);
        db.AssertError("SELECT rec_register_embedder('m', json_object('model', $1, 'pooling', 'none'))",
            Errors.PoolingMismatch(function, "none", "last_hidden_state", "float32 [batch, sequence, 32]", "use pooling 'mean' or 'cls' for a model that outputs one vector per token").Message, _model);
        db.AssertError("SELECT rec_register_embedder('m', json_object('model', $1, 'output', 'pooler_output'))",
            Errors.ModelOutputUnknown(function, "pooler_output", "'last_hidden_state' float32 [batch, sequence, 32]").Message, _model);

        db.AssertError("SELECT rec_register_embedder('m', json_object('model', $1, 'provider', 'cuda'))",
            Errors.ProviderUnavailable(function, "cuda", ["CPUExecutionProvider"]).Message, _model);
        db.AssertError("SELECT rec_register_embedder('m', json_object('model', $1, 'provider', 'directml'))",
            Errors.ProviderUnavailable(function, "directml", ["CPUExecutionProvider"]).Message, _model);
        db.AssertError("SELECT rec_register_embedder('m', json_object('model', $1, 'provider', 'tpu'))",
            Errors.OptionRange(function, "provider", "one of 'cpu', 'cuda', 'directml'", "\"tpu\"").Message, _model);

        // Nothing was stored by any of the failures.
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'rec_embedders'"));
    }

    [TestMethod]
    [TestCategory("errors:rec_register_embedder")]
    public void ModelsWithInputsSqlRecCannotFeedAreRefused()
    {
        using var db = TestDb.InMemory();
        const string function = "rec_register_embedder";
        var folder = Path.Combine(_folder, "image");
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(_folder, "small", "vocab.txt"), Path.Combine(folder, "vocab.txt"), overwrite: true);
        var image = new OnnxGraph();
        image.Input("pixel_values", OnnxGraph.Float, "batch", 3);
        image.NodeTo("Identity", ["pixel_values"], "out");
        image.Output("out", OnnxGraph.Float, "batch", 3);
        image.Save(Path.Combine(folder, "image.onnx"));
        db.AssertError("SELECT rec_register_embedder('m', json_object('model', $1))",
            Errors.ModelInputsUnsupported(function, "the model has no input 'input_ids'", "'pixel_values' float32 [batch, 3]").Message, Path.Combine(folder, "image.onnx"));

        var fixedBatch = new OnnxGraph();
        fixedBatch.Input("input_ids", OnnxGraph.Int64, 1, "sequence");
        fixedBatch.NodeTo("Cast", ["input_ids"], "out", ("to", OnnxGraph.Float));
        fixedBatch.Output("out", OnnxGraph.Float, 1, "sequence");
        fixedBatch.Save(Path.Combine(folder, "fixed.onnx"));
        db.AssertError("SELECT rec_register_embedder('m', json_object('model', $1))",
            Errors.ModelInputsUnsupported(function, "input 'input_ids' has a fixed batch size of 1; export the model with a dynamic batch axis", "'input_ids' int64 [1, sequence]").Message,
            Path.Combine(folder, "fixed.onnx"));
    }

    [TestMethod]
    [TestCategory("fn:rec_embed")]
    public void ModelsWithInt32InputsAndNoTokenTypesWork()
    {
        var folder = Path.Combine(_folder, "int32");
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(_folder, "small", "vocab.txt"), Path.Combine(folder, "vocab.txt"), overwrite: true);
        // Without token type embeddings the network differs from the fixture's: compare with itself through int64 inputs instead.
        _fixture.Graph(int32Inputs: true, withTokenTypes: false).Save(Path.Combine(folder, "int32.onnx"));
        _fixture.Graph(int32Inputs: false, withTokenTypes: false).Save(Path.Combine(folder, "int64.onnx"));
        using var db = TestDb.InMemory();
        Register(db, "a", Path.Combine(folder, "int32.onnx"));
        Register(db, "b", Path.Combine(folder, "int64.onnx"));
        AssertClose(Floats(db.Scalar("SELECT rec_embed('b', 'the red ship')")), Floats(db.Scalar("SELECT rec_embed('a', 'the red ship')")), "int32 = int64");
    }

    [TestMethod]
    [TestCategory("errors:rec_embed")]
    public void AModelFileReplacedAfterRegistrationIsCaught()
    {
        var folder = Path.Combine(_folder, "replaced");
        var path = _fixture.Write(folder, _vocabulary);
        // The cache looks at the files again every two seconds; this connection makes it look every time.
        using var db = TestDb.InMemory(new SqlRecOptions { EmbedderRecheckInterval = TimeSpan.Zero });
        Register(db, "r", path);
        Assert.IsNotNull(db.Scalar("SELECT rec_embed('r', 'the king')"));
        // Same vocabulary, wider vectors: the stored dimension no longer matches.
        new BertFixture(BertFixture.Config.Small(_vocabulary.Count) with { Hidden = 48 }).Write(folder, _vocabulary);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
        db.AssertError("SELECT rec_embed('r', 'the king')", Errors.EmbedderDimensionChanged("rec_embed", "r", 32, 48).Message);
        File.Delete(path);
        db.AssertError("SELECT rec_embed('r', 'the king')", Errors.EmbedderFileMissing("rec_embed", "model", path).Message);
    }

    /// <summary>
    /// A registered embedder whose folder is gone (model and tokenizer both) says its model file is
    /// missing: not its tokenizer, and not that its registry row is damaged.
    /// </summary>
    [TestMethod]
    [TestCategory("errors:rec_embed")]
    public void AMissingModelFileIsReportedAsTheModel()
    {
        var folder = Path.Combine(_folder, "moved");
        var path = _fixture.Write(folder, _vocabulary);
        using var db = TestDb.InMemory(new SqlRecOptions { EmbedderRecheckInterval = TimeSpan.Zero });
        Register(db, "moved", path);
        Assert.IsNotNull(db.Scalar("SELECT rec_embed('moved', 'the king')"));
        Directory.Delete(folder, recursive: true);
        db.AssertError("SELECT rec_embed('moved', 'the king')", Errors.EmbedderFileMissing("rec_embed", "model", path).Message);
        db.AssertError("SELECT rec_register_embedder('again', json_object('model', $1))", Errors.EmbedderFileMissing("rec_register_embedder", "model", path).Message, path);
    }

    [TestMethod]
    public void TheFixturesErfIsAccurate()
    {
        // Reference values of erf.
        Assert.AreEqual(0.8427007929497149, BertFixture.Erf(1), 1e-12);
        Assert.AreEqual(0.9953222650189527, BertFixture.Erf(2), 1e-12);
        Assert.AreEqual(0.9999779095030014, BertFixture.Erf(3), 1e-12);
        Assert.AreEqual(-0.5204998778130465, BertFixture.Erf(-0.5), 1e-12);
    }
}
