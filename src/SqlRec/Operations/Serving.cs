using SqlRec.Compute;
using SqlRec.Models;
using SqlRec.Sqlite;
using SqlRec.Store;
using SqlRec.Vectors;

namespace SqlRec.Operations;

/// <summary>One recommended item.</summary>
/// <param name="Rank">1-based position.</param>
/// <param name="Item">The application's item id.</param>
/// <param name="Score">The model's score (higher is better).</param>
/// <param name="Source">What produced the row: the model kind, <c>popular</c> for the cold-start fallback, <c>content</c> for an item known only from its features.</param>
internal sealed record Recommendation(int Rank, ExternalId Item, double Score, string Source);

/// <summary>Options of one recommendation call.</summary>
/// <param name="ExcludeSeen">Leave out items the user interacted with in the training data.</param>
/// <param name="Candidates">A read-only SELECT returning the item ids that may be recommended; null for all.</param>
/// <param name="Exclude">Item ids never to recommend.</param>
/// <param name="Sequence">
/// An explicit history, oldest first (an anonymous session): scored instead of the user's data by
/// a model that scores a given history; null to use the user's.
/// </param>
internal sealed record RecommendOptions(bool ExcludeSeen, string? Candidates = null, ExternalId[]? Exclude = null, ExternalId[]? Sequence = null)
{
    public static readonly RecommendOptions Default = new(true);

    /// <summary>Reads the options JSON (null: defaults).</summary>
    public static RecommendOptions Parse(string function, string? json)
    {
        if (json is null) return Default;
        var reader = OptionReader.Parse(function, json);
        var excludeSeen = reader.Boolean("exclude_seen", true);
        var candidates = reader.String("candidates");
        var exclude = reader.IdList("exclude");
        var given = reader.Has("sequence");
        var sequence = reader.IdList("sequence");
        if (sequence is { Length: > Errors.MaxSequenceLength }) throw Errors.SequenceTooLong(function, sequence.Length);
        reader.Finish($"{function}()");
        return new RecommendOptions(excludeSeen, candidates, exclude, given ? sequence : null);
    }
}

/// <summary><c>recommend()</c>: turns a user id into a ranked list with the serving version of a model.</summary>
internal static class Serving
{
    /// <summary>Source label of cold-start rows.</summary>
    public const string PopularSource = "popular";

    /// <summary>
    /// The best <paramref name="k"/> items for <paramref name="user"/> from <paramref name="model"/>
    /// (null: the only model). A live version reads the user's current rows through the
    /// connection and scores them; other versions use the training snapshot. Users with no rows
    /// get the popular fallback.
    /// </summary>
    public static List<Recommendation> Recommend(Session session, string function, ExternalId? user, int k, string? model, RecommendOptions options)
    {
        var version = session.Store.Resolve(function, model);
        // A version not loaded yet may answer from the pages this user needs (see PagedServing).
        if (options.Sequence is null && options.Candidates is null && options.Exclude is not { Length: > 0 } &&
            PagedServing.TryRecommend(session, function, version, user!.Value, k, options.ExcludeSeen) is { } paged)
            return paged;
        var loaded = LoadedVersions.Model(session, function, version);
        // Candidates and exclusions restrict every path below (model, live row, cold start) before the top-k, so results are never short.
        var filter = Candidates.Read(session.Db, function, options.Candidates, options.Exclude ?? [], loaded.Model.Items);
        if (options.Sequence is { } given)
        {
            var top = new int[Math.Min(k, loaded.Model.Items.Count)];
            return RecommendAfter(loaded, function, KnownItems(given, loaded.Model.Items), top, filter, options.ExcludeSeen).Rows;
        }
        return Rank(session, function, loaded, user!.Value, k, options.ExcludeSeen, filter).Rows;
    }

    /// <summary>
    /// The best <paramref name="k"/> items for <paramref name="user"/> from one loaded version (a
    /// batch job pins it once and ranks every user with it), restricted by <paramref name="filter"/>.
    /// <c>Cold</c> is true when the user has no rows the version can score (unknown to it, or a live
    /// model's user with no current rows) and the rows are the popular fallback.
    /// </summary>
    public static (List<Recommendation> Rows, bool Cold) Rank(Session session, string function, LoadedVersion loaded, ExternalId user, int k,
        bool excludeSeen, ItemFilter filter)
    {
        var servable = loaded.Model;
        var top = new int[Math.Min(k, servable.Items.Count)];
        if (servable.Trained.LiveSequence is not null && loaded.LiveQuery is { } sequenceQuery)
        {
            var current = ReadLiveSequence(session, function, loaded, sequenceQuery, user);
            return RecommendAfter(loaded, function, current, top, filter, excludeSeen);
        }
        if (servable.Trained.Live is { } live && loaded.LiveQuery is { } query)
        {
            var row = ReadLive(session, function, loaded.Version.Model, query, servable.Items, live.UseWeights, user);
            if (row is null || row.Items.Length == 0) return (ColdStart(servable, top, filter.Excluding(row?.Items ?? [])), true);
            // A pooled buffer: on a large catalogue a fresh one per call is a large-object allocation.
            var rented = System.Buffers.ArrayPool<float>.Shared.Rent(servable.Items.Count);
            try
            {
                return (RankRow(loaded, function, user, live, row, rented.AsSpan(0, servable.Items.Count), top, filter, excludeSeen), false);
            }
            finally
            {
                System.Buffers.ArrayPool<float>.Shared.Return(rented);
            }
        }
        if (!servable.Users.TryGetIndex(user, out var userIndex)) return (ColdStart(servable, top, filter), true);
        var seen = excludeSeen ? servable.SeenBy(userIndex) : ReadOnlySpan<int>.Empty;
        var scores = servable.Scorer is null ? [] : new float[servable.Items.Count];
        var count = filter.IsEmpty ? servable.TopItems(userIndex, seen, top, scores) : servable.TopAllowedItems(userIndex, filter.Excluding(seen), top, scores);
        var result = new List<Recommendation>(count);
        for (var i = 0; i < count; i++)
            result.Add(new Recommendation(i + 1, servable.Items.Ids[top[i]], servable.ScoreOf(top[i], scores), servable.SourceOf(top[i])));
        return (result, false);
    }

    /// <summary>Scores a live row into <paramref name="rowScores"/> (one per item) and ranks it.</summary>
    private static List<Recommendation> RankRow(LoadedVersion loaded, string function, ExternalId user, LiveScoring live, UserRow row, Span<float> rowScores,
        int[] top, ItemFilter filter, bool excludeSeen)
    {
        var servable = loaded.Model;
        var excluded = filter.Excluding(excludeSeen ? row.Items : []).Excluded;
        // Without a candidate list, a scorer that can may score exactly only the items that can reach the top k.
        if (filter.Candidates is null && live.Scorer is IShortlistScorer shortlist)
            shortlist.ScoreRowForTop(row.Items, row.Weights, top.Length, excluded, rowScores);
        else
            live.Scorer.ScoreRow(row.Items, row.Weights, rowScores);
        // Training checked that its own rows score within float32; a user's current rows can weigh more.
        if (VectorBlob.IndexOfNonFinite(rowScores) >= 0)
            throw Errors.LiveScoresTooLarge(function, loaded.Version.Model, user.ToValue(), row.Weights.Sum(w => (double)w));
        var found = TopK.SelectAmong(rowScores, filter.Candidates, top.Length, excluded, top);
        var rows = new List<Recommendation>(found);
        for (var i = 0; i < found; i++) rows.Add(new Recommendation(i + 1, servable.Items.Ids[top[i]], rowScores[top[i]], servable.Kind));
        return rows;
    }

    /// <summary>
    /// The user's current row through the version's source; null when the user has no rows. The
    /// stored text is checked against the rules for stored SQL the first time this connection runs it.
    /// </summary>
    internal static UserRow? ReadLive(Session session, string function, string model, string query, IIdLookup items, bool useWeights, ExternalId user) =>
        ReadStored(session, function, model, query, inspect => LiveRows.Read(session.Db, function, model, query, user, items, useWeights, inspect));

    /// <summary>
    /// Runs a read of a version's stored source query: the text is checked against the rules for
    /// stored SQL the first time this connection runs it; an interrupt while it runs says so, and
    /// any other SQLite failure is the source's.
    /// </summary>
    private static T ReadStored<T>(Session session, string function, string model, string query, Func<bool, T> read)
    {
        var checkedQueries = session.CheckedStoredQueries;
        var inspect = !checkedQueries.Contains(query);
        try
        {
            var result = read(inspect);
            if (inspect)
            {
                if (checkedQueries.Count >= 64) checkedQueries.Clear();
                checkedQueries.Add(query);
            }
            return result;
        }
        // The caller stopping the statement (sqlite3_interrupt) while the source runs is not a broken source.
        catch (Exception e) when (e is SqlRecException or SqliteCallException && session.Db.IsInterrupted)
        {
            throw Errors.LiveReadInterrupted(function, model);
        }
        catch (SqliteCallException e)
        {
            throw Errors.LiveSourceFailed(function, model, e.Message);
        }
    }

    /// <summary>The indices of the ids the model knows, in the given order; unknown ids are skipped (as live rows skip items newer than the model).</summary>
    private static int[] KnownItems(ExternalId[] ids, IdIndex items)
    {
        var known = new List<int>(ids.Length);
        foreach (var id in ids)
        {
            if (items.TryGetIndex(id, out var index)) known.Add(index);
        }
        return [.. known];
    }

    /// <summary>
    /// Recommends what follows a history (item indices, oldest first; null when the user has no
    /// rows): a sequential model scores it in order; a live row model (graph_filter, ease) scores
    /// its distinct items as a row of weight 1; other kinds cannot score a given history. An empty
    /// history gets the popular fallback. Seen items are the history's (all of it, not only the
    /// newest the model reads), left out unless 'exclude_seen' is false.
    /// </summary>
    private static (List<Recommendation> Rows, bool Cold) RecommendAfter(LoadedVersion loaded, string function, int[]? history, int[] top, ItemFilter filter,
        bool excludeSeen)
    {
        var servable = loaded.Model;
        var sequential = servable.Trained.LiveSequence;
        var rowScorer = servable.Trained.Live?.Scorer;
        if (sequential is null && rowScorer is null) throw Errors.SequenceNotSupported(function, loaded.Version.Model, servable.Kind);
        var seen = history is null ? [] : history.Distinct().Order().ToArray();
        if (history is null || history.Length == 0) return (ColdStart(servable, top, filter.Excluding(seen)), true);
        var scores = new float[servable.Items.Count];
        if (sequential is not null) sequential.ScoreSequence(history, scores);
        else rowScorer!.ScoreRow(seen, Enumerable.Repeat(1f, seen.Length).ToArray(), scores);
        var excluded = filter.Excluding(excludeSeen ? seen : []).Excluded;
        var found = TopK.SelectAmong(scores, filter.Candidates, top.Length, excluded, top);
        var rows = new List<Recommendation>(found);
        for (var i = 0; i < found; i++) rows.Add(new Recommendation(i + 1, servable.Items.Ids[top[i]], scores[top[i]], servable.SourceOf(top[i])));
        return (rows, false);
    }

    /// <summary>The user's current items in time order through the version's source; null when the user has no rows.</summary>
    private static int[]? ReadLiveSequence(Session session, string function, LoadedVersion loaded, string query, ExternalId user) =>
        ReadStored(session, function, loaded.Version.Model, query,
            inspect => LiveRows.ReadSequence(session.Db, function, loaded.Version.Model, query, user, loaded.Model.Items, inspect));

    /// <summary>The cold-start fallback: popularity order, labelled 'popular'.</summary>
    private static List<Recommendation> ColdStart(ServableModel model, int[] top, ItemFilter filter)
    {
        var count = model.TopAllowedByPopularity(filter, top);
        var result = new List<Recommendation>(count);
        for (var i = 0; i < count; i++)
            result.Add(new Recommendation(i + 1, model.Items.Ids[top[i]], model.Popularity[top[i]], PopularSource));
        return result;
    }
}
