using SqlRec.Embeddings;
using SqlRec.Vectors;

namespace SqlRec.Tests;

/// <summary>
/// The BERT tokenizer against the real all-MiniLM-L6-v2 vocabulary (known token id sequences),
/// accent stripping without ICU, and the vector BLOB format.
/// </summary>
[TestClass]
public sealed class EmbeddingTokenizerTests
{
    /// <summary>The packaged model's folder (SqlRec.Models.MiniLM, fetched by the build): vocab.txt is always there.</summary>
    private static string ModelFolder() => Path.GetDirectoryName(NamedModels.Locate("test", NamedModels.MiniLM).Vocabulary)!;

    private static WordPieceTokenizer Real(string file = "vocab.txt", int maxLength = 256) =>
        WordPieceTokenizer.Load("test", file == "vocab.txt" ? Path.Combine(ModelFolder(), file) : TestData.RequireSharedData("models", "all-MiniLM-L6-v2", file),
            lowercase: true, stripAccents: true, maxLength);

    private static int Id(string token) => Array.IndexOf(File.ReadAllLines(Path.Combine(ModelFolder(), "vocab.txt")), token);

    [TestMethod]
    public void KnownSentencesGiveTheKnownTokenIds()
    {
        var tokenizer = Real();
        Assert.AreEqual(30522, tokenizer.VocabularySize);
        CollectionAssert.AreEqual(new[] { 101, 2023, 2003, 2019, 2742, 6251, 102 }, tokenizer.Encode("This is an example sentence"));
        CollectionAssert.AreEqual(new[] { 101, 2169, 6251, 2003, 4991, 102 }, tokenizer.Encode("Each sentence is converted"));
        // Punctuation is split off; sub-words carry ##.
        CollectionAssert.AreEqual(new[] { 101, 7592, 1010, 2088, 999, 102 }, tokenizer.Encode("Hello, world!"));
        CollectionAssert.AreEqual(new[] { 101, 14477, 20961, 3468, 102 }, tokenizer.Encode("unaffable"));
        // Lower-casing and accent stripping.
        CollectionAssert.AreEqual(new[] { 101, 7668, 102 }, tokenizer.Encode("CAFÉ"));
        CollectionAssert.AreEqual(new[] { 101, 15743, 13746, 12431, 102 }, tokenizer.Encode("Naïve RÉSUMÉ École"));
        // CJK characters are tokens of their own.
        CollectionAssert.AreEqual(new[] { 101, 1746, 1861, 102 }, tokenizer.Encode("中文"));
        // Tabs and newlines separate words; control characters vanish.
        CollectionAssert.AreEqual(new[] { 101, Id("tab"), Id("here"), Id("and"), Id("there"), 102 }, tokenizer.Encode("tab\there\nand\u0000 there"));
        // Nothing to tokenize still gives [CLS] [SEP].
        CollectionAssert.AreEqual(new[] { 101, 102 }, tokenizer.Encode("   "));
    }

    /// <summary>
    /// BERT's BasicTokenizer, as sentence-transformers runs it, with the ids looked up by hand in
    /// vocab.txt (the line number minus one): symbols and emoji are not dropped but stay in their
    /// word, which WordPiece makes one [UNK] (100) when the vocabulary cannot cover it; ASCII
    /// symbols such as '$' are punctuation and split off; format and private-use characters vanish;
    /// special tokens written in the text are themselves.
    /// </summary>
    [TestMethod]
    public void SymbolsAndEmojiAreTokenizedAsBertDoes()
    {
        var tokenizer = Real();
        Assert.AreEqual(7596, Id("rocket"));
        CollectionAssert.AreEqual(new[] { 101, 7596, 100, 102 }, tokenizer.Encode("rocket 🚀"));
        CollectionAssert.AreEqual(new[] { 101, 100, 102 }, tokenizer.Encode("🚀"));
        // Not punctuation, so part of the word: "rocket🚀" cannot be covered and is one [UNK].
        CollectionAssert.AreEqual(new[] { 101, 100, 102 }, tokenizer.Encode("rocket🚀"));
        CollectionAssert.AreEqual(new[] { 101, 100, 7596, 102 }, tokenizer.Encode("🚀🚀 rocket"));
        // Symbols the vocabulary has are tokens: ♥ 1625, © 1075, and € as a continuation (##€ 30102).
        CollectionAssert.AreEqual(new[] { 101, Id("i"), 1625, Id("ny"), 102 }, tokenizer.Encode("I ♥ NY"));
        CollectionAssert.AreEqual(new[] { 101, 1075, Id("ab"), 102 }, tokenizer.Encode("© ab"));
        CollectionAssert.AreEqual(new[] { 101, Id("5"), 30102, 102 }, tokenizer.Encode("5€"));
        // '$' is ASCII punctuation for BERT (category Sc, but in its ASCII ranges): split off.
        CollectionAssert.AreEqual(new[] { 101, Id("$"), Id("5"), 102 }, tokenizer.Encode("$5"));
        // A zero-width joiner (format) and a private-use character are removed, joining the word.
        CollectionAssert.AreEqual(new[] { 101, Id("ab"), 102 }, tokenizer.Encode("a\u200Db\uE000"));
        // An unpaired surrogate is U+FFFD, which cleaning removes.
        CollectionAssert.AreEqual(new[] { 101, Id("ab"), 102 }, tokenizer.Encode("a\uD800b"));
        // Special tokens in the text are matched as written (case-sensitive), anywhere.
        CollectionAssert.AreEqual(new[] { 101, Id("ab"), 103, Id("ab"), 102 }, tokenizer.Encode("ab[MASK]ab"));
        CollectionAssert.AreEqual(new[] { 101, Id("["), Id("mask"), Id("]"), 102 }, tokenizer.Encode("[mask]"));
        CollectionAssert.AreEqual(new[] { 101, Id("["), Id("["), 101, Id("]"), 102 }, tokenizer.Encode("[[[CLS]]"));
        // Line separators are whitespace; a word of more than 100 characters is one [UNK].
        CollectionAssert.AreEqual(new[] { 101, Id("ab"), Id("ab"), 102 }, tokenizer.Encode("ab\u2028ab"));
        CollectionAssert.AreEqual(new[] { 101, 100, Id("ab"), 102 }, tokenizer.Encode(new string('a', 101) + " ab"));
    }

    [TestMethod]
    public void TruncationCutsTokenByTokenAndKeepsSep()
    {
        var tokenizer = Real(maxLength: 5);
        CollectionAssert.AreEqual(new[] { 101, 2023, 2003, 2019, 102 }, tokenizer.Encode("This is an example sentence"));
        // Inside a word, as Hugging Face's truncation does.
        CollectionAssert.AreEqual(new[] { 101, 2023, 14477, 20961, 102 }, Real(maxLength: 5).Encode("this unaffable one"));
        // A very long text costs about what its beginning costs, and gives the same tokens.
        var huge = "This is an example sentence " + string.Concat(Enumerable.Repeat("and more words ", 200_000));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        CollectionAssert.AreEqual(new[] { 101, 2023, 2003, 2019, 102 }, tokenizer.Encode(huge));
        Assert.IsLessThan(2000, clock.ElapsedMilliseconds, "a 3 MB text is not tokenized whole");
        var long256 = Real().Encode(huge);
        Assert.HasCount(256, long256);
        Assert.AreEqual(102, long256[^1]);
    }

    [TestMethod]
    [TestCategory("RealData")]
    public void TokenizerJsonGivesTheSameIdsAsVocabTxt()
    {
        var fromJson = Real("tokenizer.json");
        var fromVocab = Real();
        Assert.AreEqual(fromVocab.VocabularySize, fromJson.VocabularySize);
        foreach (var text in new[] { "This is an example sentence", "Crème brûlée, s'il vous plaît!", "SQLite embeddings (ONNX) 2026" })
            CollectionAssert.AreEqual(fromVocab.Encode(text), fromJson.Encode(text), text);
        var stated = WordPieceTokenizer.ReadDefaults("test", TestData.RequireSharedData("models", "all-MiniLM-L6-v2", "tokenizer.json"));
        Assert.IsTrue(stated.Lowercase);
        Assert.IsNull(stated.StripAccents, "null in the file: follows lowercase");
    }

    [TestMethod]
    public void AccentsAreStrippedWithoutIcu()
    {
        Assert.AreEqual("creme brulee a la francaise", AccentFolding.Normalize("Crème Brûlée à la Française", lowercase: true, stripAccents: true));
        Assert.AreEqual("Crème", AccentFolding.Normalize("Crème", lowercase: false, stripAccents: false));
        Assert.AreEqual("Creme", AccentFolding.Normalize("Cre\u0300me", lowercase: false, stripAccents: true), "combining marks are dropped");
        Assert.AreEqual("\u1112\u1161\u11AB", AccentFolding.Normalize("\uD55C", lowercase: false, stripAccents: true), "Hangul decomposes to jamo");
        Assert.AreEqual("ao", AccentFolding.Normalize("ǻọ", lowercase: true, stripAccents: true));
    }

    [TestMethod]
    public void MalformedTokenizerFilesAreRefusedClearly()
    {
        var folder = Directory.CreateTempSubdirectory("sqlrec-tok-").FullName;
        try
        {
            var duplicate = Path.Combine(folder, "dup.txt");
            File.WriteAllLines(duplicate, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "a"]);
            AssertFails(duplicate, Errors.TokenizerInvalid("f", duplicate, "token 'a' appears twice (ids 4 and 5)").Message);
            var noCls = Path.Combine(folder, "nocls.txt");
            File.WriteAllLines(noCls, ["[PAD]", "[UNK]", "[SEP]", "a"]);
            AssertFails(noCls, Errors.TokenizerInvalid("f", noCls, "it has no '[CLS]' token; SqlRec reads BERT-style WordPiece vocabularies with [CLS], [SEP], [PAD] and [UNK]").Message);
            var bpe = Path.Combine(folder, "tokenizer.json");
            File.WriteAllText(bpe, """{"model": {"type": "BPE", "vocab": {}}}""");
            AssertFails(bpe, Errors.TokenizerInvalid("f", bpe, "its model is 'BPE'; only WordPiece (BERT-style) tokenizers are supported").Message);
            File.WriteAllText(bpe, "{not json");
            Assert.StartsWith(Errors.TokenizerInvalid("f", bpe, "it is not valid JSON: ").Message.TrimEnd('.'),
                Assert.ThrowsExactly<SqlRecException>(() => WordPieceTokenizer.Load("f", bpe, true, true, 16)).Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        static void AssertFails(string path, string message) =>
            Assert.AreEqual(message, Assert.ThrowsExactly<SqlRecException>(() => WordPieceTokenizer.Load("f", path, true, true, 16)).Message);
    }

    [TestMethod]
    public void VectorBlobsAreLittleEndianFloat32CheckedStrictly()
    {
        var blob = VectorBlob.FromFloats("f", "'v'", [1f, -2.5f]);
        CollectionAssert.AreEqual(new byte[] { 0, 0, 0x80, 0x3F, 0, 0, 0x20, 0xC0 }, blob);
        CollectionAssert.AreEqual(new[] { 1f, -2.5f }, VectorBlob.ToFloats("f", "'v'", blob, expectedDimension: 2));
        Assert.AreEqual(Errors.VectorBlobLength("f", "'v'", 7, VectorBlob.MaxDimensions).Message,
            Assert.ThrowsExactly<SqlRecException>(() => VectorBlob.ToFloats("f", "'v'", new byte[7])).Message);
        Assert.AreEqual(Errors.VectorDimensionMismatch("f", "'v'", 3, 2).Message,
            Assert.ThrowsExactly<SqlRecException>(() => VectorBlob.ToFloats("f", "'v'", blob, expectedDimension: 3)).Message);
        Assert.AreEqual("f(): dimension mismatch: 'v' has 2 dimensions, 3 expected.", Errors.VectorDimensionMismatch("f", "'v'", 3, 2).Message);
        Assert.AreEqual("f(): 'v' holds NaN at index 1 (0-based); every element must be a finite float32.",
            Assert.ThrowsExactly<SqlRecException>(() => VectorBlob.FromFloats("f", "'v'", [0f, float.NaN])).Message);
        Assert.AreEqual(Errors.VectorNotFinite("f", "'v'", 0, float.PositiveInfinity).Message,
            Assert.ThrowsExactly<SqlRecException>(() => VectorBlob.ToFloats("f", "'v'", BitConverter.GetBytes(float.PositiveInfinity))).Message);
    }
}
