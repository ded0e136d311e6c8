namespace SqlRec.Common;

/// <summary>Errors of the <c>ease</c> kind.</summary>
internal static partial class Errors
{
    /// <summary>The catalogue is past the largest items x items matrix ease can hold in one array.</summary>
    public static SqlRecException EaseTooManyItems(string function, int items, int largest) =>
        Fail(function, $"model kind 'ease' holds an items x items matrix and handles at most {largest:N0} items, got {items:N0}; use 'graph_filter' (its memory grows with items x components), or train on fewer items.");

    /// <summary>X^T X + lambda I did not factor: lambda is too small for the data's scale, or weights are extreme.</summary>
    public static SqlRecException EaseNotPositiveDefinite(string function, double lambda) =>
        Fail(function, $"model kind 'ease' could not invert X^T X + lambda I with 'lambda' {lambda.ToString(System.Globalization.CultureInfo.InvariantCulture)} (not positive definite in double precision); raise 'lambda'.");
}
