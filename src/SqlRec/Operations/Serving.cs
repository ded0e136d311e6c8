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
internal sealed record RecommendOptions(bool ExcludeSeen, string? Candidates = null, ExternalId[]? Exclude = null)
{
    public static readonly RecommendOptions Default = new(true);

    /// <summary>Reads the options JSON (null: defaults).</summary>
    public static RecommendOptions Parse(string function, string? json)
    {
        if (json is null) return Default;
        var reader = OptionReader.Parse(function, json);
        var options = new RecommendOptions(reader.Boolean("exclude_seen", true), reader.String("candidates"), reader.IdList("exclude"));
        reader.Finish($"{function}()");
        return options;
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
    public static List<Recommendation> Recommend(Session session, string function, ExternalId user, int k, string? model, RecommendOptions options)
    {
        var version = session.Store.Resolve(function, model);
        var loaded = LoadedVersions.Model(session, function, version);
        // Candidates and exclusions restrict every path below (model, live row, cold start) before the top-k, so results are never short.
        var filter = Candidates.Read(session.Db, function, options.Candidates, options.Exclude ?? [], loaded.Model.Items);
        return Rank(session, function, loaded, user, k, options.ExcludeSeen, filter).Rows;
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
        if (servable.Trained.Live is { } live && loaded.LiveQuery is { } query)
        {
            var row = ReadLive(session, function, loaded, query, live, user);
            if (row is null || row.Items.Length == 0) return (ColdStart(servable, top, filter.Excluding(row?.Items ?? [])), true);
            var rowScores = new float[servable.Items.Count];
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
            var liveRows = new List<Recommendation>(found);
            for (var i = 0; i < found; i++) liveRows.Add(new Recommendation(i + 1, servable.Items.Ids[top[i]], rowScores[top[i]], servable.Kind));
            return (liveRows, false);
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

    /// <summary>
    /// The user's current row through the version's source; null when the user has no rows. The
    /// stored text is checked against the rules for stored SQL the first time this connection runs it.
    /// </summary>
    private static UserRow? ReadLive(Session session, string function, LoadedVersion loaded, string query, LiveScoring live, ExternalId user)
    {
        var checkedQueries = session.CheckedStoredQueries;
        var inspect = !checkedQueries.Contains(query);
        try
        {
            var row = LiveRows.Read(session.Db, function, loaded.Version.Model, query, user, loaded.Model.Items, live.UseWeights, inspect);
            if (inspect)
            {
                if (checkedQueries.Count >= 64) checkedQueries.Clear();
                checkedQueries.Add(query);
            }
            return row;
        }
        catch (SqliteCallException e)
        {
            throw Errors.LiveSourceFailed(function, loaded.Version.Model, e.Message);
        }
    }

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
