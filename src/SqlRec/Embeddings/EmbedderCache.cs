using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace SqlRec.Embeddings;

/// <summary>A registered embedder as stored: its name, kind, validated options (JSON) and vector dimension.</summary>
internal sealed record EmbedderRow(string Name, string Kind, string Options, int Dimension);

/// <summary>
/// Embedders loaded in this process, shared by every connection and thread: an ONNX session is
/// created once per model file and options, not per call or per connection. An entry is keyed by
/// the stored options and the folder relative paths are taken from, and remembers the model
/// file's size and time, looked at again at most every two seconds, so a replaced file is loaded
/// anew. Entries are never disposed: a session may be running on another thread.
/// </summary>
internal static class EmbedderCache
{
    /// <summary>How long a loaded embedder is used before its files are looked at again, unless the caller says otherwise.</summary>
    public static readonly TimeSpan DefaultRecheckInterval = TimeSpan.FromSeconds(2);

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

    private static string Key(string options, string baseFolder) => baseFolder + "\n" + options;

    /// <summary>
    /// The loaded embedder for a registered one (its name, stored options and dimension); loads it
    /// on first use or when its files changed (looked at again after <paramref name="recheck"/>).
    /// <paramref name="known"/> is the instance the caller had for it: while it is still the cached
    /// one and not due for a look at its files, it is returned without building the key.
    /// </summary>
    public static Embedder Get(string function, EmbedderRow row, string baseFolder, TimeSpan recheck, Embedder? known = null)
    {
        if (known is not null && known.CacheEntry is Entry current && Stopwatch.GetElapsedTime(current.CheckedAt) < recheck && current.Live)
            return Check(function, row, known);
        var key = Key(row.Options, baseFolder);
        if (Entries.TryGetValue(key, out var entry))
        {
            if (Stopwatch.GetElapsedTime(entry.CheckedAt) < recheck) return Check(function, row, entry.Embedder);
            if (Stamp(function, row.Options, baseFolder) == entry.Stamp)
            {
                entry.CheckedAt = Stopwatch.GetTimestamp();
                return Check(function, row, entry.Embedder);
            }
        }
        // One load at a time: two threads must not both build a session for the same model.
        lock (LoadLock)
        {
            if (Entries.TryGetValue(key, out entry) && Stamp(function, row.Options, baseFolder) == entry.Stamp) return Check(function, row, entry.Embedder);
            // A file that is gone is reported as such (put it back), not as a registry row to drop and register again.
            foreach (var (option, file) in Files(function, row.Options, baseFolder))
            {
                if (!file.Exists) throw Errors.EmbedderFileMissing(function, option, file.FullName);
            }
            EmbedderDefinition definition;
            try { definition = EmbedderDefinition.Parse(function, row.Options, baseFolder); }
            catch (SqlRecException e) { throw Errors.EmbedderRowInvalid(function, row.Name, e.Problem ?? e.Message); }
            var embedder = Load(function, row.Name, definition, baseFolder);
            if (entry is not null) entry.Live = false;
            Entries[key] = new Entry(embedder, Stamp(function, row.Options, baseFolder));
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
    public static void Put(string function, EmbedderRow row, string baseFolder, Embedder embedder)
    {
        if (embedder.CacheEntry is Entry { Live: true }) return;
        if (Entries.TryGetValue(Key(row.Options, baseFolder), out var old)) old.Live = false;
        Entries[Key(row.Options, baseFolder)] = new Entry(embedder, Stamp(function, row.Options, baseFolder));
    }

    private static Embedder Check(string function, EmbedderRow row, Embedder embedder) =>
        embedder.Dimension == row.Dimension ? embedder : throw Errors.EmbedderDimensionChanged(function, row.Name, row.Dimension, embedder.Dimension);

    /// <summary>Size and time of the files an embedder reads ("" for the hash kind).</summary>
    private static string Stamp(string function, string options, string baseFolder) =>
        string.Join("|", Files(function, options, baseFolder).Select(f => f.File.Exists ? $"{f.File.Length}@{f.File.LastWriteTimeUtc.Ticks}" : "missing"));

    /// <summary>
    /// The files stored options name (an ONNX embedder's model, then its tokenizer), resolved; none
    /// for the hash kind, and none for options that do not read (parsing them reports what is wrong).
    /// </summary>
    private static List<(string Option, FileInfo File)> Files(string function, string options, string baseFolder)
    {
        var files = new List<(string, FileInfo)>();
        try
        {
            if (JsonNode.Parse(options) is not JsonObject json || json["kind"] is not JsonValue kind || !kind.TryGetValue(out string? name) || name != "onnx")
                return files;
            // A named model's files are wherever it is installed (found and checked: an error when it is not there).
            if (json["model"] is JsonValue named && named.TryGetValue(out string? modelName) && NamedModels.Find(modelName) is { } model)
            {
                var (modelPath, vocabularyPath) = NamedModels.Locate(function, model);
                files.Add(("model", new FileInfo(modelPath)));
                files.Add(("tokenizer", new FileInfo(vocabularyPath)));
                return files;
            }
            foreach (var option in new[] { "model", "tokenizer" })
            {
                if (json[option] is JsonValue value && value.TryGetValue(out string? path) && path.Length > 0)
                    files.Add((option, new FileInfo(EmbedderDefinition.Resolve(path, baseFolder))));
            }
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException or NotSupportedException or PathTooLongException)
        {
            files.Clear();
        }
        return files;
    }

    /// <summary>Forgets every loaded embedder (tests).</summary>
    public static void Clear()
    {
        foreach (var entry in Entries.Values) entry.Live = false;
        Entries.Clear();
    }
}
