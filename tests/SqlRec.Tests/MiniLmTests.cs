using SqlRec.Embeddings;
using SqlRec.Vectors;

namespace SqlRec.Tests;

/// <summary>
/// The real all-MiniLM-L6-v2 as a named model (SqlRec.Models.MiniLM, which the build fetches and
/// checks, so these never skip): sentence-transformers' own fp32 vectors, batching and padding that
/// change no vector, the edge cases SqlRec decides, and the errors of a model that is missing or
/// damaged. Each test embeds a handful of texts: the model costs about 5 ms per short text here.
/// </summary>
[TestClass]
public sealed class MiniLmTests
{
    /// <summary>How close SqlRec comes to sentence-transformers' fp32 vectors (the reference values have 8 decimals; SqlRec is within 1e-7 of each).</summary>
    private const double ReferenceTolerance = 1e-7;

    /// <summary>Batched against one at a time: different padding and batch shapes reorder float sums.</summary>
    private const double BatchTolerance = 1e-6;

    private static float[] Floats(object? blob) => VectorBlob.ToFloats("test", "blob", (byte[])blob!);

    private static TestDb Registered()
    {
        var db = TestDb.InMemory();
        db.Scalar("SELECT rec_register_embedder('minilm', json_object('model', 'all-MiniLM-L6-v2'))");
        return db;
    }

    private static float[] Embed(TestDb db, string text) => Floats(db.Scalar("SELECT rec_embed('minilm', $1)", text));

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.HasCount(expected.Length, actual, what);
        var worst = 0.0;
        for (var i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.IsLessThanOrEqualTo(tolerance, worst, $"{what}: largest difference {worst:E2}");
    }

    [TestMethod]
    [TestCategory("fn:rec_register_embedder")]
    [TestCategory("fn:rec_embed")]
    public void TheNamedModelGivesSentenceTransformersReferenceVectors()
    {
        using var db = TestDb.InMemory();
        var summary = (string)db.Scalar("SELECT rec_register_embedder('minilm', json_object('model', 'all-MiniLM-L6-v2'))")!;
        StringAssert.Contains(summary, "\"dim\":384");
        StringAssert.Contains(summary, "\"max_length\":256");
        StringAssert.Contains(summary, "\"model_path\":");
        // Stored by name, not by path: the database works wherever the model is installed.
        Assert.AreEqual("all-MiniLM-L6-v2", db.Scalar("SELECT options ->> '$.model' FROM rec_embedders WHERE name = 'minilm'"));
        Assert.IsNull(db.Scalar("SELECT options ->> '$.tokenizer' FROM rec_embedders WHERE name = 'minilm'"));

        // sentence-transformers 'all-MiniLM-L6-v2', fp32, mean pooling and L2 normalisation (shared/data/README.md).
        var first = Embed(db, "This is an example sentence");
        var second = Embed(db, "Each sentence is converted.");
        Assert.HasCount(384, first);
        AssertClose([0.06765693f, 0.06349593f, 0.04871314f, 0.07930495f, 0.03744806f, 0.00265273f], first[..6], ReferenceTolerance, "example sentence");
        AssertClose([0.07853645f, 0.08856265f, -0.00209270f, -0.00717247f, -0.01252624f, 0.01881747f], second[..6], ReferenceTolerance, "each sentence");
        Assert.AreEqual(1.0, Math.Sqrt(first.Sum(x => (double)x * x)), 1e-6, "unit length");

        // The Hugging Face id names the same model.
        db.Scalar("SELECT rec_register_embedder('st', json_object('model', 'sentence-transformers/all-MiniLM-L6-v2'))");
        CollectionAssert.AreEqual(first, Floats(db.Scalar("SELECT rec_embed('st', 'This is an example sentence')")));
    }

    [TestMethod]
    [TestCategory("fn:rec_embed_each")]
    public void BatchedEqualsOneByOneAndPaddingChangesNoVector()
    {
        using var db = Registered();
        string[] texts =
        [
            "A space adventure with robots",
            "Toy Story (1995) Animation|Children's|Comedy",
            "love",
            "An old man and his dog travel across the country to find the house he grew up in, meeting strangers on the way",
            "Star Wars",
        ];
        db.Execute("CREATE TABLE t(id INTEGER PRIMARY KEY, text TEXT)");
        for (var i = 0; i < texts.Length; i++) db.Execute("INSERT INTO t VALUES ($1, $2)", i, texts[i]);
        // One batch of all five (padded to the longest, sorted by length) against each text alone (no padding).
        db.Execute("SELECT rec_register_embedder('minilm5', json_object('model', 'all-MiniLM-L6-v2', 'batch_size', 5))");
        db.Execute("SELECT rec_register_embedder('minilm2', json_object('model', 'all-MiniLM-L6-v2', 'batch_size', 2))");
        foreach (var embedder in new[] { "minilm5", "minilm2" })
        {
            var rows = db.Rows($"SELECT id, embedding FROM rec_embed_each('{embedder}', 'SELECT id, text FROM t')");
            Assert.HasCount(texts.Length, rows);
            foreach (var row in rows)
            {
                var id = (int)(long)row[0]!;
                AssertClose(Embed(db, texts[id]), Floats(row[1]), BatchTolerance, $"{embedder}: text {id} batched");
            }
        }
    }

    /// <summary>
    /// The edge cases, decided: NULL gives NULL; an empty or whitespace-only text is refused (the
    /// model would give the vector of "[CLS] [SEP]", the same for every empty row, which a search
    /// would rank like a real match); text past 256 wordpieces is cut there, as sentence-transformers'
    /// max_seq_length 256 does; accents are stripped and case folded (the uncased vocabulary), so
    /// "Café" and "cafe" are one vector; CJK characters are tokens of their own; an emoji, not in the
    /// vocabulary, is [UNK], as sentence-transformers makes it.
    /// </summary>
    [TestMethod]
    [TestCategory("fn:rec_embed")]
    public void EdgeCasesBehaveAsDocumented()
    {
        using var db = Registered();
        Assert.IsNull(db.Scalar("SELECT rec_embed('minilm', NULL)"));
        db.AssertError("SELECT rec_embed('minilm', '')", Errors.EmbedTextEmpty("rec_embed").Message);
        db.AssertError("SELECT rec_embed('minilm', ' \t\n ')", Errors.EmbedTextEmpty("rec_embed").Message);

        var tokenizer = WordPieceTokenizer.Load("test", NamedModels.Locate("test", NamedModels.MiniLM).Vocabulary, true, true, 256);
        var words = string.Join(' ', Enumerable.Range(0, 2000).Select(i => i % 7 == 0 ? "robots" : "space"));
        var longText = words[..10_000];
        Assert.HasCount(256, tokenizer.Encode(longText));
        // Only the first 254 wordpieces count: a different ending after them changes nothing.
        CollectionAssert.AreEqual(Embed(db, longText), Embed(db, longText[..3_000] + " and a completely different ending"));

        CollectionAssert.AreEqual(Embed(db, "cafe"), Embed(db, "Café"));
        CollectionAssert.AreEqual(Embed(db, "naive resume"), Embed(db, "NAÏVE RÉSUMÉ"));

        CollectionAssert.AreEqual(new[] { 101, 1746, 1861, 102 }, tokenizer.Encode("中文"));
        var japanese = Embed(db, "東京は日本の首都です");
        Assert.AreEqual(1.0, Math.Sqrt(japanese.Sum(x => (double)x * x)), 1e-6);

        // Symbols and emoji as sentence-transformers' BertTokenizer has them: a character that is
        // neither whitespace, control nor punctuation stays in its word, and WordPiece makes a word it
        // cannot cover one [UNK] (id 100): "rocket 🚀" is [CLS] rocket [UNK] [SEP], not "rocket".
        CollectionAssert.AreEqual(new[] { 101, 7596, 100, 102 }, tokenizer.Encode("rocket 🚀"));
        CollectionAssert.AreEqual(new[] { 101, 100, 102 }, tokenizer.Encode("🚀"));
        CollectionAssert.AreNotEqual(Embed(db, "rocket"), Embed(db, "rocket 🚀"));
    }

    [TestMethod]
    [TestCategory("fn:rec_register_embedder")]
    public void ANamedModelThatIsNotInstalledOrDamagedIsAClearError()
    {
        if (ExtensionHost.Enabled) Assert.Inconclusive("moves model files in this process's folders, which the loadable extension's run does not search");
        const string f = "rec_register_embedder";
        var model = NamedModels.MiniLM;
        var installed = NamedModels.Locate("test", model).Model;
        var folder = Directory.CreateTempSubdirectory("sqlrec-models-").FullName;
        var previous = Environment.GetEnvironmentVariable(NamedModels.EnvironmentVariable);
        try
        {
            // SQLREC_MODELS comes first: a copy there with a damaged vocabulary is refused by its checksum.
            var copy = Path.Combine(folder, model.Name);
            Directory.CreateDirectory(copy);
            File.Copy(installed, Path.Combine(copy, "model.onnx"));
            Environment.SetEnvironmentVariable(NamedModels.EnvironmentVariable, folder);
            using var db = TestDb.InMemory();
            db.AssertError("SELECT rec_register_embedder('m', json_object('model', 'all-MiniLM-L6-v2'))",
                Errors.NamedModelIncomplete(f, model.Name, copy, "vocab.txt", model.Package).Message);
            File.WriteAllText(Path.Combine(copy, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
            var vocabulary = Path.Combine(copy, "vocab.txt");
            db.AssertError("SELECT rec_register_embedder('m', json_object('model', 'all-MiniLM-L6-v2'))",
                Errors.NamedModelDamaged(f, model.Name, vocabulary, $"{new FileInfo(vocabulary).Length:N0} bytes, expected {model.Vocabulary.Size:N0}", model.Package).Message);
            db.AssertError("SELECT rec_register_embedder('m', json_object('model', 'all-MiniLM-L6-v2', 'tokenizer', 'vocab.txt'))",
                Errors.NamedModelTokenizer(f, model.Name).Message);

            // Not installed anywhere: every root searched is named, and how to get it.
            var missing = model with { Name = "no-such-model", Aliases = [] };
            var roots = NamedModels.Roots();
            Assert.AreEqual(Path.GetFullPath(folder), roots[0], "SQLREC_MODELS is searched first");
            var error = Assert.Throws<SqlRecException>(() => NamedModels.Locate(f, missing));
            Assert.AreEqual(Errors.NamedModelNotInstalled(f, "no-such-model", model.Package, roots, NamedModels.UserFolder).Message, error.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(NamedModels.EnvironmentVariable, previous);
            Directory.Delete(folder, recursive: true);
        }
    }
}
