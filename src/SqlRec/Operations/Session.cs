using SqlRec.Embeddings;
using SqlRec.Sqlite;
using SqlRec.Store;

namespace SqlRec.Operations;

/// <summary>
/// What SqlRec keeps for one connection it was enabled on: the connection, the options it was
/// enabled with, which database it is, and the little state that belongs to the connection (the
/// embedder it resolved last). Every operation runs on a session.
/// </summary>
internal sealed class Session(SqliteDb db, SqlRecOptions options, string databaseKey)
{
    /// <summary>The connection.</summary>
    public SqliteDb Db { get; } = db;

    /// <summary>The options given to UseSqlRec.</summary>
    public SqlRecOptions Options { get; } = options;

    /// <summary>Identifies the database across connections: the file path, or a per-connection key for in-memory databases.</summary>
    public string DatabaseKey { get; } = databaseKey;

    /// <summary>The folder relative paths of this connection's embedders are taken from: the database's, or the current one for an in-memory database.</summary>
    public string BaseFolder => Path.IsPathRooted(DatabaseKey) ? Path.GetDirectoryName(DatabaseKey) ?? Environment.CurrentDirectory : Environment.CurrentDirectory;

    /// <summary>The model store of this connection's database.</summary>
    public ModelStore Store { get; } = new(db, options.FaultInjection, options.ArrayPartElements ?? ModelStore.ArrayPartElements);

    /// <summary>The embedder this connection resolved last, valid while the database has not changed since (see <see cref="Embedders.Resolve"/>).</summary>
    internal (string Name, (uint, long) Stamp, EmbedderRow Row, Embedder Embedder)? LastEmbedder { get; set; }

    /// <summary>
    /// Stored query texts already checked on this connection (<see cref="Store.QueryPolicy"/>), so a live
    /// model's source is inspected once per connection, not on every call. Bounded: cleared when full.
    /// </summary>
    internal HashSet<string> CheckedStoredQueries { get; } = new(StringComparer.Ordinal);

    /// <summary>Before a function that writes: fails when the schema has triggers or views SqlRec did not create on or in place of its tables.</summary>
    public void BeforeWrite(string function) => Store.RefuseForeignObjects(function);

    /// <summary>The session of an open connection (SQLite's entry points already bound): applies the busy timeout when the connection has none.</summary>
    public static Session Open(nint handle, SqlRecOptions options)
    {
        var db = new SqliteDb(handle);
        if (options.BusyTimeout > TimeSpan.Zero && db.Scalar("PRAGMA busy_timeout") is 0L)
            db.Execute($"PRAGMA busy_timeout = {(long)options.BusyTimeout.TotalMilliseconds}");
        var file = db.MainFileName;
        return new Session(db, options, file.Length > 0 ? Path.GetFullPath(file) : $"memory:{db.Handle:x}");
    }
}
