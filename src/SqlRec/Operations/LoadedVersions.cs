using System.Collections.Concurrent;
using SqlRec.Models;
using SqlRec.Store;
using SqlRec.Vectors;

namespace SqlRec.Operations;

/// <summary>
/// A model version loaded for serving: what the store says of it, its training options read back
/// through the kind's table, the servable model, the live query when the version scores current
/// rows, and - computed on first use - its item and user vectors for search and publication.
/// Immutable apart from those lazily built sets, which are thread-safe.
/// </summary>
internal sealed class LoadedVersion
{
    private readonly Lazy<VectorSet?> _itemVectors;
    private readonly Lazy<VectorSet?> _userVectors;

    public LoadedVersion(ServingVersion version, TrainingPlan plan, ServableModel model, string? liveQuery)
    {
        Version = version;
        Plan = plan;
        Model = model;
        LiveQuery = liveQuery;
        var label = Label(version.Model);
        _itemVectors = new(() => model.Trained.ItemVectors() is { } v ? new VectorSet(label, "item", model.Items, v.Dimensions, v.Data, VectorMetric.Dot) : null);
        _userVectors = new(() => model.Trained.UserVectors() is { } v ? new VectorSet(label, "user", model.Users, v.Dimensions, v.Data, VectorMetric.Dot) : null);
    }

    /// <summary>How messages name a model.</summary>
    public static string Label(string model) => $"model '{model}'";

    /// <summary>The version as the store records it.</summary>
    public ServingVersion Version { get; }

    /// <summary>The kind, its options and the source the version was trained with.</summary>
    public TrainingPlan Plan { get; }

    /// <summary>The servable model.</summary>
    public ServableModel Model { get; }

    /// <summary>The source wrapped to read one user's current rows (one parameter, the user id), when the version scores live rows.</summary>
    public string? LiveQuery { get; }

    /// <summary>The item vectors, or null when the version has none.</summary>
    public VectorSet? ItemVectors => _itemVectors.Value;

    /// <summary>The user vectors, or null when the version has none.</summary>
    public VectorSet? UserVectors => _userVectors.Value;

    /// <summary>
    /// Loads a version through the store (the id maps, the arrays, the stored options), for
    /// <paramref name="function"/>, checking everything it reads once, here: a version that does not
    /// read back as written (a checksum, a shape, an index, a float) fails with
    /// <see cref="Errors.ModelDamaged"/> and is not cached, so nothing is ever ranked from it.
    /// </summary>
    public static LoadedVersion Load(Session session, string function, ServingVersion version)
    {
        try
        {
            return LoadChecked(session, function, version);
        }
        catch (StoredDataDamage damage)
        {
            throw Errors.ModelDamaged(function, version.Model, version.Version, damage.What);
        }
    }

    private static LoadedVersion LoadChecked(Session session, string function, ServingVersion version)
    {
        var store = session.Store;
        TrainingPlan plan;
        try
        {
            plan = TrainingPlan.Read(function, version.Options) with { StoredWith = version.Model };
        }
        catch (SqlRecException e)
        {
            throw Errors.Damaged(Errors.DamagedOptions(e.Problem ?? e.Message));
        }
        if (plan.Kind.Name != version.Kind) throw Errors.Damaged(Errors.DamagedKind(version.Kind, plan.Kind.Name));
        var (users, items) = store.LoadIdMaps(version);
        var model = ServableModel.LoadStored(plan.Kind, plan.Options, users, items, store.LoadArrays(version));
        var live = model.Trained.LiveSequence is not null ? LiveRows.WrapSequence(plan.Source)
            : model.Trained.Live is null ? null : LiveRows.WrapSource(plan.Source, store.SourceColumnCount(plan.Source));
        return new LoadedVersion(version, plan, model, live);
    }
}

/// <summary>
/// The one cache of what SqlRec loads from a database to serve: model versions and collection
/// snapshots, shared by every connection in the process and keyed by the random uid of the version
/// or snapshot, so what a new training or rec_publish makes is picked up as soon as it serves, and
/// a stale entry can never be served for another database. A newer version of the same model (of
/// the same database) replaces the older one at once; otherwise the least recently used entry goes.
/// </summary>
internal static class LoadedVersions
{
    private const int Capacity = 8;

    private sealed class Entry(string owner, long sequence, object value, long lastUse)
    {
        public string Owner { get; } = owner;
        public long Sequence { get; } = sequence;
        public object Value { get; } = value;
        public long LastUse = lastUse;
    }

    private static readonly ConcurrentDictionary<string, Entry> Entries = new();
    private static long _clock;

    /// <summary>True when the version with this uid is loaded.</summary>
    public static bool IsLoaded(string uid) => Entries.ContainsKey(uid);

    /// <summary>The serving version of a model, loaded on first use.</summary>
    public static LoadedVersion Model(Session session, string function, ServingVersion version) =>
        Find<LoadedVersion>(version.Uid) ?? Add(version.Uid, session.DatabaseKey + "\n" + version.Model, version.Version, LoadedVersion.Load(session, function, version));

    /// <summary>A collection snapshot's vectors, loaded (and checked, see <see cref="Collections.Load"/>) on first use.</summary>
    public static VectorSet Collection(Session session, string function, CollectionInfo collection) =>
        Find<VectorSet>(collection.Uid) ?? Add(collection.Uid, session.DatabaseKey + "\n" + collection.Name, 0, LoadCollection(session, function, collection));

    private static VectorSet LoadCollection(Session session, string function, CollectionInfo collection)
    {
        try
        {
            return Collections.Load(session.Db, collection);
        }
        catch (StoredDataDamage damage)
        {
            throw Errors.CollectionDamaged(function, collection.Name, damage.What);
        }
    }

    /// <summary>What is cached under <paramref name="uid"/>, marked as used now; null when nothing is. The hot path: no allocation.</summary>
    private static T? Find<T>(string uid) where T : class
    {
        if (!Entries.TryGetValue(uid, out var hit)) return null;
        Volatile.Write(ref hit.LastUse, Interlocked.Increment(ref _clock));
        return (T)hit.Value;
    }

    private static T Add<T>(string uid, string owner, long sequence, T value) where T : class
    {
        var now = Interlocked.Increment(ref _clock);
        foreach (var (key, entry) in Entries)
        {
            if (entry.Owner == owner && entry.Sequence <= sequence) Entries.TryRemove(key, out _);
        }
        while (Entries.Count >= Capacity)
        {
            var oldest = Entries.MinBy(e => e.Value.LastUse).Key;
            Entries.TryRemove(oldest, out _);
        }
        Entries[uid] = new Entry(owner, sequence, value, now);
        PagedServing.Forget(uid);
        return value;
    }

    /// <summary>Forgets everything loaded (tests, and callers that free memory).</summary>
    public static void Clear()
    {
        Entries.Clear();
        PagedServing.Clear();
    }
}
