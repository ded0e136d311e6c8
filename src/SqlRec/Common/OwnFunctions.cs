namespace SqlRec;

/// <summary>
/// SqlRec's SQL functions by name, and the ones that may run inside a query SqlRec runs on
/// someone's behalf (a training's source, a candidates list, ...): those that only read. The SQL
/// layer's registration table is the truth; a test checks these names against it.
/// </summary>
internal static class OwnFunctions
{
    /// <summary>Every SQL function SqlRec registers.</summary>
    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "recommend", "rec_train", "rec_drop", "rec_evaluate", "rec_version", "rec_register_embedder", "rec_drop_embedder",
        "rec_embed", "rec_embed_each", "rec_score", "similar_items", "similar_users", "rec_search", "rec_publish", "rec_unpublish",
    };

    /// <summary>
    /// The functions a query given to SqlRec may call: they read and run no query of their own
    /// (where they would - a live model's source, a candidates list - they refuse inside another query).
    /// The rest write (rec_train, rec_drop, rec_evaluate's report, embedders, publications) or run a
    /// query of their own by design (rec_embed_each, rec_score).
    /// </summary>
    public static readonly IReadOnlySet<string> ReadOnly = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "recommend", "similar_items", "similar_users", "rec_search", "rec_embed", "rec_version",
    };

    /// <summary>
    /// The functions that write to the database: before one runs, the store refuses objects of the
    /// schema it did not create on or in place of its tables (triggers, views).
    /// </summary>
    public static readonly IReadOnlySet<string> Writers = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "rec_train", "rec_drop", "rec_evaluate", "rec_register_embedder", "rec_drop_embedder", "rec_publish", "rec_unpublish",
    };
}
