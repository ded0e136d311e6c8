namespace SqlRec.Common;

/// <summary>Errors of rec_publish and rec_unpublish: collections, their sources and texts, and the vec0 tables written.</summary>
internal static partial class Errors
{
    /// <summary>A collection's name is already a model's.</summary>
    public static SqlRecException CollectionNameIsModel(string function, string name) =>
        Fail(function, $"'{name}' is a trained model; a collection needs a name of its own (models and collections share one namespace).");

    /// <summary>A collection's source query returns an id twice.</summary>
    public static SqlRecException CollectionDuplicateId(string function, object id, long firstRow, long row) =>
        Fail(function, $"the 'source' query returns the id {Describe(id)} twice (rows {firstRow} and {row}); ids must be distinct.");

    /// <summary>Two vectors of a collection's source differ in length.</summary>
    public static SqlRecException CollectionDimensionMismatch(string function, long row, int got, int expected) =>
        Fail(function, $"dimension mismatch: the 'source' query's vector in row {row} has {got} dimensions, but the vector in row 1 has {expected}.");

    /// <summary>A table rec_publish would write exists and is not one of its own for this owner.</summary>
    public static SqlRecException PublishTableTaken(string function, string table, string owner) =>
        Fail(function, $"table '{table}' already exists and is not a vec0 table that rec_publish made for '{owner}'; choose another base name with option 'table', or drop that table.");

    /// <summary>vec0 keys rows by one id type; these ids mix INTEGER and TEXT.</summary>
    public static SqlRecException PublishMixedIds(string function, string source, string space) =>
        Fail(function, $"a vec0 table keys its rows by one id type, but the {space} ids of {source} are both INTEGER and TEXT; give them one type in the source query to publish them.");

    /// <summary>The vectors are too wide for a vec0 column (with the extra dimension of 'dot').</summary>
    public static SqlRecException PublishTooWide(string function, int dimensions, int maxDimensions) =>
        Fail(function, $"vec0 columns hold at most {maxDimensions} dimensions, and metric 'dot' needs one more than the vectors' {dimensions}; publish with metric 'cosine' or 'l2'.");

    /// <summary>A vector is too long for vec0's float32 distances.</summary>
    public static SqlRecException PublishVectorTooLong(string function, string table, string space, object id, double squaredLength) =>
        Fail(function, $"the vector of {space} {Describe(id)} is too long for vec0 table '{table}': its squared length {Number(squaredLength)} passes the largest 32-bit float ({Number(float.MaxValue)}), and vec0 computes distances in float32, so they would come out infinite or NULL; scale the vectors down, or search them with rec_search and similar_items, which handle them, instead of vec0.");

    /// <summary>A published vec0 table could not be dropped (to be rewritten or removed).</summary>
    public static SqlRecException Vec0DropFailed(string function, string table, string sqliteMessage) =>
        Fail(function, $"dropping vec0 table '{table}' failed: {sqliteMessage}; SQLite cannot drop a table while another statement of this connection is reading, so call {function}() in a statement of its own (SELECT {function}(...) without FROM); nothing was changed.");

    /// <summary>A published model's new version has no vectors to keep its vec0 table in step.</summary>
    public static SqlRecException RepublishWithoutVectors(string function, string model, string table, string kind, string space) =>
        Fail(function, $"model '{model}' is published to vec0 table '{table}', but the new version (kind '{kind}') has no {space} vectors; run SELECT rec_unpublish('{model}') first, or train a kind with vectors.");

    /// <summary>rec_publish got both a vector source and a text source.</summary>
    public static SqlRecException PublishSourceAndText(string function) =>
        Fail(function, "options 'source' and 'text' exclude each other, got both; pass 'source' for a SELECT returning (id, vector), or 'text' for a SELECT returning (id, text) that 'embedder' embeds.");

    /// <summary>rec_publish got an embedder without a collection to record it on.</summary>
    public static SqlRecException PublishEmbedderWithoutCollection(string function) =>
        Fail(function, "option 'embedder' names the embedder of a collection's vectors and needs option 'source' or 'text'; a model's vectors are not text vectors.");

    /// <summary>The embedder recorded on a collection makes vectors of another length than the collection's.</summary>
    public static SqlRecException PublishEmbedderDimension(string function, int sourceDimensions, string embedder, int embedderDimensions) =>
        Fail(function, $"dimension mismatch: the 'source' query's vectors have {sourceDimensions} dimensions, but embedder '{embedder}' makes {embedderDimensions}; name the embedder that made the vectors, so that text queries are compared with vectors of their own kind.");

    /// <summary>A text of the 'text' query is NULL, not TEXT, or empty: that id would have no vector.</summary>
    public static SqlRecException TextSourceBadText(string function, long row, object? id, object? got) =>
        Fail(function, $"the 'text' query must return non-empty TEXT for every id, got {Describe(got)} in row {row} (id {Describe(id)}); leave such rows out, e.g. WHERE trim(title) <> '', or convert with CAST(... AS TEXT).");

    /// <summary>The 'text' query returns an id twice.</summary>
    public static SqlRecException TextSourceDuplicateId(string function, object id, long firstRow, long row) =>
        Fail(function, $"the 'text' query returns the id {Describe(id)} twice (rows {firstRow} and {row}); ids must be distinct.");

    /// <summary>The embedder recorded on a collection no longer exists (dropped after publishing).</summary>
    public static SqlRecException CollectionEmbedderMissing(string function, string collection, string embedder, IReadOnlyCollection<string> known) =>
        Fail(function, $"{collection} embeds text queries with embedder '{embedder}', which no longer exists (available embedders: {Quoted(known)}); register it again with the same options, or publish the collection again with another 'embedder'.");

    /// <summary>The embedder recorded on a collection now makes vectors of another length.</summary>
    public static SqlRecException CollectionEmbedderDimensionChanged(string function, string collection, string embedder, int embedderDimensions, int collectionDimensions) =>
        Fail(function, $"dimension mismatch: {collection} has {collectionDimensions}-dimension vectors, but its embedder '{embedder}' now makes {embedderDimensions}; the embedder was registered again with other options: publish the collection again.");

    /// <summary>vec0 tables were asked for on a connection without sqlite-vec.</summary>
    public static SqlRecException Vec0NotLoaded(string function) =>
        Fail(function, "sqlite-vec's vec0 module is not loaded on this connection, and writing vec0 tables needs it; load it first (in the sqlite3 shell .load ./vec0, in Python conn.load_extension('./vec0'); the SqlRec extension loads the vec0 beside it when the host allows loading), or search with rec_search and similar_items, which need no vec0.");
}
