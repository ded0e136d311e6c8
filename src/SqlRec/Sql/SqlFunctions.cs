using System.Text;
using SqlRec.Embeddings;
using SqlRec.Evaluation;
using SqlRec.Models;
using SqlRec.Serving;
using SqlRec.Store;
using SqlRec.Vectors;

namespace SqlRec.Sql;

/// <summary>
/// The registration table: every SQL function SqlRec adds to a connection, with its arity and
/// flags. <c>UseSqlRec()</c> applies it in one loop; <c>sql/functions.md</c> documents each row and a
/// test checks the two agree.
/// </summary>
internal static class SqlFunctions
{
    /// <summary>SqlRec's version, as <c>rec_version()</c> reports it.</summary>
    public static string Version => typeof(SqlFunctions).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Scalar functions.</summary>
    public static readonly ScalarFunction[] Scalars =
    [
        new("recommend", 2, FunctionFlags.DirectOnly, RecommendScalar),
        new("recommend", 3, FunctionFlags.DirectOnly, RecommendScalar),
        new("recommend", 4, FunctionFlags.DirectOnly, RecommendScalar),
        new("rec_train", 2, FunctionFlags.DirectOnly, Train),
        new("rec_drop", 1, FunctionFlags.DirectOnly, Drop),
        new("rec_evaluate", 2, FunctionFlags.DirectOnly, Evaluate),
        new("rec_version", 0, FunctionFlags.Deterministic | FunctionFlags.Innocuous, (_, _) => Version),
        // ---- text embeddings (issue 5) ----
        // rec_embed is DIRECTONLY although it writes nothing: it runs a model named by a database row
        // (a file path), so a hostile schema must not run it from a view or trigger; and it is not
        // DETERMINISTIC because re-registering an embedder changes its vectors, which would corrupt
        // an index on an expression or a generated column built from it.
        new("rec_register_embedder", 2, FunctionFlags.DirectOnly, EmbedFunctions.Register),
        new("rec_drop_embedder", 1, FunctionFlags.DirectOnly, EmbedFunctions.Drop),
        new("rec_embed", 2, FunctionFlags.DirectOnly, EmbedFunctions.Embed),
        // ---- vector search ----
        new("similar_items", 2, FunctionFlags.DirectOnly, VectorFunctions.SimilarItemsScalar),
        new("similar_items", 3, FunctionFlags.DirectOnly, VectorFunctions.SimilarItemsScalar),
        new("similar_items", 4, FunctionFlags.DirectOnly, VectorFunctions.SimilarItemsScalar),
        new("similar_users", 2, FunctionFlags.DirectOnly, VectorFunctions.SimilarUsersScalar),
        new("similar_users", 3, FunctionFlags.DirectOnly, VectorFunctions.SimilarUsersScalar),
        new("similar_users", 4, FunctionFlags.DirectOnly, VectorFunctions.SimilarUsersScalar),
        new("rec_search", 3, FunctionFlags.DirectOnly, VectorFunctions.SearchScalar),
        new("rec_search", 4, FunctionFlags.DirectOnly, VectorFunctions.SearchScalar),
        new("rec_publish", 1, FunctionFlags.DirectOnly, VectorFunctions.Publish),
        new("rec_publish", 2, FunctionFlags.DirectOnly, VectorFunctions.Publish),
        new("rec_unpublish", 1, FunctionFlags.DirectOnly, VectorFunctions.Unpublish),
    ];

    /// <summary>Table-valued functions (eponymous virtual tables).</summary>
    public static readonly TableFunction[] Tables =
    [
        new RecommendTable(), new EmbedFunctions.EmbedEachTable(),
        new VectorFunctions.SimilarItemsTable(), new VectorFunctions.SimilarUsersTable(), new VectorFunctions.SearchTable(),
    ];

    // ---- recommend -------------------------------------------------------------------------

    private const string RecommendName = "recommend";

    /// <summary>Reads (user, k[, model[, options]]) and runs the recommendation.</summary>
    internal static List<Recommendation> RunRecommend(SqlRecSession session, SqlArgs args)
    {
        var user = args.Id(RecommendName, 0, "user", "pass the user's id (unknown users get the popular items)");
        var k = (int)args.Integer(RecommendName, 1, "k", 1, Errors.MaxK, "pass how many items to return");
        var model = args.OptionalText(RecommendName, 2, "model");
        var options = RecommendOptions.Parse(RecommendName, args.OptionalText(RecommendName, 3, "options"));
        var store = new ModelStore(session.Db);
        var version = store.Resolve(RecommendName, model);
        var loaded = ModelCache.Get(store, version);
        return Recommender.Recommend(loaded, user, k, options, session.Db);
    }

    private static object? RecommendScalar(SqlRecSession session, SqlArgs args)
    {
        var rows = RunRecommend(session, args);
        var json = new StringBuilder(rows.Count * 8 + 2).Append('[');
        for (var i = 0; i < rows.Count; i++)
        {
            if (i > 0) json.Append(',');
            json.Append(rows[i].Item.ToJson());
        }
        return json.Append(']').ToString();
    }

    private sealed class RecommendTable : TableFunction
    {
        public override string Name => RecommendName;
        public override IReadOnlyList<string> Columns { get; } = ["rank INTEGER", "item_id", "score REAL", "source TEXT"];
        public override IReadOnlyList<string> Parameters { get; } = ["user", "k", "model", "options"];
        public override int RequiredParameters => 2;
        public override string Usage => "SELECT * FROM recommend(user, k[, model[, options]])";
        public override FunctionFlags Flags => FunctionFlags.DirectOnly;

        public override IReadOnlyList<object?[]> Run(SqlRecSession session, SqlArgs args) =>
            RunRecommend(session, args).Select(r => new object?[] { (long)r.Rank, r.Item.ToValue(), r.Score, r.Source }).ToList();
    }

    // ---- model lifecycle -------------------------------------------------------------------

    private static string ModelName(string function, SqlArgs args)
    {
        var value = args.Value(0);
        if (value is string { Length: > 0 and <= Errors.MaxModelNameLength } name && name.Trim().Length > 0) return name;
        throw Errors.ModelNameInvalid(function, value);
    }

    private static object? Train(SqlRecSession session, SqlArgs args)
    {
        const string function = "rec_train";
        var name = ModelName(function, args);
        var options = args.Value(1) switch
        {
            null => throw Errors.ArgumentNull(function, "options", "pass json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM ...')"),
            string text => text,
            var other => throw Errors.ArgumentType(function, "options", "TEXT holding a JSON object", other),
        };
        return Trainer.Train(session, name, options);
    }

    private static object? Drop(SqlRecSession session, SqlArgs args)
    {
        const string function = "rec_drop";
        var name = ModelName(function, args);
        // A vector collection (not a model of that name) is dropped with its vec0 tables.
        if (VectorFunctions.DropCollection(session.Db, name)) return 1L;
        return new ModelStore(session.Db).Drop(function, name);
    }

    // ---- evaluation ------------------------------------------------------------------------

    private static object? Evaluate(SqlRecSession session, SqlArgs args)
    {
        const string function = Evaluator.Function;
        var model = args.OptionalText(function, 0, "model");
        var options = args.Value(1) switch
        {
            null => throw Errors.ArgumentNull(function, "options", "pass json_object('test', 'SELECT user_id, item_id FROM held_out') or json_object('split', 'random')"),
            string text => text,
            var other => throw Errors.ArgumentType(function, "options", "TEXT holding a JSON object", other),
        };
        return Evaluator.Evaluate(session, model, options);
    }
}
