using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace SqlRec.Common;

/// <summary>
/// One option of an options object, as a row of its table: name, type, default, range and what it
/// does. The same row reads and validates the option (through <see cref="OptionReader"/>, so the
/// errors are the reader's), writes it back into stored JSON, and prints its catalog row.
/// </summary>
internal abstract class OptionSpec(string name, string type, string description)
{
    /// <summary>The option's name in the JSON object.</summary>
    public string Name { get; } = name;

    /// <summary>Its type as the catalog shows it: integer, number, text, boolean, JSON array.</summary>
    public string Type { get; } = type;

    /// <summary>What it does, for the catalog (Markdown, one paragraph).</summary>
    public string Description { get; } = description;

    /// <summary>The default as the catalog shows it: <c>64</c>, <c>'auto'</c>, <c>required</c>, <c>none</c>.</summary>
    public abstract string DefaultText { get; }

    /// <summary>The values allowed, in the words error messages use.</summary>
    public abstract string RangeText { get; }

    /// <summary>
    /// For an option without a default: a SQL expression that gives it a working value over a table
    /// <c>items(id, title)</c>, as the catalog's examples have; tests train every kind with it.
    /// </summary>
    public string? Example { get; init; }

    /// <summary>Reads the option (its default when absent), failing with the reader's errors.</summary>
    internal abstract object? ReadBoxed(OptionReader reader);

    /// <summary>The value as stored JSON.</summary>
    internal abstract JsonNode? ToJsonBoxed(object? value);
}

/// <summary>An option whose value is a <typeparamref name="T"/>.</summary>
internal sealed class OptionSpec<T>(string name, string type, string description, string defaultText, string rangeText,
    Func<OptionReader, string, T> read, Func<T, JsonNode?> toJson) : OptionSpec(name, type, description)
{
    /// <inheritdoc />
    public override string DefaultText { get; } = defaultText;

    /// <inheritdoc />
    public override string RangeText { get; } = rangeText;

    /// <summary>Reads the option from <paramref name="reader"/>.</summary>
    public T Read(OptionReader reader) => read(reader, Name);

    internal override object? ReadBoxed(OptionReader reader) => Read(reader);

    internal override JsonNode? ToJsonBoxed(object? value) => toJson((T)value!);
}

/// <summary>Builds option rows of the usual types, with the ranges and defaults the reader checks.</summary>
internal static class Option
{
    private static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>An integer in [min, max].</summary>
    public static OptionSpec<int> Integer(string name, int fallback, int min, int max, string description, string? range = null) =>
        new(name, "integer", description, Number(fallback), range ?? OptionReader.RangeText(min, max, false),
            (reader, n) => (int)reader.Integer(n, fallback, min, max), value => value);

    /// <summary>A number in [min, max], either end exclusive if asked.</summary>
    public static OptionSpec<double> Real(string name, double fallback, double min, double max, string description,
        bool minExclusive = false, bool maxExclusive = false) =>
        new(name, "number", description, Number(fallback), OptionReader.RangeText(min, max, minExclusive, maxExclusive),
            (reader, n) => reader.Number(n, fallback, min, max, minExclusive, maxExclusive), value => value);

    /// <summary>A number in its range, or none when absent.</summary>
    public static OptionSpec<double?> OptionalReal(string name, double min, double max, string description, bool minExclusive = false) =>
        new(name, "number", description, "none", OptionReader.RangeText(min, max, minExclusive),
            (reader, n) => reader.OptionalNumber(n, min, max, minExclusive), value => value);

    /// <summary>One of a few strings.</summary>
    public static OptionSpec<string> Choice(string name, string fallback, string[] allowed, string description) =>
        new(name, "text", description, $"'{fallback}'", string.Join(", ", allowed.Select(a => $"'{a}'")),
            (reader, n) => reader.Choice(n, fallback, allowed), value => value);

    /// <summary>true or false (or 1 / 0).</summary>
    public static OptionSpec<bool> Boolean(string name, bool fallback, string description) =>
        new(name, "boolean", description, fallback ? "true" : "false", "true or false",
            (reader, n) => reader.Boolean(n, fallback), value => value);

    /// <summary>A required string; <paramref name="missing"/> makes the error (given the function) when it is absent.</summary>
    public static OptionSpec<string> RequiredText(string name, string description, string range, Func<string, SqlRecException> missing) =>
        new(name, "text", description, "required", range,
            (reader, n) => reader.String(n) ?? throw missing(reader.Function), value => value);

    /// <summary>An option with a structure of its own, read and written by the caller's functions.</summary>
    public static OptionSpec<T> Custom<T>(string name, string type, string defaultText, string range, string description,
        Func<OptionReader, string, T> read, Func<T, JsonNode?> toJson, string? example = null) =>
        new(name, type, description, defaultText, range, read, toJson) { Example = example };
}

/// <summary>The validated values of one options table, by row.</summary>
internal sealed class OptionValues
{
    private readonly Dictionary<OptionSpec, object?> _values;

    internal OptionValues(OptionTable table, Dictionary<OptionSpec, object?> values)
    {
        Table = table;
        _values = values;
    }

    /// <summary>The table the values were read with.</summary>
    public OptionTable Table { get; }

    /// <summary>The value of one row of the table.</summary>
    public T Get<T>(OptionSpec<T> option) => (T)_values[option]!;

    /// <summary>The values as stored JSON, in table order.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject();
        foreach (var option in Table.Rows) json[option.Name] = option.ToJsonBoxed(_values[option]);
        return json;
    }
}

/// <summary>
/// The options of one thing (a model kind, the training call itself) as one table. Reading goes
/// row by row in table order, so error messages that list the valid options list them in this
/// order; the catalog's rows are printed from the same table and a test keeps them equal.
/// </summary>
internal sealed class OptionTable(params OptionSpec[] rows)
{
    /// <summary>The rows, in reading order.</summary>
    public IReadOnlyList<OptionSpec> Rows { get; } = rows;

    /// <summary>Reads and validates every row.</summary>
    public OptionValues Read(OptionReader reader)
    {
        var values = new Dictionary<OptionSpec, object?>();
        foreach (var row in Rows) values[row] = row.ReadBoxed(reader);
        return new OptionValues(this, values);
    }

    /// <summary>The catalog's Markdown table of these options.</summary>
    public string CatalogRows()
    {
        var text = new StringBuilder();
        text.Append("| option | type | default | allowed | what it does |\n");
        text.Append("|---|---|---|---|---|\n");
        foreach (var row in Rows)
            text.Append(CultureInfo.InvariantCulture, $"| `{row.Name}` | {row.Type} | {Default(row.DefaultText)} | {Cell(row.RangeText)} | {Cell(row.Description)} |\n");
        return text.ToString();
    }

    private static string Default(string text) => text is "required" or "none" ? text : $"`{Cell(text)}`";

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
