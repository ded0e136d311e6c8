using SqlRec.Operations;

namespace SqlRec.Sql;

/// <summary>
/// The handlers of vector search: <c>similar_items</c>, <c>similar_users</c>, <c>rec_search</c>
/// (scalar JSON and table-valued forms), <c>rec_publish</c> and <c>rec_unpublish</c>. Each reads and
/// checks its arguments and options, then calls <see cref="Search"/> or <see cref="Publishing"/>.
/// </summary>
internal static class VectorFunctions
{
    private static List<Neighbour> Similar(Session session, SqlArgs args, string function, string space)
    {
        var id = args.Id(function, 0, space, $"pass the id of the {space} whose neighbours you want");
        var k = (int)args.Integer(function, 1, "k", 1, Errors.MaxK, $"pass how many {space}s to return");
        var name = args.OptionalText(function, 2, "model");
        var options = SearchOptions.Parse(function, args.OptionalText(function, 3, "options"));
        return Search.Similar(session, function, space, id, k, name, options);
    }

    private static List<Neighbour> Nearest(Session session, SqlArgs args)
    {
        const string function = "rec_search";
        var name = args.OptionalText(function, 0, "model");
        var query = args.Value(1);
        var k = (int)args.Integer(function, 2, "k", 1, Errors.MaxK, "pass how many items to return");
        var options = SearchOptions.Parse(function, args.OptionalText(function, 3, "options"));
        return Search.Nearest(session, function, name, query, k, options);
    }

    private static string Json(List<Neighbour> rows) => ModelFunctions.JsonIds(rows, static r => r.Id);

    private static IEnumerator<object?[]> Rows(List<Neighbour> rows) =>
        rows.Select(r => new object?[] { (long)r.Rank, r.Id.ToValue(), r.Score, r.Distance }).GetEnumerator();

    /// <summary><c>similar_items(item, k[, model[, options]])</c>, scalar form.</summary>
    public static object? SimilarItemsScalar(Session session, SqlArgs args) => Json(Similar(session, args, "similar_items", "item"));

    /// <summary><c>SELECT * FROM similar_items(item, k[, model[, options]])</c>.</summary>
    public static IEnumerator<object?[]> SimilarItemsRows(Session session, SqlArgs args) => Rows(Similar(session, args, "similar_items", "item"));

    /// <summary><c>similar_users(user, k[, model[, options]])</c>, scalar form.</summary>
    public static object? SimilarUsersScalar(Session session, SqlArgs args) => Json(Similar(session, args, "similar_users", "user"));

    /// <summary><c>SELECT * FROM similar_users(user, k[, model[, options]])</c>.</summary>
    public static IEnumerator<object?[]> SimilarUsersRows(Session session, SqlArgs args) => Rows(Similar(session, args, "similar_users", "user"));

    /// <summary><c>rec_search(model, query, k[, options])</c>, scalar form.</summary>
    public static object? SearchScalar(Session session, SqlArgs args) => Json(Nearest(session, args));

    /// <summary><c>SELECT * FROM rec_search(model, query, k[, options])</c>.</summary>
    public static IEnumerator<object?[]> SearchRows(Session session, SqlArgs args) => Rows(Nearest(session, args));

    /// <summary><c>rec_publish(name[, options])</c>.</summary>
    public static object? Publish(Session session, SqlArgs args)
    {
        const string function = "rec_publish";
        var name = args.ModelName(function, 0);
        var options = PublishOptions.Parse(function, args.OptionalText(function, 1, "options"));
        return Publishing.Publish(session, function, name, options);
    }

    /// <summary><c>rec_unpublish(name)</c>.</summary>
    public static object? Unpublish(Session session, SqlArgs args)
    {
        const string function = "rec_unpublish";
        return Publishing.Unpublish(session, function, args.ModelName(function, 0));
    }
}
