using System.Globalization;
using SqlRec.Models;
using SqlRec.Sqlite;

namespace SqlRec.Store;

/// <summary>
/// Reads training data from the user's <c>source</c> SELECT: <c>(user, item[, weight[, timestamp]])</c>.
/// The statement is checked before anything runs: a single read-only SELECT with 2 to 4 columns.
/// </summary>
internal sealed class SourceReader : IDisposable
{
    private readonly string _function;
    private readonly Statement _statement;

    private SourceReader(string function, Statement statement)
    {
        _function = function;
        _statement = statement;
    }

    /// <summary>Number of columns the source returns (2 to 4).</summary>
    public int ColumnCount => _statement.ColumnCount;

    /// <summary>True when the source has a timestamp column.</summary>
    public bool HasTimestamp => ColumnCount >= 4;

    /// <summary>Prepares and checks the source query; nothing is executed yet.</summary>
    public static SourceReader Open(SqliteDb db, string function, string sql, QueryTrust? trust = null)
    {
        var statement = PrepareQuery(db, sql, function, QueryRole.Source, trust);
        try
        {
            var columns = statement.ColumnCount;
            if (columns < 2 || columns > 4) throw Errors.QueryColumns(function, QueryRole.Source, columns);
            return new SourceReader(function, statement);
        }
        catch
        {
            statement.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Prepares a query SqlRec runs on someone's behalf after checking it: one read-only SELECT (or
    /// WITH ... SELECT, VALUES) that calls only what its origin may call (<see cref="QueryPolicy"/>),
    /// and not started from inside another such query. Nothing is executed yet; while the caller
    /// steps it, it is the current <see cref="QueryNesting"/> frame. The caller owns the statement.
    /// </summary>
    /// <param name="db">The connection to run it on.</param>
    /// <param name="sql">The query text.</param>
    /// <param name="function">The SqlRec function running it, for messages.</param>
    /// <param name="role">What the query is for, for messages.</param>
    /// <param name="trust">Where the text came from; the caller by default.</param>
    /// <param name="inspect">False only for text already checked on this connection (a live model's query, checked once).</param>
    /// <param name="prepareFailed">The error for SQLite's refusal to prepare the text; <see cref="Errors.QueryFailed"/> by default.</param>
    internal static Statement PrepareQuery(SqliteDb db, string sql, string function, QueryRole role, QueryTrust? trust = null, bool inspect = true,
        Func<string, SqlRecException>? prepareFailed = null)
    {
        trust ??= QueryTrust.Given;
        var subject = trust.Subject(role);
        if (QueryNesting.Current is { } outer) throw Errors.QueryInsideQuery(function, subject, outer.Function, outer.Subject);
        if (!LooksLikeQuery(sql)) throw Errors.QueryNotSelect(function, role, sql);
        Statement statement;
        string tail;
        try { statement = db.Prepare(sql, out tail); }
        catch (SqliteCallException e) { throw prepareFailed?.Invoke(e.Message) ?? Errors.QueryFailed(function, role, e.Message); }
        try
        {
            if (!string.IsNullOrWhiteSpace(StripComments(tail))) throw Errors.QuerySeveralStatements(function, role, tail);
            if (!statement.IsReadOnly) throw Errors.QueryNotSelect(function, role, sql);
            if (inspect) QueryPolicy.Check(db, function, role, trust, sql);
            statement.RunsFor = new QueryFrame(function, subject);
            return statement;
        }
        catch
        {
            statement.Dispose();
            throw;
        }
    }

    /// <summary>SELECT, WITH ... SELECT and VALUES are queries; anything else is not a source.</summary>
    private static bool LooksLikeQuery(string sql)
    {
        var text = StripComments(sql);
        return text.StartsWith("SELECT", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("WITH", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("VALUES", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Removes leading whitespace and SQL comments.</summary>
    private static string StripComments(string sql)
    {
        var text = sql.TrimStart();
        while (true)
        {
            if (text.StartsWith("--", StringComparison.Ordinal))
            {
                var end = text.IndexOf('\n');
                text = end < 0 ? "" : text[(end + 1)..].TrimStart();
            }
            else if (text.StartsWith("/*", StringComparison.Ordinal))
            {
                var end = text.IndexOf("*/", StringComparison.Ordinal);
                text = end < 0 ? "" : text[(end + 2)..].TrimStart();
            }
            else return text;
        }
    }

    /// <summary>Runs the query and reads every row; reports progress every 100,000 rows.</summary>
    public Interactions ReadAll(Action<long>? onRows = null)
    {
        var columns = ColumnCount;
        var userCodes = new Dictionary<ExternalId, int>();
        var itemCodes = new Dictionary<ExternalId, int>();
        var userIds = new List<ExternalId>();
        var itemIds = new List<ExternalId>();
        var rowUsers = new List<int>();
        var rowItems = new List<int>();
        var rowWeights = new List<float>();
        // Each item's weights summed in double as they come: the item's popularity (every model's
        // fallback) is their float32 sum, so a sum past float32's range is refused at the row that passes it.
        var itemWeights = columns >= 3 ? new List<double>() : null;
        var rowTimes = columns >= 4 ? new List<double>() : null;
        long row = 0;
        try
        {
            while (_statement.Step())
            {
                row++;
                rowUsers.Add(Code(ReadId(0, "user", row), userCodes, userIds));
                var item = Code(ReadId(1, "item", row), itemCodes, itemIds);
                rowItems.Add(item);
                var weight = columns >= 3 ? ReadWeight(row) : 1f;
                rowWeights.Add(weight);
                if (itemWeights is not null)
                {
                    if (item == itemWeights.Count) itemWeights.Add(0);
                    var sum = itemWeights[item] += weight;
                    if (sum > Errors.MaxWeight) throw Errors.SourceWeightSumTooLarge(_function, row, itemIds[item].ToValue(), sum);
                }
                rowTimes?.Add(ReadTime(row));
                if (onRows != null && row % 100_000 == 0) onRows(row);
            }
        }
        catch (SqliteCallException e)
        {
            throw Errors.QueryFailed(_function, QueryRole.Source, e.Message);
        }
        if (row == 0) throw Errors.QueryEmpty(_function, QueryRole.Source);
        onRows?.Invoke(row);
        return Interactions.Build(userIds, itemIds, [.. rowUsers], [.. rowItems], [.. rowWeights], rowTimes?.ToArray());
    }

    private static int Code(ExternalId id, Dictionary<ExternalId, int> codes, List<ExternalId> ids)
    {
        if (codes.TryGetValue(id, out var code)) return code;
        code = ids.Count;
        codes.Add(id, code);
        ids.Add(id);
        return code;
    }

    private ExternalId ReadId(int column, string name, long row) =>
        _statement.GetId(column) ?? throw Errors.QueryBadId(_function, QueryRole.Source, name, row, _statement.GetValue(column));

    private float ReadWeight(long row)
    {
        var type = _statement.ColumnType(2);
        if (type is SqliteApi.SQLITE_INTEGER or SqliteApi.SQLITE_FLOAT)
        {
            var weight = _statement.GetDouble(2);
            if (double.IsFinite(weight) && weight >= 0 && weight <= Errors.MaxWeight) return (float)weight;
        }
        throw Errors.SourceBadWeight(_function, row, _statement.GetValue(2));
    }

    private double ReadTime(long row) =>
        TryReadTime(_statement, 3, out var seconds) ? seconds : throw Errors.SourceBadTimestamp(_function, row, _statement.GetValue(3));

    /// <summary>
    /// Reads a timestamp column as the source's rules take it: a finite INTEGER or REAL (unix
    /// seconds) or ISO-8601 TEXT (UTC unless it says otherwise). False for anything else (NULL included).
    /// </summary>
    internal static bool TryReadTime(Statement statement, int column, out double seconds)
    {
        seconds = 0;
        switch (statement.ColumnType(column))
        {
            case SqliteApi.SQLITE_INTEGER:
            case SqliteApi.SQLITE_FLOAT:
                seconds = statement.GetDouble(column);
                return double.IsFinite(seconds);
            case SqliteApi.SQLITE_TEXT:
                if (!DateTimeOffset.TryParse(statement.GetText(column), CultureInfo.InvariantCulture,
                        DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces, out var time)) return false;
                seconds = time.ToUnixTimeMilliseconds() / 1000.0;
                return true;
            default:
                return false;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _statement.Dispose();
}
