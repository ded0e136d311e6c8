using SqlRec.Sqlite;

namespace SqlRec.Store;

/// <summary>A user's current interactions as dense item indices (sorted, distinct) with weights.</summary>
internal sealed record UserRow(int[] Items, float[] Weights)
{
    public static readonly UserRow Empty = new([], []);
}

/// <summary>
/// Reads one user's current rows from a model's training <c>source</c> query at serving time, so
/// models that score a user's row directly (the graph filter) reflect new interactions without
/// retraining. The source is wrapped as
/// <c>WITH s(u, i[, w[, t]]) AS (source) SELECT i[, w] FROM s WHERE u = ?</c>; SQLite pushes the
/// filter into the source query, so an index on the source table's user column makes it a lookup.
/// Items that the model does not know (added after the last training) are skipped: they enter
/// at the next rec_train.
/// </summary>
internal static class LiveRows
{
    /// <summary>The wrapping query for a source with <paramref name="columns"/> columns.</summary>
    public static string WrapSource(string source, int columns)
    {
        string[] names = ["sqlrec_user", "sqlrec_item", "sqlrec_weight", "sqlrec_time"];
        var select = columns >= 3 ? "sqlrec_item, sqlrec_weight" : "sqlrec_item";
        // A trailing semicolon is allowed in the stored source; it cannot stand inside the CTE.
        var body = source.TrimEnd().TrimEnd(';');
        return $"WITH sqlrec_source({string.Join(", ", names[..columns])}) AS (\n{body}\n) SELECT {select} FROM sqlrec_source WHERE sqlrec_user = ?1";
    }

    /// <summary>
    /// Reads the user's row; null when the user has no rows at all. The query is text stored with
    /// <paramref name="model"/>, run under <see cref="QueryPolicy"/>'s rules for stored SQL;
    /// <paramref name="inspect"/> is false when this connection has already checked this text.
    /// </summary>
    public static UserRow? Read(SqliteDb db, string function, string model, string wrappedQuery, ExternalId user, IIdLookup items, bool useWeights,
        bool inspect)
    {
        // Summed in double; the rules are the training source's: each weight and each item's sum within float32.
        var weights = new Dictionary<int, double>();
        var any = EachRow(db, function, model, wrappedQuery, user, inspect, (statement, row, id) =>
        {
            var weight = 1.0;
            if (useWeights && statement.ColumnCount >= 2)
            {
                var raw = statement.GetValue(1);
                weight = raw switch { long l => l, double d => d, _ => double.NaN };
                if (!double.IsFinite(weight) || weight < 0 || weight > Errors.MaxWeight) throw Errors.SourceBadWeight(function, row, raw);
                weight = (float)weight;
            }
            if (!items.TryGetIndex(id, out var index)) return;
            var sum = weights[index] = useWeights ? weights.GetValueOrDefault(index) + weight : 1.0;
            if (sum > Errors.MaxWeight) throw Errors.SourceWeightSumTooLarge(function, row, id.ToValue(), sum);
        });
        if (!any) return null;
        var sorted = weights.Keys.Order().ToArray();
        return new UserRow(sorted, sorted.Select(i => (float)weights[i]).ToArray());
    }

    /// <summary>
    /// The wrapping query of a sequential model's source (4 columns): the user's items with their
    /// times, <c>WITH s(u, i, w, t) AS (source) SELECT i, t FROM s WHERE u = ?</c>.
    /// </summary>
    public static string WrapSequence(string source) =>
        $"WITH sqlrec_source(sqlrec_user, sqlrec_item, sqlrec_weight, sqlrec_time) AS (\n{source.TrimEnd().TrimEnd(';')}\n) SELECT sqlrec_item, sqlrec_time FROM sqlrec_source WHERE sqlrec_user = ?1";

    /// <summary>
    /// Reads the user's current items in time order (rows with equal times in the order the query
    /// returned them, as training orders them), as item indices; null when the user has no rows.
    /// Items the model does not know (added after the last training) are skipped. A NULL or
    /// non-numeric timestamp is the source's error.
    /// </summary>
    public static int[]? ReadSequence(SqliteDb db, string function, string model, string wrappedQuery, ExternalId user, IIdLookup items, bool inspect)
    {
        var events = new List<(double Time, int Item)>();
        var any = EachRow(db, function, model, wrappedQuery, user, inspect, (statement, row, id) =>
        {
            if (!SourceReader.TryReadTime(statement, 1, out var time)) throw Errors.SourceBadTimestamp(function, row, statement.GetValue(1));
            if (items.TryGetIndex(id, out var index)) events.Add((time, index));
        });
        if (!any) return null;
        // OrderBy is stable: ties keep the query's order.
        return [.. events.OrderBy(e => e.Time).Select(e => e.Item)];
    }

    /// <summary>
    /// Runs a wrapped stored source for <paramref name="user"/> under <see cref="QueryPolicy"/>'s rules
    /// for stored SQL and hands each row (its 1-based number and its item id, checked an id) to
    /// <paramref name="each"/>; false when the user has no rows.
    /// </summary>
    private static bool EachRow(SqliteDb db, string function, string model, string wrappedQuery, ExternalId user, bool inspect, Action<Statement, long, ExternalId> each)
    {
        using var statement = SourceReader.PrepareQuery(db, wrappedQuery, function, QueryRole.Source, QueryTrust.Stored(model), inspect,
            message => Errors.LiveSourceFailed(function, model, message));
        statement.Bind(1, user.ToValue());
        long row = 0;
        while (statement.Step())
        {
            row++;
            var id = statement.GetId(0) ?? throw Errors.QueryBadId(function, QueryRole.Source, "item", row, statement.GetValue(0));
            each(statement, row, id);
        }
        return row > 0;
    }
}
