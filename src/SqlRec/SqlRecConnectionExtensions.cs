using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using SqlRec.Operations;
using SqlRec.Sql;
using SqlRec.Sqlite;

namespace SqlRec;

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
        try
        {
            // Session.Open sets the busy timeout first, so every statement after it waits for locks.
            var session = Session.Open(connection.Handle!.DangerousGetHandle(), options);
            if (options.LoadVectorExtension && !session.Db.HasFunction("vec_version"))
                LoadVectorExtension(connection, options);
            SqlSurface.RegisterAll(session);
        }
        catch (SqliteCallException e)
        {
            // A locked, unreadable or damaged file: a named SqlRec message, never SQLite's bare text.
            throw Errors.Sqlite("UseSqlRec", e.ResultCode, e.Message);
        }
    }

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
