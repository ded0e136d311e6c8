using SqlRec.Operations;
using SqlRec.Sqlite;

namespace SqlRec.Sql;

/// <summary>Flags SQLite uses to decide where a function may be called.</summary>
[Flags]
internal enum FunctionFlags
{
    None = 0,
    /// <summary>Same inputs, same result within one statement.</summary>
    Deterministic = SqliteApi.SQLITE_DETERMINISTIC,
    /// <summary>Only from top-level SQL: not from triggers, views, CHECK constraints or generated columns.</summary>
    DirectOnly = SqliteApi.SQLITE_DIRECTONLY,
    /// <summary>No side effects and no leak of information; safe anywhere.</summary>
    Innocuous = SqliteApi.SQLITE_INNOCUOUS,
}

/// <summary>The body of a scalar SQL function. Returns null, long, double, string or byte[].</summary>
internal delegate object? ScalarHandler(Session session, SqlArgs args);

/// <summary>The rows of a table-valued function for one set of arguments, produced as SQLite asks for them.</summary>
internal delegate IEnumerator<object?[]> RowsHandler(Session session, SqlArgs args);

/// <summary>The table-valued form of a function: its result columns and its rows.</summary>
/// <param name="Columns">Names and declared types of the result columns, in order (<c>rank INTEGER</c>).</param>
/// <param name="Open">
/// The rows for one set of arguments (absent ones read as NULL). Arguments are read before it
/// returns; the enumerator is disposed when the cursor closes or is filtered again.
/// </param>
internal sealed record TableForm(IReadOnlyList<string> Columns, RowsHandler Open);

/// <summary>
/// One row of the registration table: a SQL function's name, flags and parameters, and its scalar
/// and/or table-valued form. The scalar form takes from <see cref="Required"/> to all
/// <see cref="Parameters"/> arguments; the table-valued form is an eponymous virtual table whose
/// HIDDEN columns are the parameters, so <c>FROM name(a, b)</c> calls it. The catalog
/// (<c>sql/functions.md</c>) documents each row, and a test checks the two agree in full.
/// </summary>
internal sealed record SqlFunction(string Name, FunctionFlags Flags, IReadOnlyList<string> Parameters, int Required,
    ScalarHandler? Scalar, TableForm? Table = null, string? UsageText = null)
{
    /// <summary>The argument counts the scalar form is registered with (none for a table-only function).</summary>
    public IEnumerable<int> Arities => Scalar is null ? [] : Enumerable.Range(Required, Parameters.Count - Required + 1);

    /// <summary>Usage of the table-valued form for error messages: <c>SELECT * FROM recommend(user, k[, model[, options]])</c>.</summary>
    public string Usage => UsageText ?? $"SELECT * FROM {Name}({string.Join(", ", Parameters.Take(Required))}" +
        string.Concat(Parameters.Skip(Required).Select(p => $"[, {p}")) + new string(']', Parameters.Count - Required) + ")";

    /// <summary>The virtual table's declaration: the result columns, then the parameters as HIDDEN columns.</summary>
    public string Declaration =>
        $"CREATE TABLE x({string.Join(", ", Table!.Columns.Concat(Parameters.Select(p => $"\"{p}\" HIDDEN")))})";
}

/// <summary>
/// The registration table: every SQL function SqlRec adds to a connection. <c>UseSqlRec()</c>
/// applies it in one loop (<see cref="SqlSurface.RegisterAll"/>); the handlers live beside it in
/// <c>Sql/</c>, read their arguments, call one operation and shape its answer.
/// </summary>
internal static class SqlFunctions
{
    private const FunctionFlags Direct = FunctionFlags.DirectOnly;

    /// <summary>Every function, in catalog order.</summary>
    public static readonly SqlFunction[] All =
    [
        new("recommend", Direct, ["user", "k", "model", "options"], 2, ModelFunctions.RecommendScalar,
            new(["rank INTEGER", "item_id", "score REAL", "source TEXT"], ModelFunctions.RecommendRows)),
        new("rec_score", Direct, ["model", "users", "k", "options"], 3, null,
            new(["user_id", "rank INTEGER", "item_id", "score REAL", "source TEXT", "cold_start INTEGER", "version INTEGER"], ModelFunctions.ScoreRows),
            "SELECT * FROM rec_score(model, 'SELECT id FROM users', k[, options])"),
        new("rec_train", Direct, ["name", "options"], 2, ModelFunctions.Train),
        new("rec_drop", Direct, ["name"], 1, ModelFunctions.Drop),
        new("rec_evaluate", Direct, ["model", "options"], 2, ModelFunctions.Evaluate),
        new("rec_version", FunctionFlags.Deterministic | FunctionFlags.Innocuous, [], 0, (_, _) => ModelFunctions.Version),
        // rec_embed is DIRECTONLY although it writes nothing: it runs a model named by a database row
        // (a file path), so a hostile schema must not run it from a view or trigger; and it is not
        // DETERMINISTIC because re-registering an embedder changes its vectors, which would corrupt
        // an index on an expression or a generated column built from it.
        new("rec_register_embedder", Direct, ["name", "options"], 2, EmbedFunctions.Register),
        new("rec_drop_embedder", Direct, ["name"], 1, EmbedFunctions.Drop),
        new("rec_embed", Direct, ["embedder", "text"], 2, EmbedFunctions.Embed),
        new("rec_embed_each", Direct, ["embedder", "query"], 2, null, new(["id", "embedding BLOB"], EmbedFunctions.EmbedEach),
            "SELECT id, embedding FROM rec_embed_each(embedder, 'SELECT id, text FROM ...')"),
        new("similar_items", Direct, ["item", "k", "model", "options"], 2, VectorFunctions.SimilarItemsScalar,
            new(["rank INTEGER", "item_id", "score REAL", "distance REAL"], VectorFunctions.SimilarItemsRows)),
        new("similar_users", Direct, ["user", "k", "model", "options"], 2, VectorFunctions.SimilarUsersScalar,
            new(["rank INTEGER", "user_id", "score REAL", "distance REAL"], VectorFunctions.SimilarUsersRows)),
        new("rec_search", Direct, ["model", "query", "k", "options"], 3, VectorFunctions.SearchScalar,
            new(["rank INTEGER", "item_id", "score REAL", "distance REAL"], VectorFunctions.SearchRows)),
        new("rec_publish", Direct, ["name", "options"], 1, VectorFunctions.Publish),
        new("rec_unpublish", Direct, ["name"], 1, VectorFunctions.Unpublish),
    ];
}
