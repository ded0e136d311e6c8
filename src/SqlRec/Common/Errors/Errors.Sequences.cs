namespace SqlRec.Common;

/// <summary>Errors of the sequential kind (sasrec): its source's timestamps, its options and sequences given to recommend().</summary>
internal static partial class Errors
{
    /// <summary>Longest explicit 'sequence' recommend() takes.</summary>
    public const int MaxSequenceLength = 10_000;

    /// <summary>A sequential kind trained from a source without a timestamp column.</summary>
    public static SqlRecException SequenceNeedsTimestamp(string function, string kind, int columns) =>
        Fail(function, $"model kind '{kind}' orders each user's items by time: the 'source' query must return 4 columns (user, item, weight, timestamp), got {columns}; add a timestamp column (unix seconds or ISO-8601 text), e.g. SELECT user_id, item_id, 1, created_at FROM events.");

    /// <summary>The width does not split into the heads.</summary>
    public static SqlRecException HeadsDoNotDivideDim(string function, int dim, int heads) =>
        Fail(function, $"'dim' {dim} must be a multiple of 'heads' {heads} (each head takes dim / heads of the width); change 'dim' or 'heads'.");

    /// <summary>Item vectors asked to come from text alone without a text query.</summary>
    public static SqlRecException IdEmbeddingOffNeedsText(string function) =>
        Fail(function, "option 'item_id_embedding' false needs option 'item_text' (the item vectors then come from the text vectors alone); give 'item_text' or set 'item_id_embedding' to true.");

    /// <summary>Without ID embeddings, an item of the source has no text vector.</summary>
    public static SqlRecException ItemWithoutText(string function, int count, object? example) =>
        Fail(function, $"with 'item_id_embedding' false every item needs a text vector, but {count} item(s) of the 'source' data have none in 'item_text' (e.g. item {Describe(example)}); give them a vector or set 'item_id_embedding' to true.");

    /// <summary>No user has two items: there is no next item to learn from.</summary>
    public static SqlRecException NoSequences(string function, string kind, int users) =>
        Fail(function, $"model kind '{kind}' learns which item comes next, but none of the {users} user(s) of the 'source' data has 2 or more interactions; give it users with longer histories.");

    /// <summary>An explicit sequence given to a model that cannot score one.</summary>
    public static SqlRecException SequenceNotSupported(string function, string model, string kind) =>
        Fail(function, $"option 'sequence' needs a model that scores a given history (a 'sasrec' model, or a live 'graph_filter' or 'ease' model), but model '{model}' is a '{kind}' model; leave 'sequence' out to recommend from the user's training data.");

    /// <summary>An explicit sequence longer than recommend() takes.</summary>
    public static SqlRecException SequenceTooLong(string function, int length) =>
        Fail(function, $"option 'sequence' holds {length} items, more than {MaxSequenceLength}; pass the latest items only (a 'sasrec' model reads its newest 'max_len').");

    /// <summary>recommend() without a user and without a sequence.</summary>
    public static SqlRecException UserOrSequence(string function) =>
        ArgumentNull(function, "user", "pass the user's id (unknown users get the popular items), or an anonymous session's items as option 'sequence', e.g. json_object('sequence', json_array(1, 5, 9))");
}
