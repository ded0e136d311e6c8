using System.Globalization;
using System.Text;

namespace SqlRec.Embeddings;

/// <summary>
/// The weight-free embedder: signed feature hashing (the "hashing trick" of Weinberger et al.,
/// ICML 2009) of words, word n-grams and character n-grams, L2-normalised. It needs no model file,
/// so every database has text vectors at once - the built-in embedder <c>hash</c>. It captures
/// shared words and spellings, not meaning: "car" and "automobile" are unrelated to it. A
/// sentence model (an ONNX embedder) is much better wherever one can be shipped.
/// </summary>
/// <remarks>
/// The text is lower-cased and stripped of accents (by default), then split into tokens: runs of
/// letters and digits, and each other non-space character on its own. Features, each added with
/// a sign and bucket taken from a 64-bit hash (FNV-1a, then MurmurHash3's finaliser), so the
/// vectors are the same on every platform and in every version that keeps these rules:
/// every token (weight 1); every run of 2 .. <c>word_ngrams</c> consecutive tokens (weight 1);
/// the character n-grams of lengths <c>min_char_ngram</c> .. <c>max_char_ngram</c> of each token
/// wrapped as <c>&lt;token&gt;</c>, each weighted 1 / sqrt(their number), so that a token's n-grams
/// together weigh as much as the token itself (their part of the vector has unit length) whatever
/// its length: "twelfth" and "twelve" share half their weight through the n-grams they share.
/// </remarks>
internal sealed class HashEmbedder(HashDefinition definition) : Embedder
{
    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;
    private const char TokenKind = 'w', PhraseKind = 'p', GramKind = 'c';

    /// <summary>The built-in embedder.</summary>
    public static readonly HashEmbedder BuiltIn = new(HashDefinition.Default);

    /// <summary>The built-in embedder's name.</summary>
    public const string BuiltInName = "hash";

    /// <inheritdoc />
    public override EmbedderDefinition Definition => definition;

    /// <inheritdoc />
    public override int Dimension => definition.Dimension;

    /// <inheritdoc />
    public override int BatchSize => 256;

    /// <inheritdoc />
    public override void Embed(string function, string name, IReadOnlyList<string> texts, Span<float> output)
    {
        var accumulator = new double[Dimension];
        for (var i = 0; i < texts.Count; i++)
        {
            Array.Clear(accumulator);
            Accumulate(texts[i], accumulator);
            var row = output.Slice(i * Dimension, Dimension);
            for (var j = 0; j < row.Length; j++) row[j] = (float)accumulator[j];
            NormalizeL2(row);
        }
    }

    private void Accumulate(string text, double[] vector)
    {
        var normalized = AccentFolding.Normalize(text, definition.Lowercase, definition.StripAccents);
        var tokens = Tokens(normalized);
        var n = definition.WordNgrams;
        for (var t = 0; t < tokens.Count; t++)
        {
            var token = normalized.AsSpan(tokens[t].Start, tokens[t].Length);
            Add(vector, Hash(Seed(TokenKind), token), 1);
            // Phrases of 2 .. n tokens starting here, hashed incrementally with a space between tokens.
            var phrase = Hash(Seed(PhraseKind), token);
            for (var k = 1; k < n && t + k < tokens.Count; k++)
            {
                phrase = Hash(Hash(phrase, " "), normalized.AsSpan(tokens[t + k].Start, tokens[t + k].Length));
                Add(vector, phrase, 1);
            }
            AddCharacterGrams(vector, token);
        }
    }

    private void AddCharacterGrams(double[] vector, ReadOnlySpan<char> token)
    {
        if (definition.MaxCharNgram == 0) return;
        Span<char> wrapped = token.Length + 2 <= 256 ? stackalloc char[token.Length + 2] : new char[token.Length + 2];
        wrapped[0] = '<';
        token.CopyTo(wrapped[1..]);
        wrapped[^1] = '>';
        var min = Math.Max(1, definition.MinCharNgram);
        var count = 0;
        for (var length = min; length <= definition.MaxCharNgram; length++) count += Math.Max(0, wrapped.Length - length + 1);
        if (count == 0)
        {
            // A wrapped token shorter than every n-gram length is its own single gram.
            Add(vector, Hash(Seed(GramKind), wrapped), 1);
            return;
        }
        var weight = 1.0 / Math.Sqrt(count);
        for (var length = min; length <= definition.MaxCharNgram; length++)
        {
            for (var start = 0; start + length <= wrapped.Length; start++) Add(vector, Hash(Seed(GramKind), wrapped.Slice(start, length)), weight);
        }
    }

    /// <summary>Runs of letters and digits, and every other non-space character alone.</summary>
    internal static List<(int Start, int Length)> Tokens(string text)
    {
        var tokens = new List<(int, int)>();
        var index = 0;
        while (index < text.Length)
        {
            var rune = Rune.GetRuneAt(text, index);
            if (Rune.IsWhiteSpace(rune) || Rune.IsControl(rune))
            {
                index += rune.Utf16SequenceLength;
                continue;
            }
            var start = index;
            index += rune.Utf16SequenceLength;
            if (Rune.IsLetterOrDigit(rune) || Rune.GetUnicodeCategory(rune) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark)
            {
                while (index < text.Length)
                {
                    var next = Rune.GetRuneAt(text, index);
                    if (!Rune.IsLetterOrDigit(next) && Rune.GetUnicodeCategory(next) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark)) break;
                    index += next.Utf16SequenceLength;
                }
            }
            tokens.Add((start, index - start));
        }
        return tokens;
    }

    private static ulong Seed(char kind) => Hash(FnvOffset, [kind, ':']);

    private static ulong Hash(ulong state, ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            state = (state ^ (byte)c) * FnvPrime;
            state = (state ^ (byte)(c >> 8)) * FnvPrime;
        }
        return state;
    }

    private void Add(double[] vector, ulong hash, double weight)
    {
        // MurmurHash3's 64-bit finaliser spreads FNV's weak low bits over the whole word.
        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        hash *= 0xc4ceb9fe1a85ec53UL;
        hash ^= hash >> 33;
        var bucket = (int)(hash % (ulong)vector.Length);
        vector[bucket] += (hash >> 63) == 0 ? weight : -weight;
    }
}
