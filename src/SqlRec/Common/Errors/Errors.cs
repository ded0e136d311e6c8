using System.Globalization;

namespace SqlRec.Common;

/// <summary>
/// Every message SqlRec shows a user, one method each, in one file per part (<c>Errors.*.cs</c>);
/// this file is the core they share. The format is
/// <c>function(): what is wrong, got what was given[; how to fix it].</c> Tests build the text they
/// expect with the same methods, so a message is changed in one place, and no message is built
/// anywhere else.
/// </summary>
internal static partial class Errors
{
    /// <summary>Largest <c>k</c> a recommendation call accepts.</summary>
    public const int MaxK = 10_000;

    /// <summary>Longest model name accepted.</summary>
    public const int MaxModelNameLength = 128;

    internal static SqlRecException Fail(string function, string text) => new($"{function}(): {text}") { Problem = text.TrimEnd('.') };

    /// <summary>Describes a SQL value for a message: <c>NULL</c>, <c>INTEGER 5</c>, <c>TEXT 'abc'</c>, <c>a BLOB of 4 bytes</c>.</summary>
    public static string Describe(object? value) => value switch
    {
        null => "NULL",
        long l => $"INTEGER {l.ToString(CultureInfo.InvariantCulture)}",
        int i => $"INTEGER {i.ToString(CultureInfo.InvariantCulture)}",
        double d => $"REAL {d.ToString("R", CultureInfo.InvariantCulture)}",
        string s => $"TEXT '{Shorten(s, 60)}'",
        byte[] b => $"a BLOB of {b.Length} bytes",
        _ => value.ToString() ?? "?",
    };

    /// <summary>Cuts long text for messages.</summary>
    public static string Shorten(string text, int max) => text.Length <= max ? text : text[..max] + "...";

    internal static string Quoted(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));

    internal static string List(IReadOnlyCollection<string> names) => names.Count == 0 ? "none" : Quoted(names);

    internal static string DescribeNumber(object? value) => value switch
    {
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Describe(value),
    };

    /// <summary>A computed magnitude for a message, to float32's precision: <c>6E+38</c>, <c>3.4028235E+38</c>.</summary>
    internal static string Number(double value) => value.ToString("G8", CultureInfo.InvariantCulture);

    internal static string DescribeFloat(float value) =>
        float.IsNaN(value) ? "NaN" : float.IsPositiveInfinity(value) ? "+Infinity" : float.IsNegativeInfinity(value) ? "-Infinity" : value.ToString("R", CultureInfo.InvariantCulture);

    internal static string Element(float value) =>
        float.IsNaN(value) ? "NaN" : float.IsPositiveInfinity(value) ? "Infinity" : "-Infinity";

    /// <summary>An unexpected internal failure.</summary>
    public static SqlRecException Internal(string function, Exception exception) =>
        Fail(function, $"internal error ({exception.GetType().Name}: {exception.Message}).");

    /// <summary>SQLite refused one of SqlRec's own statements (a lock held too long, a full disk, a read-only file).</summary>
    public static SqlRecException Sqlite(string function, string sqliteMessage) =>
        Fail(function, $"SQLite refused the operation: {sqliteMessage}; nothing was changed.");
}
