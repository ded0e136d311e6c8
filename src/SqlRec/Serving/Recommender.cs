using SqlRec.Sqlite;
using System.Collections.Concurrent;
using SqlRec.Compute;
using SqlRec.Data;
using SqlRec.Models;
using SqlRec.Store;
using SqlRec.Vectors;

namespace SqlRec.Serving;

/// <summary>One recommended item.</summary>
/// <param name="Rank">1-based position.</param>
/// <param name="Item">The application's item id.</param>
/// <param name="Score">The model's score (higher is better).</param>
/// <param name="Source">What produced the row: the model kind, or <c>popular</c> for the cold-start fallback.</param>
internal sealed record Recommendation(int Rank, ExternalId Item, double Score, string Source);

/// <summary>A model version loaded for serving: id maps, seen items, popularity and the kind's scorer.</summary>
internal sealed class LoadedModel
{
    public required ServingVersion Version { get; init; }
    public required IdIndex Users { get; init; }
    public required IdIndex Items { get; init; }
    public required int[] SeenOffsets { get; init; }
    public required int[] SeenItems { get; init; }
    public required float[] Popularity { get; init; }
    public required int[] PopularityOrder { get; init; }
    public IUserScorer? Scorer { get; init; }

    /// <summary>
    /// Per item, true when a content model knows it only from its features (no training
    /// interaction); null for other models. recommend() labels such rows <see cref="Recommender.ContentSource"/>.
    /// </summary>
    public bool[]? ContentOnly { get; init; }

    /// <summary>The <c>source</c> label of a recommended item: <see cref="Recommender.ContentSource"/> for content-only items, else the model kind.</summary>
    public string SourceOf(int item) => ContentOnly is { } content && content[item] ? Recommender.ContentSource : Version.Kind;

    /// <summary>
    /// For models that score a user's current rows (graph_filter with <c>live</c>): the training
    /// source wrapped to read one user's rows, or null when the model serves its training snapshot.
    /// </summary>
    public LiveSource? Live { get; init; }

    public ReadOnlySpan<int> SeenBy(int user) => SeenItems.AsSpan(SeenOffsets[user], SeenOffsets[user + 1] - SeenOffsets[user]);

    public static LoadedModel Load(ModelStore store, ServingVersion version)
    {
        var (users, items) = store.LoadIdMaps(version);
        var model = FromArrays(version, users, items, store.LoadArrays(version));
        var live = LiveSource.For(store, version, model.Scorer);
        return live is null ? model : model.WithLive(live);
    }

    private LoadedModel WithLive(LiveSource live) => new()
    {
        Version = Version, Users = Users, Items = Items, SeenOffsets = SeenOffsets, SeenItems = SeenItems,
        Popularity = Popularity, PopularityOrder = PopularityOrder, Scorer = Scorer, ContentOnly = ContentOnly, Live = live,
    };

    /// <summary>
    /// Builds a serving model from a version's arrays and id maps, wherever they come from: the
    /// store (<see cref="Load"/>) or a training in memory (<c>rec_evaluate</c>'s splits).
    /// </summary>
    public static LoadedModel FromArrays(ServingVersion version, IdIndex users, IdIndex items, IReadOnlyDictionary<string, Array> arrays)
    {
        var popularity = (float[])arrays[ArrayNames.Popularity];
        return new LoadedModel
        {
            Version = version,
            Users = users,
            Items = items,
            SeenOffsets = (int[])arrays[ArrayNames.SeenOffsets],
            SeenItems = (int[])arrays[ArrayNames.SeenItems],
            Popularity = popularity,
            PopularityOrder = TopK.Order(popularity),
            Scorer = ModelKinds.Get("recommend", version.Kind).LoadScorer(arrays, users.Count, items.Count),
            ContentOnly = arrays.TryGetValue(ArrayNames.ContentItems, out var content) ? Flags((int[])content, items.Count) : null,
        };
    }

    private static bool[] Flags(int[] indices, int count)
    {
        var flags = new bool[count];
        foreach (var index in indices) flags[index] = true;
        return flags;
    }

    /// <summary>
    /// The one ranking path (recommend() and rec_evaluate both use it): writes the indices of the
    /// <c>top.Length</c> best items for user index <paramref name="user"/> into <paramref name="top"/>,
    /// best first, leaving out <paramref name="excludedSorted"/>, and returns how many were written
    /// (fewer when fewer candidates exist). A model with a scorer writes every item's score into
    /// <paramref name="scores"/> (at least <c>Items.Count</c> long) and selects exactly with
    /// <see cref="TopK.Select"/>; the popular kind walks <see cref="PopularityOrder"/> and leaves
    /// <paramref name="scores"/> alone (it may be empty). Read the score of a returned item with
    /// <see cref="ScoreOf"/>. Safe to call from many threads at once with separate buffers: the
    /// model is immutable, and scorers must not keep state between calls.
    /// </summary>
    public int TopItems(int user, ReadOnlySpan<int> excludedSorted, Span<int> top, Span<float> scores)
    {
        if (Scorer is null) return TopByPopularity(excludedSorted, top);
        var all = scores[..Items.Count];
        Scorer.Score(user, all);
        return TopK.Select(all, top.Length, excludedSorted, top);
    }

    /// <summary>
    /// <see cref="TopItems"/> for a block of users at once, each leaving out its own seen items:
    /// user <c>b</c>'s best <paramref name="k"/> items go to <c>top[b * k ..]</c> and their number to
    /// <c>counts[b]</c>. A scorer that implements <see cref="IBatchScorer"/> scores the whole block in
    /// one call (into <paramref name="scores"/>, <c>users.Length * Items.Count</c> long); others go
    /// user by user (<paramref name="scores"/> at least <c>Items.Count</c> long, or empty for the popular kind).
    /// The selection is <see cref="TopK.Select"/> either way, so the ranking is the one recommend() gives.
    /// </summary>
    public void TopUnseenItems(ReadOnlySpan<int> users, int k, Span<int> top, Span<int> counts, Span<float> scores)
    {
        if (Scorer is IBatchScorer batch && users.Length > 1)
        {
            var items = Items.Count;
            var block = scores[..(users.Length * items)];
            batch.ScoreBatch(users, block);
            for (var b = 0; b < users.Length; b++)
                counts[b] = TopK.Select(block.Slice(b * items, items), k, SeenBy(users[b]), top.Slice(b * k, k));
            return;
        }
        for (var b = 0; b < users.Length; b++) counts[b] = TopItems(users[b], SeenBy(users[b]), top.Slice(b * k, k), scores);
    }

    /// <summary>The best items by popularity alone, leaving out <paramref name="excludedSorted"/>: the popular kind's ranking and every kind's cold start.</summary>
    public int TopByPopularity(ReadOnlySpan<int> excludedSorted, Span<int> top)
    {
        var count = 0;
        foreach (var item in PopularityOrder)
        {
            if (count == top.Length) break;
            if (excludedSorted.Length > 0 && excludedSorted.BinarySearch(item) >= 0) continue;
            top[count++] = item;
        }
        return count;
    }

    /// <summary>
    /// <see cref="TopItems(int, ReadOnlySpan{int}, Span{int}, Span{float})"/> with a candidate restriction and exclusions (<see cref="ItemFilter"/>,
    /// the user's seen items already merged in): the same scores and order, over the allowed items
    /// only, so the result is short only when fewer allowed items exist.
    /// </summary>
    public int TopAllowedItems(int user, ItemFilter filter, Span<int> top, Span<float> scores)
    {
        if (Scorer is null) return TopAllowedByPopularity(filter, top);
        var all = scores[..Items.Count];
        Scorer.Score(user, all);
        return TopK.SelectAmong(all, filter.Candidates, top.Length, filter.Excluded, top);
    }

    /// <summary><see cref="TopByPopularity"/> over the items a filter allows.</summary>
    public int TopAllowedByPopularity(ItemFilter filter, Span<int> top)
    {
        if (filter.Candidates is null) return TopByPopularity(filter.Excluded, top);
        var count = 0;
        foreach (var item in PopularityOrder)
        {
            if (count == top.Length) break;
            if (filter.Candidates.AsSpan().BinarySearch(item) < 0 || filter.Excluded.AsSpan().BinarySearch(item) >= 0) continue;
            top[count++] = item;
        }
        return count;
    }

    /// <summary>The score of an item returned by <see cref="TopItems"/>, given the buffer that call filled.</summary>
    public float ScoreOf(int item, ReadOnlySpan<float> scores) => Scorer is null ? Popularity[item] : scores[item];
}

/// <summary>
/// Loaded model versions, shared by every connection in the process and keyed by the version's
/// random uid, so a new version is picked up as soon as it is the serving one and a stale entry
/// can never be served for another database.
/// </summary>
internal static class ModelCache
{
    private const int Capacity = 8;
    private static readonly ConcurrentDictionary<string, (LoadedModel Model, long LastUse)> Entries = new();
    private static long _clock;

    public static LoadedModel Get(ModelStore store, ServingVersion version)
    {
        var now = Interlocked.Increment(ref _clock);
        if (Entries.TryGetValue(version.Uid, out var hit))
        {
            Entries[version.Uid] = (hit.Model, now);
            return hit.Model;
        }
        var model = LoadedModel.Load(store, version);
        // A newer version of the same model replaces the old one at once; otherwise evict the least recently used.
        foreach (var (uid, entry) in Entries)
        {
            if (entry.Model.Version.Model == version.Model && entry.Model.Version.Version < version.Version) Entries.TryRemove(uid, out _);
        }
        while (Entries.Count >= Capacity)
        {
            var oldest = Entries.MinBy(e => e.Value.LastUse).Key;
            Entries.TryRemove(oldest, out _);
        }
        Entries[version.Uid] = (model, now);
        return model;
    }

    /// <summary>Forgets every loaded model (tests, and callers that free memory).</summary>
    public static void Clear() => Entries.Clear();
}

/// <summary>Options of one recommendation call.</summary>
/// <param name="ExcludeSeen">Leave out items the user interacted with in the training data.</param>
/// <param name="Candidates">A read-only SELECT returning the item ids that may be recommended; null for all.</param>
/// <param name="Exclude">Item ids never to recommend.</param>
internal sealed record RecommendOptions(bool ExcludeSeen, string? Candidates = null, ExternalId[]? Exclude = null)
{
    public static readonly RecommendOptions Default = new(true);

    public static RecommendOptions Parse(string function, string? json)
    {
        if (json is null) return Default;
        var reader = OptionReader.Parse(function, json);
        var options = new RecommendOptions(reader.Boolean("exclude_seen", true), reader.String("candidates"), reader.IdList("exclude"));
        reader.Finish($"{function}()");
        return options;
    }
}

/// <summary>Turns a user id into a ranked list with a loaded model.</summary>
internal static class Recommender
{
    /// <summary>Source label of cold-start rows.</summary>
    public const string PopularSource = "popular";

    /// <summary>Source label of items a content model knows only from their features (no interactions).</summary>
    public const string ContentSource = "content";

    /// <summary>
    /// The best <paramref name="k"/> items for <paramref name="user"/>. A live model reads the user's
    /// current rows through <paramref name="db"/> and scores them; other models use the training
    /// snapshot. Users with no rows get the popular fallback.
    /// </summary>
    public static List<Recommendation> Recommend(LoadedModel model, ExternalId user, int k, RecommendOptions options, SqliteDb db)
    {
        var top = new int[Math.Min(k, model.Items.Count)];
        // Candidates and exclusions restrict every path below (model, live row, cold start) before the top-k, so results are never short.
        var filter = ItemFilters.Read(db, "recommend", options.Candidates, options.Exclude ?? [], model.Items);
        List<Recommendation> result;
        if (model.Live is { } live)
        {
            var row = live.Read(db, user, model.Items);
            if (row is null || row.Items.Length == 0) return ColdStart(model, top, filter.Excluding(row?.Items ?? []));
            var rowScores = new float[model.Items.Count];
            live.Scorer.ScoreRow(row.Items, row.Weights, rowScores);
            var found = TopK.SelectAmong(rowScores, filter.Candidates, top.Length, filter.Excluding(options.ExcludeSeen ? row.Items : []).Excluded, top);
            result = new List<Recommendation>(found);
            for (var i = 0; i < found; i++)
                result.Add(new Recommendation(i + 1, model.Items.Ids[top[i]], rowScores[top[i]], model.Version.Kind));
            return result;
        }
        if (!model.Users.TryGetIndex(user, out var userIndex)) return ColdStart(model, top, filter);
        var seen = options.ExcludeSeen ? model.SeenBy(userIndex) : ReadOnlySpan<int>.Empty;
        var scores = model.Scorer is null ? [] : new float[model.Items.Count];
        var count = filter.IsEmpty ? model.TopItems(userIndex, seen, top, scores) : model.TopAllowedItems(userIndex, filter.Excluding(seen), top, scores);
        result = new List<Recommendation>(count);
        for (var i = 0; i < count; i++)
            result.Add(new Recommendation(i + 1, model.Items.Ids[top[i]], model.ScoreOf(top[i], scores), model.SourceOf(top[i])));
        return result;
    }

    /// <summary>The cold-start fallback: popularity order, labelled 'popular'.</summary>
    private static List<Recommendation> ColdStart(LoadedModel model, int[] top, ItemFilter filter)
    {
        var count = model.TopAllowedByPopularity(filter, top);
        var result = new List<Recommendation>(count);
        for (var i = 0; i < count; i++)
            result.Add(new Recommendation(i + 1, model.Items.Ids[top[i]], model.Popularity[top[i]], PopularSource));
        return result;
    }
}

/// <summary>How a live model reads a user's current rows: the wrapped source query and its scorer.</summary>
internal sealed class LiveSource
{
    private LiveSource(string query, bool useWeights, IRowScorer scorer, string model)
    {
        Query = query;
        UseWeights = useWeights;
        Scorer = scorer;
        Model = model;
    }

    /// <summary>The wrapped source query (one parameter: the user id).</summary>
    public string Query { get; }

    /// <summary>True when the model weights rows by the source's weight column.</summary>
    public bool UseWeights { get; }

    /// <summary>Scores the row.</summary>
    public IRowScorer Scorer { get; }

    private string Model { get; }

    /// <summary>The live source of a version, or null when the model is not live.</summary>
    public static LiveSource? For(ModelStore store, ServingVersion version, IUserScorer? scorer)
    {
        if (scorer is not IRowScorer rowScorer) return null;
        var options = System.Text.Json.Nodes.JsonNode.Parse(version.Options)?.AsObject();
        if (options?["live"]?.GetValue<bool>() != true || options["source"]?.GetValue<string>() is not { } source) return null;
        var useWeights = options["weighting"]?.GetValue<string>() == "weight";
        return new LiveSource(LiveRows.WrapSource(source, store.SourceColumnCount(source)), useWeights, rowScorer, version.Model);
    }

    /// <summary>The user's current row; null when the user has no rows.</summary>
    public UserRow? Read(SqliteDb db, ExternalId user, IdIndex items)
    {
        try
        {
            return LiveRows.Read(db, Query, user, items, UseWeights);
        }
        catch (SqliteCallException e)
        {
            throw Errors.LiveSourceFailed("recommend", Model, e.Message);
        }
    }
}
