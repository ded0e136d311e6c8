using System.Collections.Concurrent;
using SqlRec.Compute;
using SqlRec.Data;
using SqlRec.Models;
using SqlRec.Store;

namespace SqlRec.Serving;

/// <summary>One recommended item.</summary>
/// <param name="Rank">1-based position.</param>
/// <param name="Item">The application's item id.</param>
/// <param name="Score">The model's score (higher is better).</param>
/// <param name="Source">What produced the row: the model kind, or <c>popular</c> for the cold-start fallback.</param>
public sealed record Recommendation(int Rank, ExternalId Item, double Score, string Source);

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

    public ReadOnlySpan<int> SeenBy(int user) => SeenItems.AsSpan(SeenOffsets[user], SeenOffsets[user + 1] - SeenOffsets[user]);

    public static LoadedModel Load(ModelStore store, ServingVersion version)
    {
        var (users, items) = store.LoadIdMaps(version);
        var arrays = store.LoadArrays(version);
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
        };
    }
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
internal sealed record RecommendOptions(bool ExcludeSeen)
{
    public static readonly RecommendOptions Default = new(true);

    public static RecommendOptions Parse(string function, string? json)
    {
        if (json is null) return Default;
        var reader = OptionReader.Parse(function, json);
        var options = new RecommendOptions(reader.Boolean("exclude_seen", true));
        reader.Finish($"{function}()");
        return options;
    }
}

/// <summary>Turns a user id into a ranked list with a loaded model.</summary>
internal static class Recommender
{
    /// <summary>Source label of cold-start rows.</summary>
    public const string PopularSource = "popular";

    public static List<Recommendation> Recommend(LoadedModel model, ExternalId user, int k, RecommendOptions options)
    {
        var result = new List<Recommendation>(Math.Min(k, model.Items.Count));
        if (!model.Users.TryGetIndex(user, out var userIndex))
        {
            // Unknown user: the cold-start fallback, popularity order, nothing to exclude.
            foreach (var item in model.PopularityOrder)
            {
                if (result.Count == k) break;
                result.Add(new Recommendation(result.Count + 1, model.Items.Ids[item], model.Popularity[item], PopularSource));
            }
            return result;
        }
        var seen = options.ExcludeSeen ? model.SeenBy(userIndex) : ReadOnlySpan<int>.Empty;
        if (model.Scorer is null)
        {
            foreach (var item in model.PopularityOrder)
            {
                if (result.Count == k) break;
                if (seen.BinarySearch(item) >= 0) continue;
                result.Add(new Recommendation(result.Count + 1, model.Items.Ids[item], model.Popularity[item], model.Version.Kind));
            }
            return result;
        }
        var scores = new float[model.Items.Count];
        model.Scorer.Score(userIndex, scores);
        var top = new int[Math.Min(k, scores.Length)];
        var count = TopK.Select(scores, k, seen, top);
        for (var i = 0; i < count; i++)
            result.Add(new Recommendation(i + 1, model.Items.Ids[top[i]], scores[top[i]], model.Version.Kind));
        return result;
    }
}
