using SqlRec.Models;
using SqlRec.Store;
using SqlRec.Vectors;

namespace SqlRec.Operations;

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
    public string Label => IsModel ? LoadedVersion.Label(Name) : Collection!.Label;

    /// <summary>The uid of what is served now (the model version's, or the collection snapshot's).</summary>
    public string Uid => Model?.Uid ?? Collection!.Uid;

    /// <summary>How messages name it with its kind: <c>model 'm' (kind 'popular')</c>.</summary>
    private string LabelWithKind => IsModel ? $"{Label} (kind '{Model!.Kind}')" : Label;

    /// <summary>The item vectors; fails when a model has none.</summary>
    public VectorSet Items(Session session, string function) =>
        TryItems(session, function) ?? throw Errors.NoItemVectors(function, LabelWithKind, ModelKinds.VectorsFrom);

    /// <summary>The item vectors, or null when a model has none.</summary>
    public VectorSet? TryItems(Session session, string function) =>
        Collection is { } collection ? LoadedVersions.Collection(session, function, collection) : LoadedVersions.Model(session, function, Model!).ItemVectors;

    /// <summary>The user vectors; fails for a collection and for a model without them.</summary>
    public VectorSet Users(Session session, string function)
    {
        if (!IsModel) throw Errors.NoUserVectors(function, Label, ModelKinds.VectorsFrom, isCollection: true);
        return TryUsers(session, function) ?? throw Errors.NoUserVectors(function, LabelWithKind, ModelKinds.VectorsFrom, isCollection: false);
    }

    /// <summary>The user vectors of a model, or null for a collection or a model without them.</summary>
    public VectorSet? TryUsers(Session session, string function) => IsModel ? LoadedVersions.Model(session, function, Model!).UserVectors : null;
}

/// <summary>Resolves a vector function's <c>model</c> argument to what it names.</summary>
internal static class VectorSources
{
    /// <summary>
    /// The source named <paramref name="name"/>, or, when it is null, the only model or collection
    /// in the database. Errors say what exists.
    /// </summary>
    public static VectorSource Resolve(Session session, string function, string? name)
    {
        var store = session.Store;
        if (name is null)
        {
            var models = store.ServingModelNames();
            var collections = Collections.Names(session.Db);
            if (models.Count + collections.Count == 0) throw Errors.NoVectorSources(function);
            if (models.Count + collections.Count > 1) throw Errors.VectorSourceRequired(function, models, collections);
            name = models.Count == 1 ? models[0] : collections[0];
        }
        if (store.HasModel(name)) return new VectorSource(name, store.Resolve(function, name), null);
        if (Collections.Find(session.Db, name) is { } collection) return new VectorSource(name, null, collection);
        throw Errors.UnknownVectorSource(function, name, store.ServingModelNames(), Collections.Names(session.Db));
    }
}
