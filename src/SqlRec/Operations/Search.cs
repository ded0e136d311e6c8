using SqlRec.Store;
using SqlRec.Vectors;

namespace SqlRec.Operations;

/// <summary>One row of a vector function's result.</summary>
internal sealed record Neighbour(int Rank, ExternalId Id, double Score, double Distance);

/// <summary>
/// <c>similar_items</c>, <c>similar_users</c> and <c>rec_search</c>: resolve what to search, build the
/// filter, and hand the numeric work to <see cref="VectorSearch"/>.
/// </summary>
internal static class Search
{
    /// <summary>
    /// The nearest neighbours of <paramref name="id"/>'s own vector in <paramref name="space"/>
    /// (the id itself left out). Model vectors compare by cosine unless 'metric' says otherwise
    /// (inner products between item vectors favour long, popular ones); a collection uses its metric.
    /// </summary>
    public static List<Neighbour> Similar(Session session, string function, string space, ExternalId id, int k, string? name, SearchOptions options)
    {
        var source = VectorSources.Resolve(session, function, name);
        var set = space == "item" ? source.Items(session, function) : source.Users(session, function);
        if (!set.Ids.TryGetIndex(id, out var self)) throw Errors.UnknownVectorId(function, space, id.ToValue(), set.Source);
        var filter = Candidates.Read(session.Db, function, options.Candidates, options.Exclude, set.Ids).Excluding([self]);
        var metric = options.Metric ?? (source.IsModel ? VectorMetric.Cosine : set.DefaultMetric);
        return Rows(set, VectorSearch.Search(set, new SearchRequest(set.Row(self).ToArray(), k, metric, options.Quantize, options.Rescore), filter));
    }

    /// <summary>
    /// The items nearest to <paramref name="query"/> (a vector BLOB, or TEXT embedded with the
    /// collection's embedder). A model's item vectors compare by inner product (a user-like query
    /// gets the model's own ranking); a collection uses its metric.
    /// </summary>
    public static List<Neighbour> Nearest(Session session, string function, string? name, object? query, int k, SearchOptions options)
    {
        var source = VectorSources.Resolve(session, function, name);
        var vector = QueryVector(session, function, query, source);
        var set = source.Items(session, function);
        if (vector.Length != set.Dimensions) throw Errors.DimensionMismatch(function, "'query'", vector.Length, "item", set.Source, set.Dimensions);
        var filter = Candidates.Read(session.Db, function, options.Candidates, options.Exclude, set.Ids);
        var metric = options.Metric ?? set.DefaultMetric;
        return Rows(set, VectorSearch.Search(set, new SearchRequest(vector, k, metric, options.Quantize, options.Rescore), filter));
    }

    private static List<Neighbour> Rows(VectorSet set, SearchHit[] hits)
    {
        var rows = new List<Neighbour>(hits.Length);
        for (var i = 0; i < hits.Length; i++) rows.Add(new Neighbour(i + 1, set.Ids.Ids[hits[i].Index], hits[i].Score, hits[i].Distance));
        return rows;
    }

    /// <summary>
    /// Turns a <c>query</c> argument into a vector: a BLOB is decoded strictly; TEXT is embedded on
    /// the fly with the embedder recorded on the collection (rec_publish's option 'embedder'), the
    /// one that made its vectors, so the query lands among vectors of its own kind.
    /// </summary>
    private static float[] QueryVector(Session session, string function, object? query, VectorSource source) => query switch
    {
        string text => FromText(session, function, text, source),
        null when source.Collection?.Embedder is { } embedder => throw Errors.ArgumentNull(function, "query",
            $"pass the text to search for ({source.Label} embeds it with embedder '{embedder}') or a float32 vector BLOB"),
        _ => VectorBlob.Decode(function, "'query'", query),
    };

    private static float[] FromText(Session session, string function, string text, VectorSource source)
    {
        if (source.Collection is not { Embedder: { } name } collection) throw Errors.TextQueryNeedsEmbedder(function, source.Label);
        if (string.IsNullOrWhiteSpace(text)) throw Errors.QueryTextEmpty(function);
        if (!Embedders.Exists(session, name)) throw Errors.CollectionEmbedderMissing(function, collection.Label, name, Embedders.Names(session));
        var embedder = Embedders.Resolve(session, function, name);
        if (embedder.Dimension != collection.Dimensions)
            throw Errors.CollectionEmbedderDimensionChanged(function, collection.Label, name, embedder.Dimension, collection.Dimensions);
        var vector = new float[embedder.Dimension];
        embedder.Embed(function, name, [text], vector);
        return vector;
    }
}
