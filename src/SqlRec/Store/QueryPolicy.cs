using SqlRec.Sqlite;

namespace SqlRec.Store;

/// <summary>
/// Where the text of a query SqlRec runs came from: given by the caller now (an argument or an
/// option of this call), or stored in the database (a model's training source, read back to
/// evaluate or to read a user's live rows), which SqlRec treats as untrusted whatever
/// <c>PRAGMA trusted_schema</c> says: the file may come from anyone.
/// </summary>
/// <param name="StoredWith">The model the text is stored with; null when the caller gave it.</param>
internal sealed record QueryTrust(string? StoredWith)
{
    /// <summary>Text given by the caller of this function call.</summary>
    public static readonly QueryTrust Given = new((string?)null);

    /// <summary>Text stored with model <paramref name="model"/>.</summary>
    public static QueryTrust Stored(string model) => new(model);

    /// <summary>True for text read from the database.</summary>
    public bool IsStored => StoredWith is not null;

    /// <summary>How messages name the query: <c>the 'source' query stored with model 'gf'</c>.</summary>
    public string Subject(QueryRole role) => IsStored ? $"{role.Subject} stored with model '{StoredWith}'" : role.Subject;
}

/// <summary>
/// What a query SqlRec runs may call. Every such query is one read-only statement (SQLite says so
/// before it runs); this adds the functions, read from the statement's program (EXPLAIN) before it
/// runs, since SQLite counts a SELECT that calls a function with side effects as read-only:
/// <list type="bullet">
/// <item>never <c>load_extension()</c>, and of SqlRec's own only those that read
/// (<see cref="OwnFunctions.ReadOnly"/>);</item>
/// <item>stored text, in addition, only functions built into SQLite or registered as innocuous, and
/// of SqlRec's only <c>rec_embed()</c> and <c>rec_version()</c> - the rule SQLite applies to a view or trigger under
/// <c>PRAGMA trusted_schema = OFF</c>, applied always.</item>
/// </list>
/// At run time the SQL layer also refuses SqlRec's writing functions inside these queries
/// (<see cref="QueryNesting"/>), which covers the table-valued forms EXPLAIN does not name.
/// </summary>
internal static class QueryPolicy
{
    private const long DirectOnly = 0x080000;   // SQLITE_DIRECTONLY
    private const long Innocuous = 0x200000;    // SQLITE_INNOCUOUS

    /// <summary>
    /// SqlRec's functions stored text may call: embedding a text (an item modality is often
    /// <c>SELECT id, rec_embed('minilm', title) FROM items</c>) and the version. Not the model
    /// functions: a stored query that reads another model is no training data.
    /// </summary>
    private static readonly HashSet<string> StoredMayCall = new(StringComparer.OrdinalIgnoreCase) { "rec_embed", "rec_version" };

    /// <summary>Fails with the reason when the prepared text calls a function its origin may not call.</summary>
    public static void Check(SqliteDb db, string function, QueryRole role, QueryTrust trust, string sql)
    {
        IReadOnlySet<string> called;
        try { called = db.FunctionsCalledBy(sql); }
        catch (SqliteCallException e) { throw Errors.QueryNotInspectable(function, trust.Subject(role), e.Message); }
        foreach (var name in called.Order(StringComparer.Ordinal))
        {
            if (Refusal(db, function, role, trust, name) is { } reason)
                throw Errors.QueryCallsRefused(function, trust.Subject(role), name, reason);
        }
    }

    private static string? Refusal(SqliteDb db, string function, QueryRole role, QueryTrust trust, string name)
    {
        if (name.Equals("load_extension", StringComparison.OrdinalIgnoreCase)) return "loads native code; the queries SqlRec runs may only read";
        if (OwnFunctions.All.Contains(name))
        {
            if (!OwnFunctions.ReadOnly.Contains(name)) return "writes or runs a query of its own; the queries SqlRec runs may only read";
            if (trust.IsStored && !StoredMayCall.Contains(name))
                return "SqlRec does not run from SQL stored in a database; retrain the model with a source that does not call it";
            return null;
        }
        if (!trust.IsStored) return null;
        (bool Builtin, long Flags)? traits;
        try { traits = db.FunctionTraits(name); }
        catch (SqliteCallException e) { throw Errors.QueryNotInspectable(function, trust.Subject(role), e.Message); }
        if (traits is not { } t || (t.Flags & DirectOnly) != 0 || (!t.Builtin && (t.Flags & Innocuous) == 0))
            return "is neither built into SQLite nor registered as innocuous; SqlRec runs SQL stored in a database only with such functions, " +
                "as SQLite runs a view under PRAGMA trusted_schema = OFF; retrain the model with a source that does not call it";
        return null;
    }
}
