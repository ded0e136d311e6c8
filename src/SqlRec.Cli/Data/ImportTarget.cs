using Microsoft.Data.Sqlite;

namespace SqlRec.Cli.Data;

/// <summary>
/// The database an import writes into: one transaction around everything, so an error leaves
/// the database exactly as it was (and a database file the import created is removed again).
/// </summary>
internal sealed class ImportTarget : IDisposable
{
    private readonly string _path;
    private readonly bool _created;
    private bool _committed;

    private ImportTarget(string path, bool created, SqliteConnection connection, SqliteTransaction transaction)
    {
        _path = path;
        _created = created;
        Connection = connection;
        Transaction = transaction;
    }

    /// <summary>The open connection.</summary>
    public SqliteConnection Connection { get; }

    /// <summary>The transaction every command of the import runs in.</summary>
    public SqliteTransaction Transaction { get; }

    /// <summary>
    /// Opens (or creates) the database and starts the transaction. Tables or views named in
    /// <paramref name="tables"/> that already exist are an error naming them, unless
    /// <paramref name="replace"/> is set, in which case they are dropped inside the transaction.
    /// </summary>
    public static ImportTarget Open(string dbPath, IReadOnlyList<string> tables, bool replace)
    {
        var path = Path.GetFullPath(dbPath);
        var created = !File.Exists(path);
        var connection = Databases.OpenOrCreate(path);
        SqliteTransaction? transaction = null;
        try
        {
            // WAL lets readers keep working while a later import or training writes; only set on
            // a file made here, since the journal mode of a user's existing database is theirs.
            if (created) Execute(connection, null, "PRAGMA journal_mode = WAL");
            transaction = connection.BeginTransaction();
            var existing = ExistingObjects(connection, transaction, tables);
            if (existing.Count > 0 && !replace)
            {
                throw CliErrors.TablesExist([.. existing.Select(e => e.Name)], path);
            }
            foreach (var (name, type) in existing)
                Execute(connection, transaction, $"DROP {(type == "view" ? "VIEW" : "TABLE")} {Quote(name)}");
            return new ImportTarget(path, created, connection, transaction);
        }
        catch
        {
            transaction?.Dispose();
            connection.Dispose();
            if (created) Databases.Delete(path);
            throw;
        }
    }

    /// <summary>Runs a statement inside the import's transaction.</summary>
    public void Execute(string sql) => Execute(Connection, Transaction, sql);

    /// <summary>A command bound to the import's transaction, to prepare and reuse.</summary>
    public SqliteCommand CreateCommand(string sql)
    {
        var command = Connection.CreateCommand();
        command.Transaction = Transaction;
        command.CommandText = sql;
        return command;
    }

    /// <summary>Makes the import visible.</summary>
    public void Commit()
    {
        Transaction.Commit();
        _committed = true;
    }

    /// <summary>Rolls back unless committed; removes a database file this import created and did not finish.</summary>
    public void Dispose()
    {
        Transaction.Dispose();
        Connection.Dispose();
        if (!_committed && _created) Databases.Delete(_path);
    }

    /// <summary>Quotes an SQL identifier.</summary>
    public static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static List<(string Name, string Type)> ExistingObjects(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<string> tables)
    {
        var found = new List<(string, string)>();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        // Names in SQLite are case-insensitive: "Ratings" would collide with "ratings".
        command.CommandText = "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name = $name COLLATE NOCASE";
        var parameter = command.Parameters.Add("$name", SqliteType.Text);
        foreach (var table in tables)
        {
            parameter.Value = table;
            using var reader = command.ExecuteReader();
            while (reader.Read()) found.Add((reader.GetString(0), reader.GetString(1)));
        }
        return found;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
