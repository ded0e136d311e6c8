using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace SqlRec.Tests;

/// <summary>
/// A SQLite database with SqlRec enabled, in memory or in a temporary file that is deleted on
/// dispose, with small helpers to run SQL and check SqlRec's exact error messages.
/// </summary>
public sealed partial class TestDb : IDisposable
{
    private readonly string? _directory;

    private TestDb(SqliteConnection connection, string? directory, string? path)
    {
        Connection = connection;
        _directory = directory;
        Path = path;
    }

    /// <summary>The open connection, with SqlRec enabled.</summary>
    public SqliteConnection Connection { get; }

    /// <summary>The database file, or null for an in-memory database.</summary>
    public string? Path { get; }

    /// <summary>An in-memory database.</summary>
    public static TestDb InMemory(SqlRecOptions? options = null)
    {
        var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        Enable(connection, options);
        return new TestDb(connection, null, null);
    }

    /// <summary>
    /// Enables SqlRec: UseSqlRec(), or, when the run drives the loadable extension
    /// (<see cref="ExtensionHost.Enabled"/>), loading sqlrec.so into the connection as any host would.
    /// A test that injects settings only the .NET library takes is inconclusive there, with the reason.
    /// </summary>
    internal static void Enable(SqliteConnection connection, SqlRecOptions? options)
    {
        if (!ExtensionHost.Enabled)
        {
            connection.UseSqlRec(options);
            return;
        }
        if (options is not null)
            Assert.Inconclusive("this test injects SqlRecOptions, which only the .NET library takes; the run through the loadable extension skips it");
        ExtensionHost.Load(connection);
    }

    /// <summary>A database in a fresh temporary file (WAL mode).</summary>
    public static TestDb InFile(SqlRecOptions? options = null)
    {
        var directory = Directory.CreateTempSubdirectory("sqlrec-test-").FullName;
        var path = System.IO.Path.Combine(directory, "test.db");
        var connection = OpenFile(path, options);
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL";
            wal.ExecuteNonQuery();
        }
        return new TestDb(connection, directory, path);
    }

    /// <summary>Another connection to the same file, with SqlRec enabled.</summary>
    public SqliteConnection OpenAnother(SqlRecOptions? options = null) =>
        OpenFile(Path ?? throw new InvalidOperationException("an in-memory database has no second connection"), options);

    private static SqliteConnection OpenFile(string path, SqlRecOptions? options)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        Enable(connection, options);
        return connection;
    }

    /// <summary>Runs statements that return nothing.</summary>
    public TestDb Execute(string sql, params object?[] args)
    {
        Run(Connection, sql, args, c => c.ExecuteNonQuery());
        return this;
    }

    /// <summary>The first column of the first row.</summary>
    public object? Scalar(string sql, params object?[] args) => Scalar(Connection, sql, args);

    /// <summary>The first column of the first row on any connection.</summary>
    public static object? Scalar(SqliteConnection connection, string sql, params object?[] args) =>
        Run(connection, sql, args, c => c.ExecuteScalar() is var value && value is DBNull ? null : value);

    /// <summary>All rows, each as an array of column values (DBNull becomes null).</summary>
    public List<object?[]> Rows(string sql, params object?[] args) => Rows(Connection, sql, args);

    /// <summary>All rows on any connection.</summary>
    public static List<object?[]> Rows(SqliteConnection connection, string sql, params object?[] args) =>
        Run(connection, sql, args, c =>
        {
            using var reader = c.ExecuteReader();
            var rows = new List<object?[]>();
            while (reader.Read())
            {
                var row = new object?[reader.FieldCount];
                reader.GetValues(row!);
                for (var i = 0; i < row.Length; i++) if (row[i] is DBNull) row[i] = null;
                rows.Add(row);
            }
            return rows;
        });

    private static T Run<T>(SqliteConnection connection, string sql, object?[] args, Func<SqliteCommand, T> action)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        for (var i = 0; i < args.Length; i++) command.Parameters.AddWithValue($"${i + 1}", args[i] ?? DBNull.Value);
        return action(command);
    }

    /// <summary>
    /// Runs <paramref name="sql"/> and asserts it fails with exactly <paramref name="expected"/> as
    /// SQLite's error message (Microsoft.Data.Sqlite wraps it as <c>SQLite Error N: 'message'.</c>).
    /// </summary>
    public void AssertError(string sql, string expected, params object?[] args) => AssertError(Connection, sql, expected, args);

    /// <summary>The same on any connection.</summary>
    public static void AssertError(SqliteConnection connection, string sql, string expected, params object?[] args)
    {
        var error = Assert.ThrowsExactly<SqliteException>(() => Rows(connection, sql, args));
        Assert.AreEqual(expected, SqliteMessage(error), $"for: {sql}");
    }

    /// <summary>The message SQLite gave, without Microsoft.Data.Sqlite's wrapping.</summary>
    public static string SqliteMessage(SqliteException error)
    {
        var match = Wrapped().Match(error.Message);
        return match.Success ? match.Groups[1].Value : error.Message;
    }

    [GeneratedRegex(@"^SQLite Error \d+: '(.*)'\.$", RegexOptions.Singleline)]
    private static partial Regex Wrapped();

    /// <summary>Closes the connection and deletes the temporary file.</summary>
    public void Dispose()
    {
        Connection.Dispose();
        if (_directory != null)
        {
            try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
        }
    }
}
