using System.Text;

namespace SqlRec.Sqlite;

/// <summary>
/// One SQLite connection, typed: the raw <c>sqlite3*</c> of the connection SqlRec was enabled on
/// (or of a short-lived side connection it opened), with the few operations every layer above
/// needs - statements, one-off commands, savepoints, table checks. Every call goes through
/// <see cref="SqliteApi"/>. A value type: copying it copies the handle, not the connection.
/// </summary>
internal readonly unsafe struct SqliteDb : IEquatable<SqliteDb>
{
    public SqliteDb(nint handle)
    {
        if (handle == 0) throw new ArgumentException("a SQLite connection handle must not be null", nameof(handle));
        Handle = handle;
    }

    /// <summary>The raw <c>sqlite3*</c>.</summary>
    public nint Handle { get; }

    /// <summary>The connection's last error message.</summary>
    public string ErrorMessage => SqliteApi.Utf8(SqliteApi.errmsg(Handle)) ?? "unknown SQLite error";

    /// <summary>
    /// True once the caller asked SQLite to stop the running statement (sqlite3_interrupt). SQLite
    /// 3.41 and later say so directly; an older host is asked with a statement, which SQLite refuses
    /// with SQLITE_INTERRUPT while the interrupt of the running statement stands.
    /// </summary>
    public bool IsInterrupted
    {
        get
        {
            if (SqliteApi.is_interrupted != null) return SqliteApi.is_interrupted(Handle) != 0;
            ReadOnlySpan<byte> probe = "SELECT 1\0"u8;
            nint statement;
            int rc;
            fixed (byte* p = probe) rc = SqliteApi.prepare_v2(Handle, p, -1, &statement, null);
            if (rc == SqliteApi.SQLITE_OK && statement != 0)
            {
                rc = SqliteApi.step(statement);
                SqliteApi.finalize(statement);
            }
            return rc == SqliteApi.SQLITE_INTERRUPT;
        }
    }

    /// <summary>True when no transaction is open on the connection.</summary>
    public bool IsAutocommit => SqliteApi.get_autocommit(Handle) != 0;

    /// <summary>The path of the main database file, or "" for an in-memory or temporary database.</summary>
    public string MainFileName
    {
        get
        {
            ReadOnlySpan<byte> main = "main\0"u8;
            fixed (byte* p = main) return SqliteApi.Utf8(SqliteApi.db_filename(Handle, p)) ?? "";
        }
    }

    /// <summary>
    /// A number that changes whenever the main database changes, by this connection (each row
    /// changed, even inside an open transaction) or by any other (each commit).
    /// </summary>
    public (uint DataVersion, long Changes) ChangeStamp()
    {
        uint version = 0;
        ReadOnlySpan<byte> main = "main\0"u8;
        fixed (byte* name = main) SqliteApi.file_control(Handle, name, SqliteApi.SQLITE_FCNTL_DATA_VERSION, &version);
        return (version, SqliteApi.total_changes64(Handle));
    }

    /// <summary>Prepares one statement; text after it is returned in <paramref name="tail"/>.</summary>
    public Statement Prepare(string sql, out string tail) => Statement.Prepare(this, sql, out tail);

    /// <summary>Prepares a statement that must be the whole text.</summary>
    public Statement Prepare(string sql) => Statement.Prepare(this, sql, out _);

    /// <summary>Runs a statement that returns no rows.</summary>
    public void Execute(string sql, params ReadOnlySpan<object?> args)
    {
        using var statement = Prepare(sql);
        statement.BindAll(args);
        statement.Execute();
    }

    /// <summary>Runs several statements separated by semicolons (no parameters).</summary>
    public void ExecuteScript(string sql)
    {
        var rest = sql;
        while (!string.IsNullOrWhiteSpace(rest))
        {
            using var statement = Prepare(rest, out var tail);
            statement.Execute();
            rest = tail;
        }
    }

    /// <summary>The first column of the first row, or null when there is no row.</summary>
    public object? Scalar(string sql, params ReadOnlySpan<object?> args)
    {
        using var statement = Prepare(sql);
        statement.BindAll(args);
        return statement.Step() ? statement.GetValue(0) : null;
    }

    /// <summary>True when the main database has a table called <paramref name="table"/>.</summary>
    public bool TableExists(string table) =>
        Scalar("SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = ?1", table) is not null;

    /// <summary>True when a SQL function called <paramref name="name"/> is registered on the connection.</summary>
    public bool HasFunction(string name) => Scalar("SELECT 1 FROM pragma_function_list WHERE name = ?1", name) is not null;

    /// <summary>
    /// The functions (scalar, aggregate, window) the program of <paramref name="sql"/> calls, by
    /// name, as EXPLAIN lists them: the calls inside views and subqueries are in the program too.
    /// Table-valued functions are not (they are virtual tables).
    /// </summary>
    public IReadOnlySet<string> FunctionsCalledBy(string sql)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        using var explain = Prepare("EXPLAIN " + sql, out _);
        while (explain.Step())
        {
            var opcode = explain.GetText(1) ?? "";
            if (!opcode.StartsWith("Function", StringComparison.Ordinal) && !opcode.StartsWith("PureFunc", StringComparison.Ordinal)
                && !opcode.StartsWith("Agg", StringComparison.Ordinal)) continue;
            // P4 of a call is "name(arguments)", e.g. "abs(1)", "json_extract(-1)".
            var p4 = explain.GetText(5) ?? "";   // columns: addr, opcode, p1, p2, p3, p4, p5, comment
            var open = p4.LastIndexOf('(');
            if (open > 0 && p4.EndsWith(')')) names.Add(p4[..open]);
        }
        return names;
    }

    /// <summary>
    /// Whether function <paramref name="name"/> is built into SQLite, and its flags (SQLITE_DIRECTONLY,
    /// SQLITE_INNOCUOUS, ... of all its forms together), from <c>pragma_function_list</c>; null when no
    /// function has that name.
    /// </summary>
    public (bool Builtin, long Flags)? FunctionTraits(string name)
    {
        using var statement = Prepare("SELECT builtin, flags FROM pragma_function_list WHERE name = ?1 COLLATE NOCASE");
        statement.BindAll(name);
        bool? builtin = null;
        long flags = 0;
        while (statement.Step())
        {
            builtin = (builtin ?? true) && statement.GetInt64(0) != 0;
            flags |= statement.GetInt64(1);
        }
        return builtin is { } b ? (b, flags) : null;
    }

    /// <summary>True when table <paramref name="table"/> of the main database has column <paramref name="column"/>.</summary>
    public bool HasColumn(string table, string column) =>
        Scalar("SELECT 1 FROM pragma_table_info(?1, 'main') WHERE name = ?2", table, column) is not null;

    /// <summary>
    /// Runs <paramref name="work"/> inside savepoint <paramref name="name"/>: released when it
    /// returns, rolled back when it throws (the exception goes on). The one way SqlRec groups
    /// writes, so a failure part way leaves the database as it was.
    /// </summary>
    /// <remarks>
    /// When no transaction is open, the work runs in a transaction begun with BEGIN IMMEDIATE: the
    /// write lock is taken up front, waiting for it with the busy timeout. A deferred transaction
    /// that reads first and writes later would hold a read lock that another writer waits on, and
    /// SQLite then refuses the upgrade at once (SQLITE_BUSY without waiting) to break the deadlock.
    /// A commit that fails (SQLITE_BUSY while readers stay, a full disk) is rolled back, so the
    /// connection is never left inside a half-written transaction.
    /// </remarks>
    public T InSavepoint<T>(string name, Func<T> work)
    {
        var own = IsAutocommit;
        if (own) Execute("BEGIN IMMEDIATE");
        T result;
        try
        {
            Execute($"SAVEPOINT {name}");
            try
            {
                result = work();
                Execute($"RELEASE {name}");
            }
            catch
            {
                try
                {
                    Execute($"ROLLBACK TO {name}");
                    Execute($"RELEASE {name}");
                }
                catch (SqliteCallException)
                {
                    // The savepoint is gone when SQLite already rolled the whole transaction back (e.g. on SQLITE_FULL).
                }
                throw;
            }
            if (own) Execute("COMMIT");
        }
        catch when (own)
        {
            RollbackIfOpen();
            throw;
        }
        return result;
    }

    /// <summary>Ends the open transaction, if any, without its changes (after a failed write or commit).</summary>
    private void RollbackIfOpen()
    {
        if (IsAutocommit) return;
        try { Execute("ROLLBACK"); }
        catch (SqliteCallException)
        {
            // Nothing more can be done here; SQLite rolls back a transaction it cannot finish when the connection closes.
        }
    }

    /// <summary><see cref="InSavepoint{T}"/> for work with no result.</summary>
    public void InSavepoint(string name, Action work) => InSavepoint(name, () =>
    {
        work();
        return 0;
    });

    /// <summary>
    /// Opens a second, short-lived connection to the file <paramref name="path"/> (read-write,
    /// never creating it), with a busy timeout; the caller closes it with <see cref="Close"/>.
    /// </summary>
    public static SqliteDb OpenSide(string path, int busyTimeoutMilliseconds)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        nint handle;
        int rc;
        fixed (byte* p = bytes) rc = SqliteApi.open_v2(p, &handle, SqliteApi.SQLITE_OPEN_READWRITE | SqliteApi.SQLITE_OPEN_NOMUTEX, null);
        if (rc != SqliteApi.SQLITE_OK)
        {
            var message = handle == 0 ? $"cannot open '{path}'" : SqliteApi.Utf8(SqliteApi.errmsg(handle)) ?? $"cannot open '{path}'";
            if (handle != 0) SqliteApi.close_v2(handle);
            throw new SqliteCallException(rc, message);
        }
        SqliteApi.busy_timeout(handle, busyTimeoutMilliseconds);
        return new SqliteDb(handle);
    }

    /// <summary>Closes a connection this process opened with <see cref="OpenSide"/>.</summary>
    public void Close() => SqliteApi.close_v2(Handle);

    /// <inheritdoc />
    public bool Equals(SqliteDb other) => Handle == other.Handle;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SqliteDb other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => Handle.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => $"sqlite3 {Handle:x}";
}

/// <summary>A failed call into SQLite, with its result code and message.</summary>
internal sealed class SqliteCallException(int resultCode, string message) : Exception(message)
{
    /// <summary>The SQLite result code.</summary>
    public int ResultCode { get; } = resultCode;

    /// <summary>True when the call failed because the caller interrupted the connection.</summary>
    public bool IsInterrupt => ResultCode == SqliteApi.SQLITE_INTERRUPT;

    /// <summary>True when another connection held a lock past the busy timeout (SQLITE_BUSY, SQLITE_LOCKED and their extended codes).</summary>
    public bool IsBusy => (ResultCode & 0xff) is SqliteApi.SQLITE_BUSY or SqliteApi.SQLITE_LOCKED;
}
