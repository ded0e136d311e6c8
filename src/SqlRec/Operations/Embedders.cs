using System.Text.Json.Nodes;
using SqlRec.Embeddings;
using SqlRec.Store;

namespace SqlRec.Operations;

/// <summary>
/// The embedders of a database: the built-in <c>hash</c> plus the rows of <c>rec_embedders</c>,
/// written by <c>rec_register_embedder</c> after the embedder was loaded and checked. Resolving a
/// name reads its row and returns the process-wide instance for it (<see cref="EmbedderCache"/>).
/// </summary>
internal static class Embedders
{
    /// <summary>Makes ONNX Runtime's native library load from <paramref name="folder"/> (the loadable extension's folder), and named models be looked for in its <c>models/</c>.</summary>
    public static void UseNativeLibrariesIn(string folder)
    {
        OnnxRuntimeLibrary.SearchIn(folder);
        NamedModels.SearchBesideExtension(folder);
    }

    /// <summary>Checks an embedder name argument.</summary>
    public static string Name(string function, string argument, object? value) =>
        value is string { Length: > 0 and <= Errors.MaxModelNameLength } name && name.Trim().Length > 0
            ? name : throw Errors.EmbedderNameInvalid(function, argument, value);

    /// <summary>Every embedder name usable here: <c>hash</c>, then the registered ones.</summary>
    public static List<string> Names(Session session) => [HashEmbedder.BuiltInName, .. EmbedderStore.Names(session.Db)];

    /// <summary>True when <paramref name="name"/> is built in or registered.</summary>
    public static bool Exists(Session session, string name) => name == HashEmbedder.BuiltInName || EmbedderStore.Find(session.Db, name) is not null;

    private static TimeSpan Recheck(Session session) => session.Options.EmbedderRecheckInterval ?? EmbedderCache.DefaultRecheckInterval;

    /// <summary>
    /// The embedder called <paramref name="name"/>, loaded once per process. A connection that
    /// asks for the same embedder again while the database is unchanged (no row written by it, no
    /// commit by another) skips reading the registry, which keeps <c>rec_embed</c>'s cost per call
    /// down to the model's.
    /// </summary>
    public static Embedder Resolve(Session session, string function, string name)
    {
        if (name == HashEmbedder.BuiltInName) return HashEmbedder.BuiltIn;
        var stamp = session.Db.ChangeStamp();
        if (session.LastEmbedder is { } last && last.Name == name && last.Stamp == stamp)
            return EmbedderCache.Get(function, last.Row, session.BaseFolder, Recheck(session), last.Embedder);
        var row = EmbedderStore.Find(session.Db, name) ?? throw Errors.UnknownEmbedder(function, name, Names(session));
        var embedder = EmbedderCache.Get(function, row, session.BaseFolder, Recheck(session));
        session.LastEmbedder = (name, stamp, row, embedder);
        return embedder;
    }

    /// <summary>
    /// <c>rec_register_embedder</c>: loads and checks the embedder, then stores it. Registering the
    /// same name with the same options again changes nothing (scripts can run twice); other
    /// options under a taken name are refused, since vectors from the two would not be comparable.
    /// </summary>
    public static string Register(Session session, string function, string name, string optionsJson)
    {
        if (name == HashEmbedder.BuiltInName) throw Errors.EmbedderBuiltIn(function, name);
        var baseFolder = session.BaseFolder;
        var definition = EmbedderDefinition.Parse(function, optionsJson, baseFolder);
        var embedder = EmbedderCache.Load(function, name, definition, baseFolder);
        var row = new EmbedderRow(name, definition.Kind, embedder.Definition.ToJson().ToJsonString(), embedder.Dimension);
        var existing = EmbedderStore.Find(session.Db, name);
        if (existing is not null && existing.Options != row.Options) throw Errors.EmbedderExists(function, name);
        if (existing is null) EmbedderStore.Add(session.Db, row);
        EmbedderCache.Put(function, row, baseFolder, embedder);
        var summary = new JsonObject { ["name"] = name, ["kind"] = definition.Kind, ["dim"] = embedder.Dimension };
        foreach (var (key, value) in embedder.Definition.ToJson())
        {
            if (key is not ("kind" or "dim")) summary[key] = value?.DeepClone();
        }
        // Where a named model was found, so a user can see which installation is used.
        if (embedder is OnnxEmbedder { Definition: OnnxDefinition { Named: not null } } onnx) summary["model_path"] = onnx.ModelPath;
        return summary.ToJsonString();
    }

    /// <summary><c>rec_drop_embedder</c>: deletes the row; returns 1.</summary>
    public static long Drop(Session session, string function, string name)
    {
        if (name == HashEmbedder.BuiltInName) throw Errors.EmbedderBuiltIn(function, name);
        if (EmbedderStore.Find(session.Db, name) is null) throw Errors.UnknownEmbedder(function, name, Names(session));
        EmbedderStore.Remove(session.Db, name);
        return 1;
    }

    /// <summary><c>rec_embed</c>: one text as a vector BLOB, or NULL for NULL text (the embedder is resolved even then, so a misspelt name fails on the first row).</summary>
    public static byte[]? Embed(Session session, string function, string name, object? value)
    {
        var embedder = Resolve(session, function, name);
        if (value is null) return null;
        if (value is not string text) throw Errors.EmbedTextType(function, value);
        if (string.IsNullOrWhiteSpace(text)) throw Errors.EmbedTextEmpty(function);
        var vector = new float[embedder.Dimension];
        embedder.Embed(function, name, [text], vector);
        return VectorBlob.FromFloats(function, "the embedding", vector);
    }

    private static readonly Func<string, TextRowErrors> EachErrors = function => new(
        message => Errors.QueryFailed(function, QueryRole.EmbedQuery, message),
        (row, got) => Errors.QueryBadId(function, QueryRole.EmbedQuery, "id", row, got),
        (row, id, got) => Errors.EmbedQueryBadText(function, row, id, got),
        (row, id, _) => Errors.EmbedQueryEmptyText(function, row, id),
        NullText: null);

    /// <summary>
    /// <c>rec_embed_each</c>: <c>(id, embedding)</c> for every row of a <c>SELECT id, text</c>,
    /// embedded in batches and streamed, so a whole catalogue goes into a <c>vec0</c> table with
    /// one <c>INSERT ... SELECT</c> without being held in memory.
    /// </summary>
    public static IEnumerator<object?[]> EmbedEach(Session session, string function, string name, string query)
    {
        var embedder = Resolve(session, function, name);
        var statement = SourceReader.PrepareQuery(session.Db, query, function, QueryRole.EmbedQuery);
        if (statement.ColumnCount != 2)
        {
            var columns = statement.ColumnCount;
            statement.Dispose();
            throw Errors.QueryColumns(function, QueryRole.EmbedQuery, columns);
        }
        return new BulkEmbedding(session, function, name, embedder, statement, EachErrors(function));
    }
}
