namespace SqlRec.Common;

/// <summary>Errors about the arguments of a SQL call: NULLs, wrong types, ranges, missing table-valued arguments.</summary>
internal static partial class Errors
{
    /// <summary>A required argument is NULL.</summary>
    public static SqlRecException ArgumentNull(string function, string argument, string hint) =>
        Fail(function, $"'{argument}' must not be NULL; {hint}.");

    /// <summary>An argument has the wrong SQL type.</summary>
    public static SqlRecException ArgumentType(string function, string argument, string expected, object? got) =>
        Fail(function, $"'{argument}' must be {expected}, got {Describe(got)}.");

    /// <summary>An integer argument is out of its range.</summary>
    public static SqlRecException ArgumentRange(string function, string argument, long min, long max, object? got) =>
        Fail(function, $"'{argument}' must be between {min} and {max}, got {DescribeNumber(got)}.");

    /// <summary><c>k</c> is outside 1..<see cref="MaxK"/>.</summary>
    public static SqlRecException KOutOfRange(string function, object? got) => ArgumentRange(function, "k", 1, MaxK, got);

    /// <summary>A table-valued function was used without one of its required arguments.</summary>
    public static SqlRecException TableArgumentMissing(string function, string argument, string usage) =>
        Fail(function, $"the '{argument}' argument is required; use {usage}.");
}
