using System.Globalization;

namespace SqlRec.Common;

/// <summary>
/// A user or item id as the application stores it: any SQLite INTEGER or TEXT value. REAL values
/// with no fraction are taken as the INTEGER of the same value (SQLite compares them equal).
/// Ordered INTEGER first (by value), then TEXT (ordinal), which fixes the dense index order.
/// </summary>
internal readonly record struct ExternalId : IComparable<ExternalId>
{
    private ExternalId(long integer, string? text)
    {
        Integer = integer;
        Text = text;
    }

    /// <summary>The integer value, when <see cref="Text"/> is null.</summary>
    public long Integer { get; }

    /// <summary>The text value, or null for an integer id.</summary>
    public string? Text { get; }

    /// <summary>True for an INTEGER id.</summary>
    public bool IsInteger => Text is null;

    /// <summary>An integer id.</summary>
    public static ExternalId Of(long value) => new(value, null);

    /// <summary>A text id.</summary>
    public static ExternalId Of(string value) => new(0, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>The id for a SQL value, or null when the value cannot be an id.</summary>
    public static ExternalId? FromValue(object? value) => value switch
    {
        long l => Of(l),
        int i => Of(i),
        string s => Of(s),
        double d when double.IsFinite(d) && Math.Floor(d) == d && Math.Abs(d) < 9e15 => Of((long)d),
        _ => null,
    };

    /// <summary>The value to hand back to SQLite.</summary>
    public object ToValue() => Text is null ? Integer : Text;

    /// <inheritdoc />
    public int CompareTo(ExternalId other)
    {
        if (IsInteger != other.IsInteger) return IsInteger ? -1 : 1;
        return IsInteger ? Integer.CompareTo(other.Integer) : string.CompareOrdinal(Text, other.Text);
    }

    /// <summary>The id as a JSON value: a number or a string.</summary>
    public string ToJson() => Text is null
        ? Integer.ToString(CultureInfo.InvariantCulture)
        : QuoteJson(Text);

    /// <summary>
    /// A JSON string literal that escapes only what JSON requires (quote, backslash, control
    /// characters), so ids read the same in SQLite's json functions and in the raw text.
    /// </summary>
    public static string QuoteJson(string text)
    {
        var builder = new System.Text.StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c < ' ') builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else builder.Append(c);
                    break;
            }
        }
        return builder.Append('"').ToString();
    }

    /// <inheritdoc />
    public override string ToString() => Text ?? Integer.ToString(CultureInfo.InvariantCulture);
}
