using System.Text;
using SqlRec.Operations;

namespace SqlRec.Sql;

/// <summary>
/// The handlers of <c>recommend</c>, <c>rec_train</c>, <c>rec_drop</c>, <c>rec_evaluate</c> and
/// <c>rec_version</c>: each reads its arguments, calls one operation and shapes the answer.
/// </summary>
internal static class ModelFunctions
{
    /// <summary>SqlRec's version, as <c>rec_version()</c> reports it.</summary>
    public static string Version => typeof(ModelFunctions).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>A JSON array of the rows' ids, best first: the scalar form of the ranking functions.</summary>
    internal static string JsonIds<T>(List<T> rows, Func<T, ExternalId> id)
    {
        var json = new StringBuilder(rows.Count * 8 + 2).Append('[');
        for (var i = 0; i < rows.Count; i++)
        {
            if (i > 0) json.Append(',');
            json.Append(id(rows[i]).ToJson());
        }
        return json.Append(']').ToString();
    }

    /// <summary>Reads (user, k[, model[, options]]) and runs the recommendation.</summary>
    private static List<Recommendation> Recommend(Session session, SqlArgs args)
    {
        const string function = "recommend";
        // An anonymous session has no user id: a NULL user is allowed when option 'sequence' gives the history.
        ExternalId? user = args.IsNull(0) ? null : args.Id(function, 0, "user", "pass the user's id (unknown users get the popular items)");
        var k = (int)args.Integer(function, 1, "k", 1, Errors.MaxK, "pass how many items to return");
        var model = args.OptionalText(function, 2, "model");
        var options = RecommendOptions.Parse(function, args.OptionalText(function, 3, "options"));
        if (user is null && options.Sequence is null) throw Errors.UserOrSequence(function);
        return Serving.Recommend(session, function, user, k, model, options);
    }

    /// <summary><c>recommend(user, k[, model[, options]])</c>: a JSON array of item ids.</summary>
    public static object? RecommendScalar(Session session, SqlArgs args) => JsonIds(Recommend(session, args), static r => r.Item);

    /// <summary><c>SELECT * FROM recommend(user, k[, model[, options]])</c>.</summary>
    public static IEnumerator<object?[]> RecommendRows(Session session, SqlArgs args) =>
        Recommend(session, args).Select(r => new object?[] { (long)r.Rank, r.Item.ToValue(), r.Score, r.Source }).GetEnumerator();

    /// <summary>
    /// <c>SELECT * FROM rec_score(model, users, k[, options])</c>: every user of the query (of one
    /// shard), ranked with the version pinned when the statement starts.
    /// </summary>
    public static IEnumerator<object?[]> ScoreRows(Session session, SqlArgs args)
    {
        const string function = "rec_score";
        var model = args.OptionalText(function, 0, "model");
        var users = args.Text(function, 1, "users", "TEXT holding a SELECT statement", "pass a SELECT returning the user ids, e.g. 'SELECT id FROM users'");
        var k = (int)args.Integer(function, 2, "k", 1, Errors.MaxK, "pass how many items to return per user");
        var options = ScoreOptions.Parse(function, args.OptionalText(function, 3, "options"));
        return BatchScoring.Start(session, function, model, users, k, options);
    }

    /// <summary><c>rec_train(name, options)</c>.</summary>
    public static object? Train(Session session, SqlArgs args)
    {
        const string function = "rec_train";
        var name = args.ModelName(function, 0);
        var options = args.Text(function, 1, "options", "TEXT holding a JSON object",
            "pass json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM ...')");
        return Training.Train(session, name, options);
    }

    /// <summary><c>rec_drop(name)</c>: a model, or a vector collection with its vec0 tables.</summary>
    public static object? Drop(Session session, SqlArgs args)
    {
        const string function = "rec_drop";
        return Training.Drop(session, function, args.ModelName(function, 0));
    }

    /// <summary><c>rec_evaluate(model, options)</c>.</summary>
    public static object? Evaluate(Session session, SqlArgs args)
    {
        const string function = Evaluation.Function;
        var model = args.OptionalText(function, 0, "model");
        var options = args.Text(function, 1, "options", "TEXT holding a JSON object",
            "pass json_object('test', 'SELECT user_id, item_id FROM held_out') or json_object('split', 'random')");
        return Evaluation.Evaluate(session, model, options);
    }
}
