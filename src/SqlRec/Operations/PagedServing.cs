using System.Collections.Concurrent;
using System.Diagnostics;
using SqlRec.Compute;
using SqlRec.Models;
using SqlRec.Store;

namespace SqlRec.Operations;

/// <summary>
/// <c>recommend()</c> from a version that is not loaded yet, reading only what the user needs
/// (a graph filter: <see cref="PagedGraphFilter"/>; a popular version: the user's index, seen items
/// and the popularity), instead of loading the whole version for one answer. A
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

    /// <summary>
    /// What is kept of a version between paged calls: a graph filter's state, or for a popular
    /// version its seen-items offsets; the popularity (read on the first cold start). Neither when
    /// the version cannot be paged.
    /// </summary>
    private sealed class Entry(ServingVersion version, PagedGraphFilterState? filter, int[]? seenOffsets, string? liveQuery, double budget)
    {
        public static Entry NotPaged(ServingVersion version) => new(version, null, null, null, 0);

        public ServingVersion Version { get; } = version;
        public PagedGraphFilterState? Filter { get; } = filter;
        public int[]? SeenOffsets { get; } = seenOffsets;
        public bool Paged => Filter is not null || SeenOffsets is not null;
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
            if (!entry.Paged) return null;
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
                return entry.Filter is { } filter
                    ? Rank(session, function, entry, filter, user, top, excludeSeen)
                    : RankByPopularity(session, entry, user, top, excludeSeen);
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
        if (plan.Kind.Name != version.Kind) return Entry.NotPaged(version);
        var pages = new StoredPages(session.Db, version);
        if (plan.Kind is PopularKind)
        {
            // A user's seen items are one slice when they are stored in small parts (versions written since paging exists).
            if (!pages.HasSmallParts(ArrayNames.SeenItems)) return Entry.NotPaged(version);
            var seenOffsets = pages.ReadWhole<int>(ArrayNames.SeenOffsets, version.Users + 1L);
            PagedGraphFilterState.CheckOffsets(seenOffsets, ArrayNames.SeenOffsets, "one per user, plus one");
            // A whole load reads the id maps (about 40 bytes an id) and the seen items.
            var idBytes = 40.0 * ((double)version.Users + version.Items) + 4.0 * seenOffsets[^1];
            return new Entry(version, null, seenOffsets, null, Budget(session, idBytes));
        }
        if (plan.Kind is not GraphFilterKind) return Entry.NotPaged(version);
        var options = (GraphFilterKind.Options)plan.Options;
        if (!PagedGraphFilterState.Supports(pages, options)) return Entry.NotPaged(version);
        var state = PagedGraphFilterState.Read(pages, version.Users, version.Items, options);
        var live = options.Live ? LiveRows.WrapSource(plan.Source, session.Store.SourceColumnCount(plan.Source)) : null;
        // What a whole load reads: the singular vectors and the seen items (with their normalised copies).
        var bytes = 4.0 * ((double)version.Items * state.Components + 3.0 * state.SeenOffsets[^1]);
        return new Entry(version, state, null, live, Budget(session, bytes));
    }

    private static double Budget(Session session, double bytes) => session.Options.PagedSecondsBeforeLoad ?? Math.Max(0.05, bytes / LoadBytesPerSecond);

    private static List<Recommendation> Rank(Session session, string function, Entry entry, PagedGraphFilterState state, ExternalId user, int k, bool excludeSeen)
    {
        var (version, liveQuery) = (entry.Version, entry.LiveQuery);
        var pages = new StoredPages(session.Db, version);
        using var items = new IdProbe(session.Db, version, "item", version.Items);
        using var scorer = new PagedGraphFilter(pages, state);
        int[] row;
        if (liveQuery is not null)
        {
            var current = Serving.ReadLive(session, function, version.Model, liveQuery, items, useWeights: false, user);
            if (current is null || current.Items.Length == 0) return ColdStart(pages, entry, items, k, current?.Items ?? []);
            row = current.Items;
        }
        else
        {
            using var users = new IdProbe(session.Db, version, "user", version.Users);
            if (!users.TryGetIndex(user, out var index)) return ColdStart(pages, entry, items, k, []);
            row = scorer.SeenBy(index);
        }
        var excluded = excludeSeen ? row : [];
        var scores = new float[version.Items];
        scorer.ScoreRowForTop(row, Enumerable.Repeat(1f, row.Length).ToArray(), k, excluded, scores);
        if (liveQuery is not null && VectorBlob.IndexOfNonFinite(scores) >= 0)
            throw Errors.LiveScoresTooLarge(function, version.Model, user.ToValue(), row.Length);
        var top = new int[k];
        var found = TopK.Select(scores, k, excluded, top);
        var result = new List<Recommendation>(found);
        for (var i = 0; i < found; i++) result.Add(new Recommendation(i + 1, items[top[i]], scores[top[i]], version.Kind));
        return result;
    }

    /// <summary>
    /// A popular version's answer, as <see cref="Serving"/> gives it: a known user gets the popularity
    /// order without their training items, labelled with the kind; an unknown user the fallback.
    /// </summary>
    private static List<Recommendation> RankByPopularity(Session session, Entry entry, ExternalId user, int k, bool excludeSeen)
    {
        var version = entry.Version;
        var pages = new StoredPages(session.Db, version);
        using var items = new IdProbe(session.Db, version, "item", version.Items);
        using var users = new IdProbe(session.Db, version, "user", version.Users);
        if (!users.TryGetIndex(user, out var index)) return ColdStart(pages, entry, items, k, []);
        int[] seen = [];
        if (excludeSeen)
        {
            var offsets = entry.SeenOffsets!;
            using var seenItems = pages.Open<int>(ArrayNames.SeenItems, offsets[^1]);
            seen = new int[offsets[index + 1] - offsets[index]];
            seenItems.Read(offsets[index], seen);
            StoredArrays.CheckIndices(ArrayNames.SeenItems, seen, 0, seen.Length, version.Items);
        }
        return ByPopularity(Popularity(pages, entry), items, k, seen, version.Kind);
    }

    /// <summary>The popular fallback, as <see cref="Serving"/> gives it: popularity order, labelled 'popular'.</summary>
    private static List<Recommendation> ColdStart(StoredPages pages, Entry entry, IdProbe items, int k, int[] excludedSorted) =>
        ByPopularity(Popularity(pages, entry), items, k, excludedSorted, Serving.PopularSource);

    private static List<Recommendation> ByPopularity(float[] popularity, IdProbe items, int k, int[] excludedSorted, string source)
    {
        var top = new int[k];
        var found = TopK.Select(popularity, k, excludedSorted, top);
        var result = new List<Recommendation>(found);
        for (var i = 0; i < found; i++) result.Add(new Recommendation(i + 1, items[top[i]], popularity[top[i]], source));
        return result;
    }

    /// <summary>The version's popularity, read and checked once per entry.</summary>
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
