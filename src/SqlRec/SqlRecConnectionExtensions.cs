using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using SqlRec.Sqlite;
using SqlRec.Sql;

namespace SqlRec;

/// <summary>The state SqlRec keeps for one native connection: its handle, options and identity.</summary>
internal sealed class SqlRecSession(SqliteDb db, SqlRecOptions options, string databaseKey)
{
    /// <summary>The connection.</summary>
    public SqliteDb Db { get; } = db;

    /// <summary>The options given to UseSqlRec.</summary>
    public SqlRecOptions Options { get; } = options;

    /// <summary>Identifies the database across connections: the file path, or a per-connection key for in-memory databases.</summary>
    public string DatabaseKey { get; } = databaseKey;

    /// <summary>Registers every SQL function of the registration table on this connection.</summary>
    public void RegisterAll()
    {
        foreach (var function in SqlFunctions.Scalars) SqlSurface.Register(this, function);
        foreach (var table in SqlFunctions.Tables) SqlSurface.Register(this, table);
    }
}

/// <summary>Enables SqlRec on a Microsoft.Data.Sqlite connection.</summary>
public static class SqlRecConnectionExtensions
{
    private static readonly ConditionalWeakTable<SqliteConnection, SqlRecOptions> Enabled = new();

    /// <summary>
    /// Enables SqlRec on an open connection: loads sqlite-vec (and turns extension loading off
    /// again) and registers every SqlRec SQL function. The model store tables are created by the
    /// first <c>rec_train</c>. If the connection is closed and opened again, SqlRec is enabled again
    /// on the new native connection. Returns the connection for chaining.
    /// </summary>
    /// <exception cref="InvalidOperationException">The connection is not open.</exception>
    /// <exception cref="SqlRecException">sqlite-vec cannot be found or loaded, or a function cannot be registered.</exception>
    public static SqliteConnection UseSqlRec(this SqliteConnection connection, SqlRecOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        options ??= new SqlRecOptions();
        options.Validate();
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("SqlRec stores little-endian arrays and runs on little-endian machines only.");
        if (connection.State != System.Data.ConnectionState.Open)
            throw new InvalidOperationException("UseSqlRec() needs an open connection; call Open() first.");
        Apply(connection, options);
        if (!Enabled.TryGetValue(connection, out _))
        {
            connection.StateChange += (sender, change) =>
            {
                if (change.CurrentState == System.Data.ConnectionState.Open && sender is SqliteConnection reopened && Enabled.TryGetValue(reopened, out var saved))
                    Apply(reopened, saved);
            };
        }
        Enabled.AddOrUpdate(connection, options);
        return connection;
    }

    private static void Apply(SqliteConnection connection, SqlRecOptions options)
    {
        SqliteApi.UseBundledLibrary();
        var db = new SqliteDb(connection.Handle!.DangerousGetHandle());
        if (options.LoadVectorExtension && !HasFunction(db, "vec_version")) LoadVectorExtension(connection, options);
        if (options.BusyTimeout > TimeSpan.Zero && db.Scalar("PRAGMA busy_timeout") is 0L)
            db.Execute($"PRAGMA busy_timeout = {(long)options.BusyTimeout.TotalMilliseconds}");
        var file = db.MainFileName;
        var key = file.Length > 0 ? Path.GetFullPath(file) : $"memory:{db.Handle:x}";
        new SqlRecSession(db, options, key).RegisterAll();
    }

    private static bool HasFunction(SqliteDb db, string name) =>
        db.Scalar("SELECT 1 FROM pragma_function_list WHERE name = ?1", name) is not null;

    private static void LoadVectorExtension(SqliteConnection connection, SqlRecOptions options)
    {
        var path = options.ResolveVectorExtensionPath();
        if (!File.Exists(path))
            throw Errors.VectorExtensionMissing(path);
        connection.EnableExtensions(true);
        try
        {
            connection.LoadExtension(path);
        }
        catch (SqliteException e)
        {
            throw Errors.VectorExtensionLoadFailed(path, e.Message, e);
        }
        finally
        {
            // Extension loading stays off for the application: SQL must not be able to load code.
            connection.EnableExtensions(false);
        }
    }
}
