using System.Collections.Concurrent;
using System.Diagnostics;
using SqlRec.Compute;
using SqlRec.Models;
using SqlRec.Store;

namespace SqlRec.Operations;

/// <summary>
/// <c>recommend()</c> from a version that is not loaded yet, reading only what the user needs, for
/// the kinds that can (<see cref="IPagedKind"/>: a graph filter reads the rows its two hops reach
/// and the vector rows that can reach the top k; a popular version the user's seen items and the
/// popularity), instead of loading the whole version for one answer. A
/// version is served this way until its paged calls add up to about the time a whole load takes
/// (estimated from its size); the next call then loads it (<see cref="LoadedVersions"/>) - the
/// rent-or-buy rule, so a long-running server pays at most about twice the load before its calls
/// are warm, and a process that answers a few users never pays it. The answers are those of the
/// loaded version (same items, same scores, same labels). Only plain calls are paged: options
/// <c>candidates</c>, <c>exclude</c> and <c>sequence</c>, a k of a quarter of the items or more,
/// and kinds or versions without the paged arrays load the version whole, as before.
/// </summary>
internal static class PagedServing
{
    /// <summary>Versions with paged state kept at once (each a few MB: offsets and lengths).</summary>
    private const int Capacity = 4;

    /// <summary>What a whole load of a version reads and builds per second, about (measured: 3.4 s for 830 MB at 650k items).</summary>
    private const double LoadBytesPerSecond = 250e6;

    /// <summary>What is kept of a version between paged calls: the kind's paged model (none when the version cannot be paged), and the popularity once a cold start read it.</summary>
    private sealed class Entry(ServingVersion version, IPagedModel? model, string? liveQuery, double budget)
    {
        public static Entry NotPaged(ServingVersion version) => new(version, null, null, 0);

        public ServingVersion Version { get; } = version;
        public IPagedModel? Model { get; } = model;
        public string? LiveQuery { get; } = liveQuery;
        public double Budget { get; } = budget;
        public float[]? Popularity;
        public double Spent;
    }

    private static readonly ConcurrentDictionary<string, Entry> Entries = new();

    /// <summary>
    /// The answer for <paramref name="user"/> from <paramref name="version"/> without loading it, or
    /// null when this call should load the version (see the class summary). Damage found in what is
    /// read fails with <see cref="Errors.ModelDamaged"/>, as a whole load does.
    /// </summary>
    public static List<Recommendation>? TryRecommend(Session session, string function, ServingVersion version, ExternalId user, int k, bool excludeSeen)
    {
        if (!session.Options.PagedServing || LoadedVersions.IsLoaded(version.Uid)) return null;
        var top = Math.Min(k, version.Items);
        if (top == 0 || top >= version.Items / 4) return null;
        // A store from before checksums (or one whose column was dropped since) has none to check the pages by: it loads whole, as it always did.
        if (!ModelStore.HasColumn(session.Db, "rec_arrays", "checksum")) return null;
        try
        {
            if (!Entries.TryGetValue(version.Uid, out var entry))
            {
                if (Entries.Count >= Capacity) Entries.Clear();
                entry = Entries[version.Uid] = Open(session, function, version);
            }
            if (entry.Model is not { } model) return null;
            lock (entry)
            {
                if (entry.Spent >= entry.Budget)
                {
                    Entries.TryRemove(version.Uid, out _);
                    return null;
                }
            }
            var clock = Stopwatch.StartNew();
            try
            {
                return Rank(session, function, entry, model, user, top, excludeSeen);
            }
            finally
            {
                lock (entry) entry.Spent += clock.Elapsed.TotalSeconds;
            }
        }
        catch (StoredDataDamage damage)
        {
            Entries.TryRemove(version.Uid, out _);
            throw Errors.ModelDamaged(function, version.Model, version.Version, damage.What);
        }
    }

    /// <summary>Whether and how the version can be paged; an entry without state when it cannot.</summary>
    private static Entry Open(Session session, string function, ServingVersion version)
    {
        TrainingPlan plan;
        try
        {
            plan = TrainingPlan.Read(function, version.Options);
        }
        catch (SqlRecException)
        {
            // A whole load reports the damage with its words.
            return Entry.NotPaged(version);
        }
        if (plan.Kind.Name != version.Kind || plan.Kind is not IPagedKind paged) return Entry.NotPaged(version);
        var model = paged.OpenPaged(new StoredPages(session.Db, version), version.Users, version.Items, plan.Options);
        if (model is null) return Entry.NotPaged(version);
        var live = model.ScoresLiveRows ? LiveRows.WrapSource(plan.Source, session.Store.SourceColumnCount(plan.Source)) : null;
        return new Entry(version, model, live, Budget(session, model.WholeLoadBytes));
    }

    private static double Budget(Session session, double bytes) => session.Options.PagedSecondsBeforeLoad ?? Math.Max(0.05, bytes / LoadBytesPerSecond);

    private static List<Recommendation> Rank(Session session, string function, Entry entry, IPagedModel model, ExternalId user, int k, bool excludeSeen)
    {
        var version = entry.Version;
        var pages = new StoredPages(session.Db, version);
        using var items = new IdProbe(session.Db, version, "item", version.Items);
        using var call = model.Begin(pages);
        int[] row;
        if (entry.LiveQuery is { } liveQuery)
        {
            // Paged versions are binary: every current row counts 1, as the loaded version counts it.
            var current = Serving.ReadLive(session, function, version.Model, liveQuery, items, useWeights: false, user);
            if (current is null || current.Items.Length == 0) return ColdStart(pages, entry, items, k, current?.Items ?? []);
            row = current.Items;
        }
        else
        {
            using var users = new IdProbe(session.Db, version, "user", version.Users);
            if (!users.TryGetIndex(user, out var index)) return ColdStart(pages, entry, items, k, []);
            row = call.SeenBy(index);
        }
        var excluded = excludeSeen ? row : [];
        var scores = new float[version.Items];
        call.ScoreForTop(row, k, excluded, scores);
        if (entry.LiveQuery is not null && VectorBlob.IndexOfNonFinite(scores) >= 0)
            throw Errors.LiveScoresTooLarge(function, version.Model, user.ToValue(), row.Length);
        return Ranked(scores, items, k, excluded, version.Kind);
    }

    /// <summary>The popular fallback, as <see cref="Serving"/> gives it: popularity order, labelled 'popular'.</summary>
    private static List<Recommendation> ColdStart(StoredPages pages, Entry entry, IdProbe items, int k, int[] excludedSorted) =>
        Ranked(Popularity(pages, entry), items, k, excludedSorted, Serving.PopularSource);

    private static List<Recommendation> Ranked(float[] scores, IdProbe items, int k, int[] excludedSorted, string source)
    {
        var top = new int[k];
        var found = TopK.Select(scores, k, excludedSorted, top);
        var result = new List<Recommendation>(found);
        for (var i = 0; i < found; i++) result.Add(new Recommendation(i + 1, items[top[i]], scores[top[i]], source));
        return result;
    }

    /// <summary>The version's popularity (every version carries it), read and checked once per entry.</summary>
    private static float[] Popularity(StoredPages pages, Entry entry)
    {
        if (Volatile.Read(ref entry.Popularity) is { } known) return known;
        var popularity = pages.ReadWhole<float>(ArrayNames.Popularity, entry.Version.Items);
        var bad = VectorBlob.IndexOfNonFinite(popularity);
        if (bad >= 0) throw Errors.Damaged(Errors.DamagedArrayNotFinite(ArrayNames.Popularity, bad, popularity[bad]));
        Volatile.Write(ref entry.Popularity, popularity);
        return popularity;
    }

    /// <summary>Forgets the paged state of a version (it is loaded now).</summary>
    public static void Forget(string uid) => Entries.TryRemove(uid, out _);

    /// <summary>Forgets all paged state (tests, and callers that free memory).</summary>
    public static void Clear() => Entries.Clear();
}
