using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using SqlRec.Data;
using SqlRec.Embeddings;
using SqlRec.Sqlite;
using SqlRec.Sql;
using SqlRec.Store;

namespace SqlRec.Vectors;

/// <summary>One row of a vector function's result.</summary>
internal sealed record Neighbour(int Rank, ExternalId Id, double Score, double Distance);

/// <summary>
/// The SQL side of vector search: <c>similar_items</c>, <c>similar_users</c>, <c>rec_search</c>
/// (scalar JSON and table-valued forms), <c>rec_publish</c> and <c>rec_unpublish</c>. Each reads
/// and checks every argument and option, then hands the numeric work to <see cref="VectorSearch"/>
/// or <see cref="Vec0Tables"/>. The registration table (<see cref="SqlFunctions"/>) lists them.
/// </summary>
internal static class VectorFunctions
{
    public const string SimilarItemsName = "similar_items";
    public const string SimilarUsersName = "similar_users";
    public const string SearchName = "rec_search";
    public const string PublishName = "rec_publish";
    public const string UnpublishName = "rec_unpublish";

    // ---- similar_items / similar_users -------------------------------------------------------

    /// <summary>
    /// Reads (id, k[, model[, options]]) and returns the nearest neighbours of the id's own vector
    /// (the id itself left out). Model vectors compare by cosine unless 'metric' says otherwise
    /// (inner products between item vectors favour long, popular ones); a collection uses its metric.
    /// </summary>
    internal static List<Neighbour> RunSimilar(SqlRecSession session, SqlArgs args, string function, string space)
    {
        var id = args.Id(function, 0, space, $"pass the id of the {space} whose neighbours you want");
        var k = (int)args.Integer(function, 1, "k", 1, Errors.MaxK, $"pass how many {space}s to return");
        var name = args.OptionalText(function, 2, "model");
        var options = SearchOptions.Parse(function, args.OptionalText(function, 3, "options"));
        var db = session.Db;
        var source = VectorSources.Resolve(db, function, name);
        var set = space == "item" ? VectorSources.Items(db, function, source) : VectorSources.Users(db, function, source);
        if (!set.Ids.TryGetIndex(id, out var self)) throw Errors.UnknownVectorId(function, space, id.ToValue(), set.Source);
        var filter = ItemFilters.Read(db, function, options.Candidates, options.Exclude, set.Ids).Excluding([self]);
        var metric = options.Metric ?? (source.IsModel ? VectorMetric.Cosine : set.DefaultMetric);
        return Rows(set, VectorSearch.Search(set, new SearchRequest(set.Row(self).ToArray(), k, metric, options.Quantize, options.Rescore), filter));
    }

    private static List<Neighbour> Rows(VectorSet set, SearchHit[] hits)
    {
        var rows = new List<Neighbour>(hits.Length);
        for (var i = 0; i < hits.Length; i++) rows.Add(new Neighbour(i + 1, set.Ids.Ids[hits[i].Index], hits[i].Score, hits[i].Distance));
        return rows;
    }

    private static string Json(List<Neighbour> rows)
    {
        var json = new StringBuilder(rows.Count * 8 + 2).Append('[');
        for (var i = 0; i < rows.Count; i++)
        {
            if (i > 0) json.Append(',');
            json.Append(rows[i].Id.ToJson());
        }
        return json.Append(']').ToString();
    }

    private static IReadOnlyList<object?[]> Table(List<Neighbour> rows) =>
        rows.Select(r => new object?[] { (long)r.Rank, r.Id.ToValue(), r.Score, r.Distance }).ToList();

    /// <summary><c>similar_items(item, k[, model[, options]])</c>, scalar form.</summary>
    public static object? SimilarItemsScalar(SqlRecSession session, SqlArgs args) => Json(RunSimilar(session, args, SimilarItemsName, "item"));

    /// <summary><c>similar_users(user, k[, model[, options]])</c>, scalar form.</summary>
    public static object? SimilarUsersScalar(SqlRecSession session, SqlArgs args) => Json(RunSimilar(session, args, SimilarUsersName, "user"));

    /// <summary><c>SELECT * FROM similar_items(item, k[, model[, options]])</c>.</summary>
    internal sealed class SimilarItemsTable : TableFunction
    {
        public override string Name => SimilarItemsName;
        public override IReadOnlyList<string> Columns { get; } = ["rank INTEGER", "item_id", "score REAL", "distance REAL"];
        public override IReadOnlyList<string> Parameters { get; } = ["item", "k", "model", "options"];
        public override int RequiredParameters => 2;
        public override string Usage => "SELECT * FROM similar_items(item, k[, model[, options]])";
        public override FunctionFlags Flags => FunctionFlags.DirectOnly;
        public override IReadOnlyList<object?[]> Run(SqlRecSession session, SqlArgs args) => Table(RunSimilar(session, args, Name, "item"));
    }

    /// <summary><c>SELECT * FROM similar_users(user, k[, model[, options]])</c>.</summary>
    internal sealed class SimilarUsersTable : TableFunction
    {
        public override string Name => SimilarUsersName;
        public override IReadOnlyList<string> Columns { get; } = ["rank INTEGER", "user_id", "score REAL", "distance REAL"];
        public override IReadOnlyList<string> Parameters { get; } = ["user", "k", "model", "options"];
        public override int RequiredParameters => 2;
        public override string Usage => "SELECT * FROM similar_users(user, k[, model[, options]])";
        public override FunctionFlags Flags => FunctionFlags.DirectOnly;
        public override IReadOnlyList<object?[]> Run(SqlRecSession session, SqlArgs args) => Table(RunSimilar(session, args, Name, "user"));
    }

    // ---- rec_search ------------------------------------------------------------------------

    /// <summary>
    /// Reads (model, query, k[, options]) and returns the items nearest to the query vector. A
    /// model's item vectors compare by inner product (a user-like query gets the model's own
    /// ranking); a collection uses its metric.
    /// </summary>
    internal static List<Neighbour> RunSearch(SqlRecSession session, SqlArgs args)
    {
        const string function = SearchName;
        var name = args.OptionalText(function, 0, "model");
        var query = args.Value(1);
        var k = (int)args.Integer(function, 2, "k", 1, Errors.MaxK, "pass how many items to return");
        var options = SearchOptions.Parse(function, args.OptionalText(function, 3, "options"));
        var db = session.Db;
        var source = VectorSources.Resolve(db, function, name);
        var vector = QueryVectors.Read(session, function, query, source);
        var set = VectorSources.Items(db, function, source);
        if (vector.Length != set.Dimensions) throw Errors.DimensionMismatch(function, "'query'", vector.Length, "item", set.Source, set.Dimensions);
        var filter = ItemFilters.Read(db, function, options.Candidates, options.Exclude, set.Ids);
        var metric = options.Metric ?? set.DefaultMetric;
        return Rows(set, VectorSearch.Search(set, new SearchRequest(vector, k, metric, options.Quantize, options.Rescore), filter));
    }

    /// <summary><c>rec_search(model, query, k[, options])</c>, scalar form.</summary>
    public static object? SearchScalar(SqlRecSession session, SqlArgs args) => Json(RunSearch(session, args));

    /// <summary><c>SELECT * FROM rec_search(model, query, k[, options])</c>.</summary>
    internal sealed class SearchTable : TableFunction
    {
        public override string Name => SearchName;
        public override IReadOnlyList<string> Columns { get; } = ["rank INTEGER", "item_id", "score REAL", "distance REAL"];
        public override IReadOnlyList<string> Parameters { get; } = ["model", "query", "k", "options"];
        public override int RequiredParameters => 3;
        public override string Usage => "SELECT * FROM rec_search(model, query, k[, options])";
        public override FunctionFlags Flags => FunctionFlags.DirectOnly;
        public override IReadOnlyList<object?[]> Run(SqlRecSession session, SqlArgs args) => Table(RunSearch(session, args));
    }

    // ---- rec_publish / rec_unpublish -------------------------------------------------------

    private static string Name(string function, SqlArgs args)
    {
        var value = args.Value(0);
        if (value is string { Length: > 0 and <= Errors.MaxModelNameLength } name && name.Trim().Length > 0) return name;
        throw Errors.ModelNameInvalid(function, value);
    }

    private static bool IsModel(SqliteDb db, string name) =>
        new ModelStore(db).Exists() && db.Scalar("SELECT 1 FROM rec_models WHERE name = ?1", name) is not null;

    /// <summary>
    /// <c>rec_publish(name[, options])</c>. With option 'source' (a SELECT of vectors) or 'text' (a
    /// SELECT of texts, embedded with option 'embedder'): makes (or replaces) collection
    /// <c>name</c>, recording the embedder TEXT queries are embedded with, rewriting the vec0
    /// tables already published for it and adding <c>&lt;table&gt;_items</c> when 'table' is given.
    /// Without: writes the vectors of model (or collection) <c>name</c> to vec0 tables
    /// <c>&lt;table&gt;_items</c> (and, for a model, <c>&lt;table&gt;_users</c>), 'table' defaulting
    /// to the name; later trainings of the model rewrite them. Everything is read and checked
    /// before the one savepoint that writes.
    /// </summary>
    public static object? Publish(SqlRecSession session, SqlArgs args)
    {
        const string function = PublishName;
        var name = Name(function, args);
        var options = PublishOptions.Parse(function, args.OptionalText(function, 1, "options"));
        var db = session.Db;
        var clock = Stopwatch.StartNew();
        var summary = new JsonObject();
        var tables = new JsonArray();
        if (options.MakesCollection)
        {
            if (IsModel(db, name)) throw Errors.CollectionNameIsModel(function, name);
            // The embedder is resolved before the source runs: a misspelt name fails at once.
            var embedder = options.Embedder is { } embedderName ? EmbedderRegistry.Resolve(session, function, embedderName) : null;
            string sql;
            (IdIndex Ids, float[] Data, int Dimensions) read;
            if (options is { Text: { } text, Embedder: { } textEmbedder })
            {
                read = Collections.ReadTexts(session, function, text, textEmbedder, embedder!);
                sql = Collections.TextSource(textEmbedder, text);
            }
            else
            {
                sql = options.Source!;
                read = Collections.ReadSource(db, function, sql);
                if (embedder is not null && embedder.Dimension != read.Dimensions)
                    throw Errors.PublishEmbedderDimension(function, read.Dimensions, options.Embedder!, embedder.Dimension);
            }
            var (ids, data, dimensions) = read;
            var metric = options.Metric ?? VectorMetric.Cosine;
            db.InSavepoint("sqlrec_vec_publish", () =>
            {
                new ModelStore(db).EnsureSchema();
                var info = Collections.Save(db, name, sql, metric, ids, data, dimensions, options.Embedder);
                var set = new VectorSet(info.Label, "item", ids, dimensions, data, metric);
                var targets = Vec0Tables.Of(db, name, "collection").Select(p => (p.Table, p.Metric)).ToList();
                if (options.Table is { } table && targets.All(t => t.Table != table + "_items")) targets.Add((table + "_items", metric));
                foreach (var (target, targetMetric) in targets)
                {
                    Vec0Tables.Write(db, function, target, name, "collection", set, targetMetric, info.Uid);
                    tables.Add(target);
                }
                return 0;
            });
            summary["collection"] = name;
            summary["items"] = ids.Count;
            summary["dim"] = dimensions;
            summary["metric"] = VectorMetrics.Name(metric);
            if (options.Embedder is { } recorded) summary["embedder"] = recorded;
        }
        else
        {
            var source = VectorSources.Resolve(db, function, name);
            var table = options.Table ?? name;
            if (!Vec0Tables.IsValidName(table))
                throw Errors.OptionRange(function, "table", Vec0Tables.NameRule, $"none, and the default, the name \"{Errors.Shorten(name, 60)}\", is not one");
            var items = VectorSources.Items(db, function, source);
            var users = source.IsModel ? VectorSources.TryUsers(db, source) : null;
            var metric = options.Metric ?? (source.IsModel ? VectorMetric.Dot : items.DefaultMetric);
            var ownerType = source.IsModel ? "model" : "collection";
            db.InSavepoint("sqlrec_vec_publish", () =>
            {
                new ModelStore(db).EnsureSchema();
                Vec0Tables.Write(db, function, table + "_items", name, ownerType, items, metric, source.Uid);
                tables.Add(table + "_items");
                if (users is not null)
                {
                    Vec0Tables.Write(db, function, table + "_users", name, ownerType, users, metric, source.Uid);
                    tables.Add(table + "_users");
                }
                return 0;
            });
            summary[ownerType] = name;
            if (source.Model is { } version) summary["version"] = version.Version;
            summary["items"] = items.Count;
            if (users is not null) summary["users"] = users.Count;
            summary["dim"] = items.Dimensions;
            summary["metric"] = VectorMetrics.Name(metric);
        }
        summary["tables"] = tables;
        summary["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3);
        return summary.ToJsonString();
    }

    /// <summary><c>rec_unpublish(name)</c>: drops the vec0 tables published for a model or collection; returns how many.</summary>
    public static object? Unpublish(SqlRecSession session, SqlArgs args)
    {
        const string function = UnpublishName;
        var name = Name(function, args);
        var db = session.Db;
        var ownerType = IsModel(db, name) ? "model" : Collections.Find(db, name) is not null ? "collection"
            : throw Errors.UnknownVectorSource(function, name, new ModelStore(db).ServingModelNames(), Collections.Names(db));
        return (long)db.InSavepoint("sqlrec_vec_unpublish", () => Vec0Tables.Drop(db, function, name, ownerType));
    }

    /// <summary>Deletes collection <paramref name="name"/> and its vec0 tables (rec_drop); false when it is not a collection.</summary>
    public static bool DropCollection(SqliteDb db, string name)
    {
        if (IsModel(db, name) || Collections.Find(db, name) is null) return false;
        db.InSavepoint("sqlrec_vec_drop", () =>
        {
            Vec0Tables.Drop(db, "rec_drop", name, "collection");
            return Collections.Drop(db, name);
        });
        return true;
    }
}

/// <summary>
/// Turns a <c>query</c> argument into a vector: a BLOB is decoded strictly; TEXT is embedded on
/// the fly with the embedder recorded on the collection (rec_publish's option 'embedder'), the
/// one that made its vectors, so the query lands among vectors of its own kind.
/// </summary>
internal static class QueryVectors
{
    /// <summary>The query vector for a search of <paramref name="source"/>.</summary>
    public static float[] Read(SqlRecSession session, string function, object? query, VectorSource source) => query switch
    {
        string text => FromText(session, function, text, source),
        null when source.Collection?.Embedder is { } embedder => throw Errors.ArgumentNull(function, "query",
            $"pass the text to search for ({source.Label} embeds it with embedder '{embedder}') or a float32 vector BLOB"),
        _ => VectorBlob.Decode(function, "'query'", query),
    };

    private static float[] FromText(SqlRecSession session, string function, string text, VectorSource source)
    {
        if (source.Collection is not { Embedder: { } name } collection) throw Errors.TextQueryNeedsEmbedder(function, source.Label);
        if (string.IsNullOrWhiteSpace(text)) throw Errors.QueryTextEmpty(function);
        Embedder embedder;
        try
        {
            embedder = EmbedderRegistry.Resolve(session, function, name);
        }
        catch (SqlRecException) when (name != HashEmbedder.BuiltInName && EmbedderRegistry.Find(session.Db, name) is null)
        {
            throw Errors.CollectionEmbedderMissing(function, collection.Label, name, EmbedderRegistry.Names(session.Db));
        }
        if (embedder.Dimension != collection.Dimensions)
            throw Errors.CollectionEmbedderDimensionChanged(function, collection.Label, name, embedder.Dimension, collection.Dimensions);
        var vector = new float[embedder.Dimension];
        embedder.Embed(function, name, [text], vector);
        return vector;
    }
}
