using System.Text;
using System.Text.Json;
using System.Globalization;

namespace SqlRec.Embeddings;

/// <summary>
/// BERT's tokenizer, as Hugging Face's <c>BertTokenizer</c> (and the fast one sentence-transformers
/// loads) runs it: the special tokens written in the text (<c>[CLS]</c>, <c>[SEP]</c>, <c>[PAD]</c>,
/// <c>[UNK]</c>, <c>[MASK]</c>) are kept as themselves; the rest is cleaned (<see cref="CleanText"/>),
/// lower-cased and stripped of accents for uncased models (<see cref="AccentFolding"/>), and split
/// by BasicTokenizer's rules: at whitespace, around every CJK ideograph, and around every
/// punctuation character (ASCII punctuation and Unicode P*); every other character, symbols and
/// emoji included, stays part of its word. Each word then goes through WordPiece (greedy longest
/// match, <c>##</c> continuations; a word with a piece the vocabulary lacks, or longer than 100
/// characters, is one <c>[UNK]</c>), and the ids are framed by <c>[CLS] ... [SEP]</c> and truncated
/// to the maximum length. Written here rather than taken from Microsoft.ML.Tokenizers, whose basic
/// tokenization drops symbols and emoji where BERT's gives <c>[UNK]</c>, and so that tokens do not
/// depend on the host's globalization mode. Reads a <c>vocab.txt</c> (one token per line, the line
/// number is the id) or a Hugging Face <c>tokenizer.json</c> with a WordPiece model. Thread-safe.
/// </summary>
internal sealed class WordPieceTokenizer
{
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabulary;
    private readonly (string Text, int Id)[] _specials;
    private readonly string _prefix;
    private readonly int _unknownId;
    private readonly int _maxWordChars;

    private WordPieceTokenizer(Dictionary<string, int> vocabulary, string unknown, string prefix, int maxWordChars, bool lowercase, bool stripAccents, int maxLength)
    {
        _vocabulary = vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();
        _specials = [.. new[] { "[CLS]", "[SEP]", "[PAD]", "[MASK]", unknown }.Distinct().Where(vocabulary.ContainsKey).Select(t => (t, vocabulary[t]))];
        _prefix = prefix;
        _unknownId = vocabulary[unknown];
        _maxWordChars = maxWordChars;
        VocabularySize = vocabulary.Count;
        Lowercase = lowercase;
        StripAccents = stripAccents;
        MaxLength = maxLength;
        ClsId = vocabulary["[CLS]"];
        SepId = vocabulary["[SEP]"];
        PadId = vocabulary["[PAD]"];
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
        return new WordPieceTokenizer(known, unknown, prefix, maxWordChars, lowercase, stripAccents, maxLength);
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

    private List<int> Tokenize(string text)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        var from = 0;
        // Special tokens are matched in the text as written, before cleaning and lower-casing, as
        // Hugging Face matches its added tokens.
        while (text.IndexOf('[', from) is var open and >= 0)
        {
            var special = -1;
            foreach (var (token, id) in _specials)
            {
                if (string.CompareOrdinal(text, open, token, 0, token.Length) == 0) { special = id; from = Flush(text, from, open, ids) + token.Length; break; }
            }
            if (special >= 0) ids.Add(special);
            else
            {
                var next = text.IndexOf('[', open + 1);
                if (next < 0) break;
                // Only the text before the next '[' is known to hold no special token: skip to it.
                Flush(text, from, next, ids);
                from = next;
            }
        }
        Flush(text, from, text.Length, ids);
        return ids;
    }

    /// <summary>Tokenizes <c>text[start..end]</c> (no special tokens in it) into <paramref name="ids"/>; returns <paramref name="end"/>.</summary>
    private int Flush(string text, int start, int end, List<int> ids)
    {
        if (end > start) AddWords(AccentFolding.Normalize(CleanText(text[start..end]), Lowercase, StripAccents), ids);
        return end;
    }

    /// <summary>BasicTokenizer's split of clean, normalised text, each word through WordPiece.</summary>
    private void AddWords(string text, List<int> ids)
    {
        var wordStart = -1;
        var i = 0;
        while (i < text.Length)
        {
            Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out var length);
            if (rune.Value == ' ')
            {
                if (wordStart >= 0) AddWordPieces(text.AsSpan(wordStart, i - wordStart), ids);
                wordStart = -1;
            }
            else if (IsCjk(rune.Value) || IsPunctuation(rune))
            {
                if (wordStart >= 0) AddWordPieces(text.AsSpan(wordStart, i - wordStart), ids);
                wordStart = -1;
                AddWordPieces(text.AsSpan(i, length), ids);
            }
            else if (wordStart < 0) wordStart = i;
            i += length;
        }
        if (wordStart >= 0) AddWordPieces(text.AsSpan(wordStart), ids);
    }

    /// <summary>
    /// WordPiece: the longest prefix of the word in the vocabulary, then the longest <c>##</c>
    /// continuation, and so on; a word that cannot be covered, or has more than the maximum
    /// characters (counted in code points, as Python does), is one <c>[UNK]</c>.
    /// </summary>
    private void AddWordPieces(ReadOnlySpan<char> word, List<int> ids)
    {
        if (word.Length > _maxWordChars && CodePoints(word) > _maxWordChars) { ids.Add(_unknownId); return; }
        if (_vocabulary.TryGetValue(word, out var whole)) { ids.Add(whole); return; }
        // The word behind room for the prefix: a continuation starting at s is looked up as
        // buffer[s .. p + end] after writing the prefix over buffer[s .. s + p], characters already consumed.
        var p = _prefix.Length;
        Span<char> buffer = word.Length + p <= 256 ? stackalloc char[word.Length + p] : new char[word.Length + p];
        word.CopyTo(buffer[p..]);
        var mark = ids.Count;
        var start = 0;
        while (start < word.Length)
        {
            if (start > 0) _prefix.AsSpan().CopyTo(buffer[start..]);
            var candidateStart = start == 0 ? p : start;
            var found = -1;
            for (var end = word.Length; end > start; end--)
            {
                if (_vocabulary.TryGetValue(buffer[candidateStart..(p + end)], out var id))
                {
                    ids.Add(id);
                    found = end;
                    break;
                }
            }
            if (found < 0)
            {
                ids.RemoveRange(mark, ids.Count - mark);
                ids.Add(_unknownId);
                return;
            }
            start = found;
        }
    }

    private static int CodePoints(ReadOnlySpan<char> text)
    {
        var count = 0;
        foreach (var _ in text.EnumerateRunes()) count++;
        return count;
    }

    /// <summary>BERT's _is_chinese_char: the CJK Unified Ideographs blocks and their extensions and compatibility forms.</summary>
    internal static bool IsCjk(int c) =>
        c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    /// <summary>BERT's _is_punctuation: all non-letter, non-digit ASCII printables ($, +, ^, ` ... included) and Unicode's P* categories.</summary>
    internal static bool IsPunctuation(Rune rune)
    {
        var c = rune.Value;
        if (c is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126)) return true;
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>
    /// BERT's text cleaning: NUL, U+FFFD (and so any unpaired surrogate) and the "other" categories
    /// (control, format, private use, unassigned) are removed, except tab, newline and carriage return,
    /// which like every other whitespace character (Zs, line and paragraph separators) become a space.
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
        foreach (var rune in text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (rune.Value is '\t' or '\n' or '\r' || category == UnicodeCategory.SpaceSeparator) builder.Append(' ');
            else if (rune.Value is 0 or 0xFFFD || category is UnicodeCategory.Control or UnicodeCategory.Format
                or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate) continue;
            else if (Rune.IsWhiteSpace(rune)) builder.Append(' ');
            else builder.Append(rune.ToString());
        }
        return builder.ToString();
    }
}
