namespace SqlRec.Common;

/// <summary>Errors of vector values and vector search: vector BLOBs, dimensions, what to search and with what.</summary>
internal static partial class Errors
{
    /// <summary>A vector has another dimension than the one expected.</summary>
    public static SqlRecException VectorDimensionMismatch(string function, string what, int expected, int got) =>
        Fail(function, $"dimension mismatch: {what} has {got} dimensions, {expected} expected.");

    /// <summary>A vector is not a BLOB (NULL, TEXT, a number).</summary>
    public static SqlRecException VectorNotBlob(string function, string what, object? got) =>
        Fail(function, $"{what} must be a float32 vector BLOB, got {Describe(got)}; make one with vec_f32('[0.1, 0.2, ...]').");

    /// <summary>A vector BLOB is empty, not a whole number of float32 values, or too long.</summary>
    public static SqlRecException VectorBlobLength(string function, string what, int bytes, int maxDimensions) =>
        Fail(function, $"{what} must hold 1 to {maxDimensions} float32 values (4 bytes each), got a BLOB of {bytes} bytes.");

    /// <summary>A vector holds NaN or an infinity.</summary>
    public static SqlRecException VectorNotFinite(string function, string what, int index, float value) =>
        Fail(function, $"{what} holds {Element(value)} at index {index} (0-based); every element must be a finite float32.");

    /// <summary>A query vector's length differs from the vectors it is compared with.</summary>
    public static SqlRecException DimensionMismatch(string function, string what, int got, string space, string source, int expected) =>
        Fail(function, $"dimension mismatch: {what} has {got} dimensions, but the {space} vectors of {source} have {expected}.");

    /// <summary>
    /// A TEXT query against a model, or against a collection published without an embedder: there
    /// is nothing to turn the text into a vector of that space.
    /// </summary>
    public static SqlRecException TextQueryNeedsEmbedder(string function, string source) =>
        Fail(function, $"'query' is TEXT, but {source} has no embedder to turn text into a vector; pass the query as a float32 vector BLOB, e.g. vec_f32('[0.1, 0.2, ...]'), or search a collection published with its embedder, e.g. rec_publish('name', json_object('text', 'SELECT id, title FROM items', 'embedder', 'hash')).");

    /// <summary>Neither a model nor a vector collection exists.</summary>
    public static SqlRecException NoVectorSources(string function) =>
        Fail(function, "no model or vector collection exists in this database; train a model with rec_train(...) or create a collection with rec_publish('name', json_object('source', 'SELECT id, vector FROM ...')).");

    /// <summary>The named model or collection does not exist.</summary>
    public static SqlRecException UnknownVectorSource(string function, string name, IReadOnlyCollection<string> models, IReadOnlyCollection<string> collections) =>
        Fail(function, $"unknown model or collection '{name}'; trained models: {List(models)}; collections: {List(collections)}.");

    /// <summary>The model was omitted while several models or collections exist.</summary>
    public static SqlRecException VectorSourceRequired(string function, IReadOnlyCollection<string> models, IReadOnlyCollection<string> collections) =>
        Fail(function, $"'model' is required when the database holds several models or collections; got NULL, trained models: {List(models)}; collections: {List(collections)}.");

    /// <summary>A model has no item vectors; <paramref name="from"/> names what has them (<c>a 'lightgcn' model</c>, ...).</summary>
    public static SqlRecException NoItemVectors(string function, string source, IReadOnlyList<string> from) =>
        NoVectors(function, source, "item", $"vectors come from {string.Join(", ", from)}, or a collection made with rec_publish(name, json_object('source', ...))");

    /// <summary>A model or a collection has no user vectors; <paramref name="from"/> names what has them.</summary>
    public static SqlRecException NoUserVectors(string function, string source, IReadOnlyList<string> from, bool isCollection) =>
        NoVectors(function, source, "user", (isCollection ? "a collection holds item vectors only; " : "") + $"user vectors come from {Alternatives(from)}");

    private static string Alternatives(IReadOnlyList<string> items) =>
        items.Count <= 1 ? string.Join("", items) : string.Join(", ", items.Take(items.Count - 1)) + " or " + items[^1];

    /// <summary>A model (or collection) has no vectors of the space asked for.</summary>
    private static SqlRecException NoVectors(string function, string source, string space, string hint) =>
        Fail(function, $"{source} has no {space} vectors; {hint}.");

    /// <summary>The item (or user) whose neighbours were asked for has no vector.</summary>
    public static SqlRecException UnknownVectorId(string function, string space, object id, string source) =>
        Fail(function, $"{space} {Describe(id)} has no vector in {source}; only the {space}s of its training data (or of a collection's source) have one.");

    /// <summary>A TEXT query is empty or only whitespace.</summary>
    public static SqlRecException QueryTextEmpty(string function) =>
        Fail(function, "'query' is empty or only whitespace; there is nothing to embed.");
}
