using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using SqlRec.Embeddings;
using SqlRec.Store;
using SqlRec.Vectors;

namespace SqlRec.Operations;

/// <summary>
/// <c>rec_publish</c> and <c>rec_unpublish</c>: vector collections made from a SELECT of vectors or
/// of texts, and the sqlite-vec <c>vec0</c> tables written from a model's or a collection's
/// vectors. Everything is read and checked before the one savepoint that writes.
/// </summary>
internal static class Publishing
{
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
    public static string Publish(Session session, string function, string name, PublishOptions options)
    {
        var db = session.Db;
        var clock = Stopwatch.StartNew();
        var summary = new JsonObject();
        var tables = new JsonArray();
        if (options.MakesCollection)
        {
            if (session.Store.HasModel(name)) throw Errors.CollectionNameIsModel(function, name);
            // The embedder is resolved before the source runs: a misspelt name fails at once.
            var embedder = options.Embedder is { } embedderName ? Embedders.Resolve(session, function, embedderName) : null;
            string sql;
            (IdIndex Ids, float[] Data, int Dimensions) read;
            if (options is { Text: { } text, Embedder: { } textEmbedder })
            {
                read = ReadTexts(session, function, text, textEmbedder, embedder!);
                sql = TextSource(textEmbedder, text);
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
                session.Store.EnsureSchema();
                var info = Collections.Save(db, name, sql, metric, ids, data, dimensions, options.Embedder);
                var set = new VectorSet(info.Label, "item", ids, dimensions, data, metric);
                var targets = Vec0Tables.Of(db, name, "collection").Select(p => (p.Table, p.Metric)).ToList();
                if (options.Table is { } table && targets.All(t => t.Table != table + "_items")) targets.Add((table + "_items", metric));
                foreach (var (target, targetMetric) in targets)
                {
                    Vec0Tables.Write(db, function, target, name, "collection", set, targetMetric, info.Uid);
                    tables.Add((JsonNode)target);
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
            var source = VectorSources.Resolve(session, function, name);
            var table = options.Table ?? name;
            if (!Vec0Tables.IsValidName(table))
                throw Errors.OptionRange(function, "table", Vec0Tables.NameRule, $"none, and the default, the name \"{Errors.Shorten(name, 60)}\", is not one");
            var items = source.Items(session, function);
            var users = source.TryUsers(session, function);
            var metric = options.Metric ?? (source.IsModel ? VectorMetric.Dot : items.DefaultMetric);
            var ownerType = source.IsModel ? "model" : "collection";
            db.InSavepoint("sqlrec_vec_publish", () =>
            {
                session.Store.EnsureSchema();
                Vec0Tables.Write(db, function, table + "_items", name, ownerType, items, metric, source.Uid);
                tables.Add((JsonNode)(table + "_items"));
                if (users is not null)
                {
                    Vec0Tables.Write(db, function, table + "_users", name, ownerType, users, metric, source.Uid);
                    tables.Add((JsonNode)(table + "_users"));
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
    public static long Unpublish(Session session, string function, string name)
    {
        var db = session.Db;
        var ownerType = session.Store.HasModel(name) ? "model" : Collections.Find(db, name) is not null ? "collection"
            : throw Errors.UnknownVectorSource(function, name, session.Store.ServingModelNames(), Collections.Names(db));
        return (long)db.InSavepoint("sqlrec_vec_unpublish", () => Vec0Tables.Drop(db, function, name, ownerType));
    }

    /// <summary>Deletes collection <paramref name="name"/> and its vec0 tables (rec_drop); false when it is not a collection.</summary>
    public static bool DropCollection(Session session, string name)
    {
        var db = session.Db;
        if (session.Store.HasModel(name) || Collections.Find(db, name) is null) return false;
        db.InSavepoint("sqlrec_vec_drop", () =>
        {
            Vec0Tables.Drop(db, "rec_drop", name, "collection");
            return Collections.Drop(db, name);
        });
        return true;
    }

    /// <summary>
    /// Runs a 'text' query, checked first (one read-only SELECT of 2 columns), and embeds every
    /// row with <paramref name="embedder"/>, batched as <c>rec_embed_each</c> does: ids INTEGER or
    /// TEXT and distinct, texts non-empty TEXT (a NULL would leave an id without a vector).
    /// Returns the vectors sorted by id.
    /// </summary>
    private static (IdIndex Ids, float[] Data, int Dimensions) ReadTexts(Session session, string function, string sql, string embedderName, Embedder embedder)
    {
        var statement = SourceReader.PrepareQuery(session.Db, sql, function, QueryRole.Text);
        if (statement.ColumnCount != 2)
        {
            var columns = statement.ColumnCount;
            statement.Dispose();
            throw Errors.QueryColumns(function, QueryRole.Text, columns);
        }
        var errors = new TextRowErrors(
            message => Errors.QueryFailed(function, QueryRole.Text, message),
            (row, got) => Errors.QueryBadId(function, QueryRole.Text, "id", row, got),
            (row, id, got) => Errors.TextSourceBadText(function, row, id, got),
            (row, id, got) => Errors.TextSourceBadText(function, row, id, got),
            (row, id, got) => Errors.TextSourceBadText(function, row, id, got));
        var rows = new List<(ExternalId Id, float[] Vector)>();
        var firstRow = new Dictionary<ExternalId, long>();
        using (var embedding = new BulkEmbedding(session, function, embedderName, embedder, statement, errors))
        {
            while (embedding.MoveNext())
            {
                var id = ExternalId.FromValue(embedding.Current[0])!.Value;
                if (!firstRow.TryAdd(id, embedding.CurrentRow)) throw Errors.TextSourceDuplicateId(function, id.ToValue(), firstRow[id], embedding.CurrentRow);
                rows.Add((id, MemoryMarshal.Cast<byte, float>((byte[])embedding.Current[1]!).ToArray()));
            }
        }
        if (rows.Count == 0) throw Errors.QueryEmpty(function, QueryRole.Text);
        return Collections.Sorted(rows, embedder.Dimension);
    }

    /// <summary>A collection's source statement for texts embedded by <paramref name="embedder"/>: what <see cref="ReadTexts"/> computes, as a vector query.</summary>
    private static string TextSource(string embedder, string textQuery) =>
        $"SELECT id, embedding FROM rec_embed_each({Literal(embedder)}, {Literal(textQuery)})";

    private static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";
}
