using SqlRec.Sqlite;
using SqlRec.Vectors;

namespace SqlRec.Store;

/// <summary>
/// Builds an <see cref="ItemFilter"/> from what a caller gives: a <c>candidates</c> query (one
/// read-only SELECT returning ids) and an <c>exclude</c> list of ids. Ids the model or collection
/// does not know are skipped in both: they cannot be returned anyway.
/// </summary>
internal static class Candidates
{
    /// <summary>The filter for <paramref name="ids"/>; <see cref="ItemFilter.None"/> when nothing is given.</summary>
    public static ItemFilter Read(SqliteDb db, string function, string? candidatesSql, IReadOnlyList<ExternalId> exclude, IdIndex ids)
    {
        var candidates = candidatesSql is null ? null : ReadCandidates(db, function, candidatesSql, ids);
        if (candidates is null && exclude.Count == 0) return ItemFilter.None;
        var excluded = new SortedSet<int>();
        foreach (var id in exclude)
        {
            if (ids.TryGetIndex(id, out var index)) excluded.Add(index);
        }
        return new ItemFilter(candidates, [.. excluded]);
    }

    /// <summary>
    /// Checks the query (a single read-only SELECT with one column) before it runs, then maps every
    /// id it returns to its row; a value that is not an id (NULL, REAL with a fraction, BLOB) fails.
    /// </summary>
    public static int[] ReadCandidates(SqliteDb db, string function, string sql, IdIndex ids)
    {
        using var statement = SourceReader.PrepareQuery(db, sql, function, QueryRole.Candidates);
        if (statement.ColumnCount != 1) throw Errors.QueryColumns(function, QueryRole.Candidates, statement.ColumnCount);
        var rows = new List<int>();
        long row = 0;
        try
        {
            while (statement.Step())
            {
                row++;
                var id = statement.GetId(0) ?? throw Errors.QueryBadId(function, QueryRole.Candidates, "id", row, statement.GetValue(0));
                if (ids.TryGetIndex(id, out var index)) rows.Add(index);
            }
        }
        catch (SqliteCallException e)
        {
            throw Errors.QueryFailed(function, QueryRole.Candidates, e.Message);
        }
        rows.Sort();
        var distinct = new List<int>(rows.Count);
        foreach (var r in rows)
        {
            if (distinct.Count == 0 || distinct[^1] != r) distinct.Add(r);
        }
        return [.. distinct];
    }
}
