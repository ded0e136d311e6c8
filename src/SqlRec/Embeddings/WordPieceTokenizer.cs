using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace SqlRec.Embeddings;

/// <summary>
/// BERT's tokenizer: text cleaning, lower-casing and accent stripping (<see cref="AccentFolding"/>),
/// splitting on whitespace, punctuation and CJK characters, WordPiece sub-words, then
/// <c>[CLS] ... [SEP]</c>, truncated to the maximum length. Built on Microsoft.ML.Tokenizers'
/// <see cref="BertTokenizer"/> for the basic tokenization and WordPiece; lower-casing and accents
/// are done here so the tokens do not depend on the host's globalization mode. Reads a
/// <c>vocab.txt</c> (one token per line, the line number is the id) or a Hugging Face
/// <c>tokenizer.json</c> with a WordPiece model. Thread-safe.
/// </summary>
internal sealed class WordPieceTokenizer
{
    private readonly BertTokenizer _tokenizer;

    private WordPieceTokenizer(BertTokenizer tokenizer, int vocabularySize, bool lowercase, bool stripAccents, int maxLength)
    {
        _tokenizer = tokenizer;
        VocabularySize = vocabularySize;
        Lowercase = lowercase;
        StripAccents = stripAccents;
        MaxLength = maxLength;
        ClsId = tokenizer.ClassificationTokenId;
        SepId = tokenizer.SeparatorTokenId;
        PadId = tokenizer.PaddingTokenId;
    }

    /// <summary>Number of tokens in the vocabulary; ids are 0 .. VocabularySize - 1.</summary>
    public int VocabularySize { get; }

    /// <summary>Whether text is lower-cased before tokenization.</summary>
    public bool Lowercase { get; }

    /// <summary>Whether accents are stripped before tokenization.</summary>
    public bool StripAccents { get; }

    /// <summary>The most tokens one text gives, [CLS] and [SEP] included.</summary>
    public int MaxLength { get; }

    /// <summary>Id of <c>[CLS]</c>.</summary>
    public int ClsId { get; }

    /// <summary>Id of <c>[SEP]</c>.</summary>
    public int SepId { get; }

    /// <summary>Id of <c>[PAD]</c>.</summary>
    public int PadId { get; }

    /// <summary>What a tokenizer file says about normalisation (null: not stated).</summary>
    internal sealed record FileDefaults(bool? Lowercase, bool? StripAccents);

    /// <summary>Reads the normalisation settings a tokenizer file states, without building the tokenizer.</summary>
    public static FileDefaults ReadDefaults(string function, string path)
    {
        if (!IsTokenizerJson(path)) return new FileDefaults(null, null);
        using var document = ParseJson(function, path);
        if (document.RootElement.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind == JsonValueKind.Object
            && normalizer.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "BertNormalizer")
        {
            bool? lowercase = normalizer.TryGetProperty("lowercase", out var l) && l.ValueKind is JsonValueKind.True or JsonValueKind.False ? l.GetBoolean() : null;
            bool? strip = normalizer.TryGetProperty("strip_accents", out var s) && s.ValueKind is JsonValueKind.True or JsonValueKind.False ? s.GetBoolean() : null;
            return new FileDefaults(lowercase, strip);
        }
        return new FileDefaults(null, null);
    }

    private static bool IsTokenizerJson(string path) => path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    /// <summary>Loads <paramref name="path"/> (vocab.txt or tokenizer.json); errors name the file and the problem.</summary>
    public static WordPieceTokenizer Load(string function, string path, bool lowercase, bool stripAccents, int maxLength)
    {
        List<string> tokens;
        string unknown = "[UNK]", prefix = "##";
        var maxWordChars = 100;
        try
        {
            if (IsTokenizerJson(path))
            {
                using var document = ParseJson(function, path);
                (tokens, unknown, prefix, maxWordChars) = ReadTokenizerJson(function, path, document.RootElement);
            }
            else
            {
                tokens = [.. File.ReadAllLines(path, Encoding.UTF8)];
                while (tokens.Count > 0 && tokens[^1].Length == 0) tokens.RemoveAt(tokens.Count - 1);
            }
        }
        catch (IOException e) { throw Errors.TokenizerInvalid(function, path, e.Message); }
        catch (UnauthorizedAccessException e) { throw Errors.TokenizerInvalid(function, path, e.Message); }
        if (tokens.Count == 0) throw Errors.TokenizerInvalid(function, path, "it holds no tokens");
        var known = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (var id = 0; id < tokens.Count; id++)
        {
            if (!known.TryAdd(tokens[id], id))
                throw Errors.TokenizerInvalid(function, path, $"token '{Errors.Shorten(tokens[id], 40)}' appears twice (ids {known[tokens[id]]} and {id})");
        }
        foreach (var special in new[] { "[CLS]", "[SEP]", "[PAD]", unknown })
        {
            if (!known.ContainsKey(special))
                throw Errors.TokenizerInvalid(function, path, $"it has no '{special}' token; SqlRec reads BERT-style WordPiece vocabularies with [CLS], [SEP], [PAD] and [UNK]");
        }
        var options = new BertOptions
        {
            // Lower-casing and accents are applied by Encode (see the class remarks).
            LowerCaseBeforeTokenization = false,
            RemoveNonSpacingMarks = false,
            ApplyBasicTokenization = true,
            IndividuallyTokenizeCjk = true,
            SplitOnSpecialTokens = true,
            UnknownToken = unknown,
            ContinuingSubwordPrefix = prefix,
            MaxInputCharsPerWord = maxWordChars,
        };
        BertTokenizer tokenizer;
        try
        {
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\n', tokens) + "\n"));
            tokenizer = BertTokenizer.Create(stream, options);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw Errors.TokenizerInvalid(function, path, e.Message.TrimEnd('.'));
        }
        return new WordPieceTokenizer(tokenizer, tokens.Count, lowercase, stripAccents, maxLength);
    }

    private static JsonDocument ParseJson(string function, string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return JsonDocument.Parse(stream);
        }
        catch (JsonException e) { throw Errors.TokenizerInvalid(function, path, "it is not valid JSON: " + e.Message.TrimEnd('.')); }
        catch (IOException e) { throw Errors.TokenizerInvalid(function, path, e.Message.TrimEnd('.')); }
        catch (UnauthorizedAccessException e) { throw Errors.TokenizerInvalid(function, path, e.Message.TrimEnd('.')); }
    }

    private static (List<string> Tokens, string Unknown, string Prefix, int MaxWordChars) ReadTokenizerJson(string function, string path, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw Errors.TokenizerInvalid(function, path, "it has no \"model\" object; expected a Hugging Face tokenizer.json");
        var type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        if (type != "WordPiece")
            throw Errors.TokenizerInvalid(function, path, $"its model is '{type ?? "unknown"}'; only WordPiece (BERT-style) tokenizers are supported");
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
            throw Errors.TokenizerInvalid(function, path, "its model has no \"vocab\" object");
        var byId = new SortedDictionary<int, string>();
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0 || !byId.TryAdd(id, entry.Name))
                throw Errors.TokenizerInvalid(function, path, $"token '{Errors.Shorten(entry.Name, 40)}' has an invalid or repeated id {entry.Value.GetRawText()}");
        }
        if (byId.Count > 0 && byId.Keys.Last() != byId.Count - 1)
            throw Errors.TokenizerInvalid(function, path, $"its vocabulary ids are not 0 .. {byId.Count - 1} without gaps");
        var unknown = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString()! : "[UNK]";
        var prefix = model.TryGetProperty("continuing_subword_prefix", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "##";
        var maxChars = model.TryGetProperty("max_input_chars_per_word", out var m) && m.TryGetInt32(out var chars) && chars > 0 ? chars : 100;
        return ([.. byId.Values], unknown, prefix, maxChars);
    }

    /// <summary>
    /// The token ids of <paramref name="text"/>: <c>[CLS]</c>, the WordPiece ids, <c>[SEP]</c>; cut
    /// token by token (even inside a word, as Hugging Face's truncation does) to at most
    /// <see cref="MaxLength"/> ids in all.
    /// </summary>
    public int[] Encode(string text)
    {
        var budget = MaxLength - 2;
        var ids = EncodeBody(text, budget);
        var count = Math.Min(ids.Count, budget);
        var result = new int[count + 2];
        result[0] = ClsId;
        for (var i = 0; i < count; i++) result[i + 1] = ids[i];
        result[count + 1] = SepId;
        return result;
    }

    /// <summary>
    /// Word-piece ids of the text, at least <paramref name="budget"/> of them when the text has that
    /// many. A long text is tokenized by growing prefixes cut at whitespace, so a 1 MB review costs
    /// about as much as its first few hundred words.
    /// </summary>
    private IReadOnlyList<int> EncodeBody(string text, int budget)
    {
        var prefixLength = Math.Max(256, budget * 16);
        while (prefixLength < text.Length)
        {
            var cut = text.LastIndexOfAny([' ', '\n', '\t', '\r'], prefixLength - 1, prefixLength / 2);
            if (cut <= 0) break;
            var ids = Tokenize(text[..cut]);
            if (ids.Count >= budget) return ids;
            prefixLength *= 2;
        }
        return Tokenize(text);
    }

    private IReadOnlyList<int> Tokenize(string text) =>
        _tokenizer.EncodeToIds(AccentFolding.Normalize(CleanText(text), Lowercase, StripAccents), addSpecialTokens: false);

    /// <summary>
    /// BERT's text cleaning: NUL, U+FFFD and control or format characters are removed, and every
    /// whitespace character (tab, newline and the Zs category included) becomes a space. Done here
    /// because Microsoft.ML.Tokenizers drops tabs and newlines instead, gluing the words around them.
    /// </summary>
    internal static string CleanText(string text)
    {
        var clean = true;
        foreach (var c in text)
        {
            if (c < 0x20 || c >= 0x7F) { clean = false; break; }
        }
        if (clean) return text;
        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is '\t' or '\n' or '\r' || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.SpaceSeparator) builder.Append(' ');
            else if (c == 0 || c == '\uFFFD' || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format) continue;
            else builder.Append(c);
        }
        return builder.ToString();
    }
}
