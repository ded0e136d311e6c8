using System.Collections.Concurrent;
using SqlRec.Sqlite;
using SqlRec.Store;

namespace SqlRec.Vectors;

/// <summary>
/// What a vector function's <c>model</c> argument named: a trained model (its serving version) or
/// a collection. Models and collections share one namespace (rec_publish refuses a collection
/// name that is a model's), and a model is looked up first.
/// </summary>
internal sealed record VectorSource(string Name, ServingVersion? Model, CollectionInfo? Collection)
{
    /// <summary>True for a model.</summary>
    public bool IsModel => Model is not null;

    /// <summary>How messages name it.</summary>
    public string Label => IsModel ? ModelVectors.Label(Name) : Collection!.Label;

    /// <summary>The uid of what is served now (the model version's, or the collection snapshot's).</summary>
    public string Uid => Model?.Uid ?? Collection!.Uid;
}

/// <summary>
/// Resolves names to vector sources and loads their <see cref="VectorSet"/>s through a small
/// process-wide cache keyed by the version's (or snapshot's) uid, like the model cache: a new
/// version is picked up as soon as it serves, and a stale entry can never serve another database.
/// </summary>
internal static class VectorSources
{
    private const int Capacity = 8;
    private static readonly ConcurrentDictionary<string, (VectorSet? Set, long LastUse)> Entries = new();
    private static long _clock;

    /// <summary>
    /// The source named <paramref name="name"/>, or, when it is null, the only model or collection
    /// in the database. Errors say what exists.
    /// </summary>
    public static VectorSource Resolve(SqliteDb db, string function, string? name)
    {
        var store = new ModelStore(db);
        if (name is null)
        {
            var models = store.ServingModelNames();
            var collections = Collections.Names(db);
            if (models.Count + collections.Count == 0) throw Errors.NoVectorSources(function);
            if (models.Count + collections.Count > 1) throw Errors.VectorSourceRequired(function, models, collections);
            name = models.Count == 1 ? models[0] : collections[0];
        }
        if (store.Exists() && ModelRowExists(db, name))
            return new VectorSource(name, store.Resolve(function, name), null);
        if (Collections.Find(db, name) is { } collection) return new VectorSource(name, null, collection);
        throw Errors.UnknownVectorSource(function, name, store.ServingModelNames(), Collections.Names(db));
    }

    private static bool ModelRowExists(SqliteDb db, string model) =>
        db.Scalar("SELECT 1 FROM rec_models WHERE name = ?1", model) is not null;

    /// <summary>The item vectors of a source; fails when a model has none.</summary>
    public static VectorSet Items(SqliteDb db, string function, VectorSource source) =>
        Get(db, source, "item") ?? throw Errors.NoVectors(function, source.Label + $" (kind '{source.Model!.Kind}')", "item", ModelVectors.NoVectorsHint);

    /// <summary>The user vectors of a source; fails for a collection and for a model without them.</summary>
    public static VectorSet Users(SqliteDb db, string function, VectorSource source)
    {
        if (!source.IsModel)
            throw Errors.NoVectors(function, source.Label, "user", "a collection holds item vectors only; user vectors come from a 'lightgcn' model or a 'graph_filter' model with 'components' > 0");
        return Get(db, source, "user") ?? throw Errors.NoVectors(function, source.Label + $" (kind '{source.Model!.Kind}')", "user",
            "user vectors come from a 'lightgcn' model or a 'graph_filter' model with 'components' > 0");
    }

    /// <summary>The user vectors of a model, or null when it has none.</summary>
    public static VectorSet? TryUsers(SqliteDb db, VectorSource source) => source.IsModel ? Get(db, source, "user") : null;

    private static VectorSet? Get(SqliteDb db, VectorSource source, string space)
    {
        var key = source.Uid + ":" + space;
        var now = Interlocked.Increment(ref _clock);
        if (Entries.TryGetValue(key, out var hit))
        {
            Entries[key] = (hit.Set, now);
            return hit.Set;
        }
        var set = Load(db, source, space);
        while (Entries.Count >= Capacity)
        {
            var oldest = Entries.MinBy(e => e.Value.LastUse).Key;
            Entries.TryRemove(oldest, out _);
        }
        Entries[key] = (set, now);
        return set;
    }

    private static VectorSet? Load(SqliteDb db, VectorSource source, string space)
    {
        if (source.Collection is { } collection) return space == "item" ? Collections.Load(db, collection) : null;
        var version = source.Model!;
        if (version.Kind == "popular") return null;
        var store = new ModelStore(db);
        var (users, items) = store.LoadIdMaps(version);
        var arrays = store.LoadArrays(version);
        return space == "item" ? ModelVectors.Items(version, arrays, items) : ModelVectors.Users(version, arrays, users, items.Count);
    }

    /// <summary>Forgets every loaded set (tests).</summary>
    public static void Clear() => Entries.Clear();
}
