namespace SqlRec.Common;

/// <summary>Errors of the <c>auto</c> kind, which picks a kind for the data.</summary>
internal static partial class Errors
{
    /// <summary>The candidates option is not a non-empty JSON array of kind names auto can try.</summary>
    public static SqlRecException AutoCandidatesInvalid(string function, string got, IEnumerable<string> allowed) =>
        Fail(function, $"option 'candidates' must be a non-empty JSON array of model kinds from {string.Join(", ", allowed.Select(k => $"'{k}'"))}, got {got}.");

    /// <summary>No user has two items, so no validation split can be held out.</summary>
    public static SqlRecException AutoNoValidation(string function) =>
        Fail(function, "model kind 'auto' holds out part of each user's items to compare kinds, but no user in the 'source' data has 2 or more items; name a kind with option 'model'.");

    /// <summary>No candidate finished within the budget or fitted: nothing to choose from.</summary>
    public static SqlRecException AutoNothingFinished(string function, double budgetSeconds, string why) =>
        Fail(function, $"model kind 'auto' finished no candidate within 'budget_seconds' {budgetSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)} (the last: {why.TrimEnd('.')}); raise 'budget_seconds', add 'candidates', or name a kind with option 'model'.");
}
