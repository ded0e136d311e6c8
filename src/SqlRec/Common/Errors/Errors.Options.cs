namespace SqlRec.Common;

/// <summary>Errors about an options JSON object: malformed, unknown, duplicated or missing options, wrong types and ranges.</summary>
internal static partial class Errors
{
    /// <summary>The options text is not JSON.</summary>
    public static SqlRecException OptionsMalformed(string function, string detail) =>
        Fail(function, $"'options' is not valid JSON: {detail}; build it with json_object(...).");

    /// <summary>The options JSON is not an object.</summary>
    public static SqlRecException OptionsNotObject(string function, string kind) =>
        Fail(function, $"'options' must be a JSON object, got a JSON {kind}; build it with json_object(...).");

    /// <summary>An option name is not known.</summary>
    public static SqlRecException UnknownOption(string function, string option, string context, IEnumerable<string> valid) =>
        Fail(function, $"unknown option '{option}' for {context}; valid options: {string.Join(", ", valid)}.");

    /// <summary>An option appears twice.</summary>
    public static SqlRecException DuplicateOption(string function, string option) =>
        Fail(function, $"option '{option}' is given twice.");

    /// <summary>A required option is missing.</summary>
    public static SqlRecException MissingOption(string function, string option, string hint) =>
        Fail(function, $"option '{option}' is required; {hint}.");

    /// <summary>An option has the wrong JSON type.</summary>
    public static SqlRecException OptionType(string function, string option, string expected, string got) =>
        Fail(function, $"option '{option}' must be {expected}, got {got}.");

    /// <summary>An option's value is out of range.</summary>
    public static SqlRecException OptionRange(string function, string option, string range, string got) =>
        Fail(function, $"option '{option}' must be {range}, got {got}.");

    /// <summary>An option that takes one value or a list got an empty JSON array.</summary>
    public static SqlRecException OptionListEmpty(string function, string option, string hint) =>
        Fail(function, $"option '{option}' must not be an empty array; {hint}.");
}
