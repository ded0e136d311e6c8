using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using SqlRec.Sqlite;
using SqlRec.Store;

namespace SqlRec.Embeddings;

/// <summary>
/// The embedders of a database: the built-in <c>hash</c> plus the rows of <c>rec_embedders</c>,
/// written by <c>rec_register_embedder</c> after the embedder was loaded and checked. Resolving a
/// name reads its row and returns the process-wide instance for it (<see cref="EmbedderCache"/>).
/// </summary>
internal static class EmbedderRegistry
{
    /// <summary>A registered embedder's row.</summary>
    internal sealed record Row(string Name, string Kind, string Options, int Dimension);

    /// <summary>The folder relative paths of this connection's embedders are taken from.</summary>
    public static string BaseFolder(SqlRecSession session) =>
        Path.IsPathRooted(session.DatabaseKey) ? Path.GetDirectoryName(session.DatabaseKey) ?? Environment.CurrentDirectory : Environment.CurrentDirectory;

    /// <summary>Checks an embedder name argument.</summary>
    public static string Name(string function, string argument, object? value) =>
        value is string { Length: > 0 and <= Errors.MaxModelNameLength } name && name.Trim().Length > 0
            ? name : throw Errors.EmbedderNameInvalid(function, argument, value);

    private static bool TableExists(SqliteDb db) =>
        db.Scalar("SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = 'rec_embedders'") is not null;

    /// <summary>The row of <paramref name="name"/>, or null.</summary>
    public static Row? Find(SqliteDb db, string name)
    {
        Statement statement;
        try { statement = db.Prepare("SELECT kind, options, dimension FROM main.rec_embedders WHERE name = ?1"); }
        catch (SqliteCallException) when (!TableExists(db)) { return null; }
        using (statement)
        {
            statement.BindAll(name);
            return statement.Step() ? new Row(name, statement.GetText(0)!, statement.GetText(1)!, (int)statement.GetInt64(2)) : null;
        }
    }

    /// <summary>Every embedder name usable here: <c>hash</c>, then the registered ones.</summary>
    public static List<string> Names(SqliteDb db)
    {
        var names = new List<string> { HashEmbedder.BuiltInName };
        if (!TableExists(db)) return names;
        using var statement = db.Prepare("SELECT name FROM main.rec_embedders ORDER BY name");
        while (statement.Step()) names.Add(statement.GetText(0)!);
        return names;
    }

    /// <summary>The last embedder this connection resolved, valid while the database has not changed.</summary>
    private sealed record Resolved(string Name, (uint, long) Stamp, Row Row, Embedder Embedder);

    private static readonly ConditionalWeakTable<SqlRecSession, Resolved> LastResolved = new();

    /// <summary>
    /// The embedder called <paramref name="name"/>, loaded once per process. A connection that
    /// asks for the same embedder again while the database is unchanged (no row written by it, no
    /// commit by another) skips reading the registry, which keeps <c>rec_embed</c>'s cost per call
    /// down to the model's.
    /// </summary>
    public static Embedder Resolve(SqlRecSession session, string function, string name)
    {
        if (name == HashEmbedder.BuiltInName) return HashEmbedder.BuiltIn;
        var stamp = session.Db.ChangeStamp();
        if (LastResolved.TryGetValue(session, out var last) && last.Name == name && last.Stamp == stamp)
            return EmbedderCache.Get(function, last.Row, BaseFolder(session), last.Embedder);
        var row = Find(session.Db, name) ?? throw Errors.UnknownEmbedder(function, name, Names(session.Db));
        var embedder = EmbedderCache.Get(function, row, BaseFolder(session));
        LastResolved.AddOrUpdate(session, new Resolved(name, stamp, row, embedder));
        return embedder;
    }

    /// <summary>
    /// <c>rec_register_embedder</c>: loads and checks the embedder, then stores it. Registering the
    /// same name with the same options again changes nothing (scripts can run twice); other
    /// options under a taken name are refused, since vectors from the two would not be comparable.
    /// </summary>
    public static string Register(SqlRecSession session, string function, string name, string optionsJson)
    {
        if (name == HashEmbedder.BuiltInName) throw Errors.EmbedderBuiltIn(function, name);
        var baseFolder = BaseFolder(session);
        var definition = EmbedderDefinition.Parse(function, optionsJson, baseFolder);
        var embedder = EmbedderCache.Load(function, name, definition, baseFolder);
        var options = embedder.Definition.ToJson().ToJsonString();
        var existing = Find(session.Db, name);
        if (existing is not null && existing.Options != options) throw Errors.EmbedderExists(function, name);
        if (existing is null)
        {
            new ModelStore(session.Db).EnsureSchema();
            session.Db.Execute("INSERT INTO main.rec_embedders(name, kind, options, dimension, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                name, definition.Kind, options, embedder.Dimension,
                DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        }
        EmbedderCache.Put(new Row(name, definition.Kind, options, embedder.Dimension), baseFolder, embedder);
        var summary = new JsonObject { ["name"] = name, ["kind"] = definition.Kind, ["dim"] = embedder.Dimension };
        foreach (var (key, value) in embedder.Definition.ToJson())
        {
            if (key is not ("kind" or "dim")) summary[key] = value?.DeepClone();
        }
        return summary.ToJsonString();
    }

    /// <summary><c>rec_drop_embedder</c>: deletes the row; returns 1.</summary>
    public static long Drop(SqlRecSession session, string function, string name)
    {
        if (name == HashEmbedder.BuiltInName) throw Errors.EmbedderBuiltIn(function, name);
        if (Find(session.Db, name) is null) throw Errors.UnknownEmbedder(function, name, Names(session.Db));
        session.Db.Execute("DELETE FROM main.rec_embedders WHERE name = ?1", name);
        return 1;
    }
}

/// <summary>
/// Embedders loaded in this process, shared by every connection and thread: an ONNX session is
/// created once per model file and options, not per call or per connection. An entry is keyed by
/// the stored options and the folder relative paths are taken from, and remembers the model
/// file's size and time, looked at again at most every two seconds, so a replaced file is loaded
/// anew. Entries are never disposed: a session may be running on another thread.
/// </summary>
internal static class EmbedderCache
{
    /// <summary>How long a loaded embedder is used before its files are looked at again (tests shorten it).</summary>
    internal static TimeSpan RecheckInterval = TimeSpan.FromSeconds(2);

    private sealed class Entry
    {
        public Entry(Embedder embedder, string stamp)
        {
            Embedder = embedder;
            Stamp = stamp;
            embedder.CacheEntry = this;
        }

        public Embedder Embedder { get; }
        public string Stamp { get; }
        public long CheckedAt = Stopwatch.GetTimestamp();
        public bool Live = true;
    }

    private static readonly ConcurrentDictionary<string, Entry> Entries = new(StringComparer.Ordinal);
    private static readonly object LoadLock = new();

    private static string Key(EmbedderRegistry.Row row, string baseFolder) => baseFolder + "\n" + row.Options;

    /// <summary>
    /// The loaded embedder for a registry row; loads it on first use or when its files changed.
    /// <paramref name="known"/> is the instance the caller had for this row: while it is still the
    /// cached one and not due for a look at its files, it is returned without building the key.
    /// </summary>
    public static Embedder Get(string function, EmbedderRegistry.Row row, string baseFolder, Embedder? known = null)
    {
        if (known is not null && known.CacheEntry is Entry current && Stopwatch.GetElapsedTime(current.CheckedAt) < RecheckInterval && current.Live)
            return Check(function, row, known);
        var key = Key(row, baseFolder);
        if (Entries.TryGetValue(key, out var entry))
        {
            if (Stopwatch.GetElapsedTime(entry.CheckedAt) < RecheckInterval) return Check(function, row, entry.Embedder);
            if (Stamp(row.Options, baseFolder) == entry.Stamp)
            {
                entry.CheckedAt = Stopwatch.GetTimestamp();
                return Check(function, row, entry.Embedder);
            }
        }
        // One load at a time: two threads must not both build a session for the same model.
        lock (LoadLock)
        {
            if (Entries.TryGetValue(key, out entry) && Stamp(row.Options, baseFolder) == entry.Stamp) return Check(function, row, entry.Embedder);
            EmbedderDefinition definition;
            try { definition = EmbedderDefinition.Parse(function, row.Options, baseFolder); }
            catch (SqlRecException e) { throw Errors.EmbedderRowInvalid(function, row.Name, e.Problem ?? e.Message); }
            var embedder = Load(function, row.Name, definition, baseFolder);
            if (entry is not null) entry.Live = false;
            Entries[key] = new Entry(embedder, Stamp(row.Options, baseFolder));
            return Check(function, row, embedder);
        }
    }

    /// <summary>Loads an embedder from a definition (ONNX: session, tokenizer, checks and probes).</summary>
    public static Embedder Load(string function, string name, EmbedderDefinition definition, string baseFolder) => definition switch
    {
        HashDefinition hash => new HashEmbedder(hash),
        OnnxDefinition onnx => OnnxEmbedder.Load(function, name, onnx, baseFolder),
        _ => throw new InvalidOperationException($"unknown embedder definition {definition.GetType().Name}"),
    };

    /// <summary>Remembers an embedder that registration has just loaded, so the first call does not load it again.</summary>
    public static void Put(EmbedderRegistry.Row row, string baseFolder, Embedder embedder)
    {
        if (embedder.CacheEntry is Entry { Live: true }) return;
        if (Entries.TryGetValue(Key(row, baseFolder), out var old)) old.Live = false;
        Entries[Key(row, baseFolder)] = new Entry(embedder, Stamp(row.Options, baseFolder));
    }

    private static Embedder Check(string function, EmbedderRegistry.Row row, Embedder embedder) =>
        embedder.Dimension == row.Dimension ? embedder : throw Errors.EmbedderDimensionChanged(function, row.Name, row.Dimension, embedder.Dimension);

    /// <summary>Size and time of the files an embedder reads ("" for the hash kind).</summary>
    private static string Stamp(string options, string baseFolder)
    {
        if (JsonNode.Parse(options) is not JsonObject json || json["kind"]?.GetValue<string>() != "onnx") return "";
        var parts = new List<string>();
        foreach (var option in new[] { "model", "tokenizer" })
        {
            if (json[option]?.GetValue<string>() is not { } path) continue;
            var file = new FileInfo(EmbedderDefinition.Resolve(path, baseFolder));
            parts.Add(file.Exists ? $"{file.Length}@{file.LastWriteTimeUtc.Ticks}" : "missing");
        }
        return string.Join("|", parts);
    }

    /// <summary>Forgets every loaded embedder (tests).</summary>
    public static void Clear()
    {
        foreach (var entry in Entries.Values) entry.Live = false;
        Entries.Clear();
    }
}
