using System.Globalization;
using System.Text.Json;

namespace SqlRec.Common;

/// <summary>
/// Reads a JSON options object strictly: every option is taken by name with its type and range
/// checked, and <see cref="Finish"/> rejects any name nobody asked for. Options classes use it so
/// that all validation happens before any work starts.
/// </summary>
internal sealed class OptionReader
{
    private readonly string _function;
    private readonly Dictionary<string, JsonElement> _values = new(StringComparer.Ordinal);
    private readonly List<string> _known = [];

    private OptionReader(string function) => _function = function;

    /// <summary>Parses the options text; null or empty text means no options.</summary>
    public static OptionReader Parse(string function, string? json)
    {
        var reader = new OptionReader(function);
        if (string.IsNullOrWhiteSpace(json)) return reader;
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw Errors.OptionsMalformed(function, JsonErrorDetail(e)); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw Errors.OptionsNotObject(function, document.RootElement.ValueKind.ToString().ToLowerInvariant());
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!reader._values.TryAdd(property.Name, property.Value.Clone())) throw Errors.DuplicateOption(function, property.Name);
            }
        }
        return reader;
    }

    /// <summary>A JSON parse error for messages: what is wrong and where (line and byte position).</summary>
    internal static string JsonErrorDetail(JsonException error) => error.Message.Trim().TrimEnd('.');

    /// <summary>The SQL function the options belong to, as messages name it.</summary>
    public string Function => _function;

    /// <summary>
    /// The raw JSON value of an option that has a structure of its own (a list of objects, ...),
    /// for the caller to check; null when absent or JSON null.
    /// </summary>
    public JsonElement? Json(string name) => TryTake(name, out var value) ? value : null;

    /// <summary>True when the option was given (and not JSON null).</summary>
    public bool Has(string name) => _values.TryGetValue(name, out var value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>The names read so far, in order.</summary>
    public IReadOnlyList<string> Known => _known;

    private bool TryTake(string name, out JsonElement value)
    {
        if (!_known.Contains(name)) _known.Add(name);
        return _values.TryGetValue(name, out value) && value.ValueKind != JsonValueKind.Null;
    }

    /// <summary>Describes a JSON value for messages.</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Errors.Shorten(value.GetString() ?? "", 60)}\"",
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    /// <summary>A string option; <paramref name="fallback"/> when absent.</summary>
    public string? String(string name, string? fallback = null)
    {
        if (!TryTake(name, out var value)) return fallback;
        if (value.ValueKind != JsonValueKind.String) throw Errors.OptionType(_function, name, "a string", Describe(value));
        return value.GetString();
    }

    /// <summary>A string option that must be one of <paramref name="allowed"/>.</summary>
    public string Choice(string name, string fallback, params string[] allowed)
    {
        var text = String(name, fallback)!;
        if (!allowed.Contains(text)) throw Errors.OptionRange(_function, name, "one of " + string.Join(", ", allowed.Select(a => $"'{a}'")), $"\"{text}\"");
        return text;
    }

    /// <summary>A number option within [min, max] (either end may be exclusive); <paramref name="fallback"/> when absent.</summary>
    public double Number(string name, double fallback, double min, double max, bool minExclusive = false, bool maxExclusive = false)
    {
        if (!TryTake(name, out var value)) return fallback;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
            throw Errors.OptionType(_function, name, "a number", Describe(value));
        if (number > max || number < min || (minExclusive && number == min) || (maxExclusive && number == max))
            throw Errors.OptionRange(_function, name, RangeText(min, max, minExclusive, maxExclusive), value.GetRawText());
        return number;
    }

    /// <summary>An optional number option within its range; null when absent.</summary>
    public double? OptionalNumber(string name, double min, double max, bool minExclusive = false) =>
        Has(name) ? Number(name, 0, min, max, minExclusive) : Touch(name);

    /// <summary>An integer option within [min, max]; <paramref name="fallback"/> when absent.</summary>
    public long Integer(string name, long fallback, long min, long max)
    {
        if (!TryTake(name, out var value)) return fallback;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
            throw Errors.OptionType(_function, name, "an integer", Describe(value));
        if (number < min || number > max) throw Errors.OptionRange(_function, name, RangeText(min, max, false), value.GetRawText());
        return number;
    }

    /// <summary>A boolean option; JSON true/false or the integers 0/1 (what SQLite's json_object gives for a comparison).</summary>
    public bool Boolean(string name, bool fallback)
    {
        if (!TryTake(name, out var value)) return fallback;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number when value.TryGetInt64(out var n) && n is 0 or 1 => n == 1,
            _ => throw Errors.OptionType(_function, name, "true or false", Describe(value)),
        };
    }

    private double? Touch(string name)
    {
        TryTake(name, out _);
        return null;
    }

    internal static string RangeText(double min, double max, bool minExclusive, bool maxExclusive = false)
    {
        var low = min.ToString(CultureInfo.InvariantCulture);
        if (max >= double.MaxValue / 2) return minExclusive ? $"greater than {low}" : $"at least {low}";
        var high = max.ToString(CultureInfo.InvariantCulture);
        if (maxExclusive) return minExclusive ? $"greater than {low} and less than {high}" : $"at least {low} and less than {high}";
        return minExclusive ? $"greater than {low} and at most {high}" : $"between {low} and {high}";
    }

    /// <summary>
    /// An option given as one integer or as a non-empty JSON array of integers, each within
    /// [min, max]; returned sorted ascending without duplicates. <paramref name="fallback"/> when absent.
    /// </summary>
    public int[] IntegerList(string name, int[] fallback, int min, int max, string emptyHint)
    {
        if (!TryTake(name, out var value)) return fallback;
        const string expected = "an integer or an array of integers";
        var range = RangeText(min, max, false);
        switch (value.ValueKind)
        {
            case JsonValueKind.Number:
                if (!value.TryGetInt64(out var single)) throw Errors.OptionType(_function, name, expected, Describe(value));
                if (single < min || single > max) throw Errors.OptionRange(_function, name, range, value.GetRawText());
                return [(int)single];
            case JsonValueKind.Array:
                var list = new SortedSet<int>();
                var position = 0;
                foreach (var element in value.EnumerateArray())
                {
                    position++;
                    if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var number))
                        throw Errors.OptionType(_function, name, expected, $"{Describe(element)} at position {position} of the array");
                    if (number < min || number > max)
                        throw Errors.OptionRange(_function, name, range, $"{element.GetRawText()} at position {position} of the array");
                    list.Add((int)number);
                }
                if (list.Count == 0) throw Errors.OptionListEmpty(_function, name, emptyHint);
                return [.. list];
            default:
                throw Errors.OptionType(_function, name, expected, Describe(value));
        }
    }

    /// <summary>
    /// An option given as a JSON array of ids: integers (a number with no fraction) or strings,
    /// as SQLite's <c>json_array(...)</c> writes them; empty when absent. Order and repeats are kept.
    /// </summary>
    public ExternalId[] IdList(string name)
    {
        if (!TryTake(name, out var value)) return [];
        const string expected = "an array of ids (integers or strings)";
        if (value.ValueKind != JsonValueKind.Array) throw Errors.OptionType(_function, name, expected, Describe(value));
        var ids = new List<ExternalId>();
        var position = 0;
        foreach (var element in value.EnumerateArray())
        {
            position++;
            ExternalId? id = element.ValueKind switch
            {
                JsonValueKind.String => ExternalId.Of(element.GetString()!),
                JsonValueKind.Number when element.TryGetInt64(out var integer) => ExternalId.Of(integer),
                JsonValueKind.Number when element.TryGetDouble(out var real) => ExternalId.FromValue(real),
                _ => null,
            };
            ids.Add(id ?? throw Errors.OptionType(_function, name, expected, $"{Describe(element)} at position {position} of the array"));
        }
        return [.. ids];
    }

    /// <summary>Fails on any option that was given but never read.</summary>
    public void Finish(string context)
    {
        foreach (var name in _values.Keys)
        {
            if (!_known.Contains(name)) throw Errors.UnknownOption(_function, name, context, _known);
        }
    }
}
