using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace SqlRec.Embeddings;

/// <summary>
/// Lower-casing and accent stripping as BERT's normaliser does them ("Crème Brûlée" becomes "creme
/// brulee"): canonical decomposition, then every non-spacing mark dropped. Done from a table
/// (<c>AccentFolding.Table.g.cs</c>) rather than <see cref="string.Normalize()"/>, which does not
/// decompose in globalization-invariant mode, so tokens are the same whatever the host's setting.
/// </summary>
internal static partial class AccentFolding
{
    private const int HangulFirst = 0xAC00, HangulLast = 0xD7A3;
    private const int LeadingBase = 0x1100, VowelBase = 0x1161, TrailingBase = 0x11A7, VowelCount = 21, TrailingCount = 28;

    // Built on first use: static initializers of the two halves of this partial class run in no set order.
    private static FrozenDictionary<int, string>? _folded;

    private static FrozenDictionary<int, string> Folded => _folded ??= Build();

    private static FrozenDictionary<int, string> Build()
    {
        var texts = FoldedText.Split('\u0001');
        var map = new Dictionary<int, string>(FoldedCodePoints.Length);
        for (var i = 0; i < FoldedCodePoints.Length; i++) map[FoldedCodePoints[i]] = texts[i];
        return map.ToFrozenDictionary();
    }

    /// <summary>
    /// Returns <paramref name="text"/> lower-cased (when <paramref name="lowercase"/>) and without
    /// accents (when <paramref name="stripAccents"/>). ASCII text is handled without copying twice.
    /// </summary>
    public static string Normalize(string text, bool lowercase, bool stripAccents)
    {
        if (lowercase) text = text.ToLowerInvariant();
        if (!stripAccents || Ascii.IsValid(text)) return text;
        var builder = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            var value = rune.Value;
            if (value < 0x80) builder.Append((char)value);
            else if (value is >= HangulFirst and <= HangulLast) AppendHangul(builder, value);
            else if (Rune.GetUnicodeCategory(rune) == UnicodeCategory.NonSpacingMark) continue;
            else if (Folded.TryGetValue(value, out var folded)) builder.Append(folded);
            else builder.Append(rune.ToString());
        }
        return builder.ToString();
    }

    /// <summary>A precomposed Hangul syllable becomes its conjoining jamo (Unicode's algorithmic decomposition).</summary>
    private static void AppendHangul(StringBuilder builder, int syllable)
    {
        var index = syllable - HangulFirst;
        builder.Append((char)(LeadingBase + index / (VowelCount * TrailingCount)));
        builder.Append((char)(VowelBase + index % (VowelCount * TrailingCount) / TrailingCount));
        var trailing = index % TrailingCount;
        if (trailing != 0) builder.Append((char)(TrailingBase + trailing));
    }
}
