namespace SqlRec.Common;

/// <summary>
/// How messages name one kind of query SqlRec runs for a user, and what it must return. One
/// instance per role; the errors of <see cref="Errors"/>' query family take it, so every query
/// (a training source, test pairs, candidates, texts, a modality) fails the same way in its own words.
/// </summary>
internal sealed class QueryRole
{
    private readonly Func<string, string> _idColumn;

    private QueryRole(string given, string subject, string shape, string? nothingLeft, Func<string, string>? idColumn = null)
    {
        Given = given;
        Subject = subject;
        Shape = shape;
        NothingLeft = nothingLeft;
        _idColumn = idColumn ?? (column => $"{subject}'s {column} column must be INTEGER or TEXT");
    }

    /// <summary>How the query is named as given: <c>option 'source'</c>, <c>'query'</c>.</summary>
    public string Given { get; }

    /// <summary>How the query is named as it runs: <c>the 'source' query</c>.</summary>
    public string Subject { get; }

    /// <summary>The columns it must return: <c>2 columns (user, item)</c>.</summary>
    public string Shape { get; }

    /// <summary>What no rows means for the caller, or null when no rows is not an error.</summary>
    public string? NothingLeft { get; }

    /// <summary>The start of the message about a value that cannot be an id in <paramref name="column"/>.</summary>
    public string IdColumn(string column) => _idColumn(column);

    /// <summary>A training source: <c>(user, item[, weight[, timestamp]])</c>.</summary>
    public static readonly QueryRole Source = new("option 'source'", "the 'source' query",
        "2 to 4 columns (user, item[, weight[, timestamp]])", "there is nothing to train on");

    /// <summary>rec_evaluate's held-out pairs.</summary>
    public static readonly QueryRole Test = new("option 'test'", "the 'test' query", "2 columns (user, item)", "there is nothing to evaluate");

    /// <summary>The ids a recommendation or search may return.</summary>
    public static readonly QueryRole Candidates = new("option 'candidates'", "the 'candidates' query", "1 column (the ids)", null,
        _ => "the 'candidates' query must return ids (INTEGER or TEXT)");

    /// <summary>rec_publish's vectors of a collection.</summary>
    public static readonly QueryRole CollectionSource = new("option 'source'", "the 'source' query", "2 columns (id, vector)",
        "a collection needs at least one vector");

    /// <summary>rec_publish's texts of a collection.</summary>
    public static readonly QueryRole Text = new("option 'text'", "the 'text' query", "2 columns (id, text)", "a collection needs at least one text");

    /// <summary>rec_embed_each's texts.</summary>
    public static readonly QueryRole EmbedQuery = new("'query'", "the 'query'", "2 columns (id, text)", null,
        _ => "the 'query' must return INTEGER or TEXT ids");

    /// <summary>rec_score's users to score.</summary>
    public static readonly QueryRole Users = new("'users'", "the 'users' query", "1 column (the user ids)", null,
        _ => "the 'users' query must return user ids (INTEGER or TEXT)");

    /// <summary>One item modality of a content model: <c>(item, vector BLOB)</c>.</summary>
    public static QueryRole Modality(string name) => new($"modality '{name}': 'source'", $"modality '{name}': the query",
        "2 columns (item, vector BLOB)", null, column => $"modality '{name}': the {column} column must be INTEGER or TEXT");
}

/// <summary>The query family: what goes wrong with any query SqlRec runs for a user, named by its <see cref="QueryRole"/>.</summary>
internal static partial class Errors
{
    /// <summary>The query is not one read-only SELECT.</summary>
    public static SqlRecException QueryNotSelect(string function, QueryRole role, string sql) =>
        Fail(function, $"{role.Given} must be a read-only SELECT statement, got '{Shorten(sql.Trim(), 80)}'.");

    /// <summary>The query text holds more than one statement.</summary>
    public static SqlRecException QuerySeveralStatements(string function, QueryRole role, string rest) =>
        Fail(function, $"{role.Given} must be a single statement, but more follows: '{Shorten(rest.Trim(), 80)}'.");

    /// <summary>SQLite rejected or failed the query.</summary>
    public static SqlRecException QueryFailed(string function, QueryRole role, string sqliteMessage) =>
        Fail(function, $"{role.Subject} failed: {sqliteMessage.TrimEnd('.')}.");

    /// <summary>The query returns the wrong number of columns.</summary>
    public static SqlRecException QueryColumns(string function, QueryRole role, int got) =>
        Fail(function, $"{role.Subject} must return {role.Shape}, got {got}.");

    /// <summary>The query returned no rows where the caller needs some.</summary>
    public static SqlRecException QueryEmpty(string function, QueryRole role) =>
        Fail(function, $"{role.Subject} returned no rows; {role.NothingLeft ?? "there is nothing to do"}.");

    /// <summary>An id column holds a value that cannot be an id (NULL, a BLOB, a REAL with a fraction).</summary>
    public static SqlRecException QueryBadId(string function, QueryRole role, string column, long row, object? got) =>
        Fail(function, $"{role.IdColumn(column)}, got {Describe(got)} in row {row}; filter or cast it in the query.");

    /// <summary>A query SqlRec runs calls a function it may not call there.</summary>
    public static SqlRecException QueryCallsRefused(string function, string subject, string called, string reason) =>
        Fail(function, $"{subject} calls {called}(), which {reason}.");

    /// <summary>SQLite could not list the functions a query calls (no EXPLAIN or no pragma_function_list in this build).</summary>
    public static SqlRecException QueryNotInspectable(string function, string subject, string sqliteMessage) =>
        Fail(function, $"cannot check which functions {subject} calls ({sqliteMessage}); SqlRec runs no query it cannot check.");

    /// <summary>A SqlRec function would run a query of its own inside a query SqlRec is already running.</summary>
    public static SqlRecException QueryInsideQuery(string function, string subject, string outerFunction, string outerSubject) =>
        Fail(function, $"cannot run {subject} inside {outerSubject} of {outerFunction}(): the queries SqlRec runs do not nest.");

    /// <summary>A SqlRec function that writes (or runs a query) was called from inside a query SqlRec runs.</summary>
    public static SqlRecException CalledInsideQuery(string function, string outerFunction, string outerSubject) =>
        Fail(function, $"cannot run inside {outerSubject} of {outerFunction}(): the queries SqlRec runs may only read.");
}
