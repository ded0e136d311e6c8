namespace SqlRec.Common;

/// <summary>Errors about naming and finding models and model kinds.</summary>
internal static partial class Errors
{
    /// <summary>No model has been trained in the database.</summary>
    public static SqlRecException NoModels(string function) =>
        Fail(function, "no model has been trained in this database; train one first, e.g. SELECT rec_train('main', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM interactions')).");

    /// <summary>The named model does not exist.</summary>
    public static SqlRecException UnknownModel(string function, string name, IReadOnlyCollection<string> known) =>
        Fail(function, known.Count == 0
            ? $"unknown model '{name}'; no model has been trained in this database."
            : $"unknown model '{name}'; trained models: {Quoted(known)}.");

    /// <summary>The model was omitted while several exist.</summary>
    public static SqlRecException ModelRequired(string function, IReadOnlyCollection<string> known) =>
        Fail(function, $"'model' is required when the database holds several models; got NULL, trained models: {Quoted(known)}.");

    /// <summary>The model exists but has never finished a training.</summary>
    public static SqlRecException ModelHasNoVersion(string function, string name) =>
        Fail(function, $"model '{name}' has no trained version yet; its first training has not finished.");

    /// <summary>A model name is empty, too long or not text.</summary>
    public static SqlRecException ModelNameInvalid(string function, object? got) =>
        Fail(function, $"'name' must be non-empty TEXT of at most {MaxModelNameLength} characters, got {Describe(got)}.");

    /// <summary>The model kind is not known.</summary>
    public static SqlRecException UnknownModelKind(string function, string kind, IEnumerable<string> valid) =>
        Fail(function, $"unknown model kind '{kind}'; available kinds: {string.Join(", ", valid)}.");
}
