using System.Text;

namespace SqlRec.Sqlite;

/// <summary>
/// A prepared statement on a raw connection handle. SqlRec's SQL callbacks run inside a statement
/// of the caller's, on whatever connection called them, so the store talks to SQLite through
/// these rather than through Microsoft.Data.Sqlite commands (which demand the caller's
/// transaction object and are not available to a loadable extension).
/// </summary>
internal sealed unsafe class Statement : IDisposable
{
    private readonly SqliteDb _db;
    private nint _handle;

    private Statement(SqliteDb db, nint handle, string sql)
    {
        _db = db;
        _handle = handle;
        Sql = sql;
    }

    /// <summary>The SQL text the statement was prepared from.</summary>
    public string Sql { get; }

    /// <summary>The raw sqlite3_stmt pointer.</summary>
    public nint Handle => _handle;

    /// <summary>Prepares one statement; text after it is reported in <paramref name="tail"/>.</summary>
    internal static Statement Prepare(SqliteDb db, string sql, out string tail)
    {
        var bytes = Encoding.UTF8.GetBytes(sql);
        nint handle;
        byte* tailPointer;
        int rc;
        fixed (byte* p = bytes)
        {
            rc = SqliteApi.prepare_v2(db.Handle, p, bytes.Length, &handle, &tailPointer);
            tail = tailPointer == null ? "" : Encoding.UTF8.GetString(tailPointer, bytes.Length - (int)(tailPointer - p));
        }
        if (rc != SqliteApi.SQLITE_OK)
        {
            var message = db.ErrorMessage;
            if (handle != 0) SqliteApi.finalize(handle);
            throw new SqliteCallException(rc, message);
        }
        if (handle == 0) throw new SqliteCallException(SqliteApi.SQLITE_MISUSE, "the text holds no SQL statement");
        return new Statement(db, handle, sql);
    }

    /// <summary>True when the statement makes no direct change to the database file.</summary>
    public bool IsReadOnly => SqliteApi.stmt_readonly(_handle) != 0;

    /// <summary>Number of result columns.</summary>
    public int ColumnCount => SqliteApi.column_count(_handle);

    /// <summary>Binds parameters 1..n in order.</summary>
    public Statement BindAll(params ReadOnlySpan<object?> values)
    {
        for (var i = 0; i < values.Length; i++) Bind(i + 1, values[i]);
        return this;
    }

    /// <summary>Binds a managed value: null, integers, floating point, string or byte array.</summary>
    public void Bind(int index, object? value)
    {
        int rc;
        switch (value)
        {
            case null: rc = SqliteApi.bind_null(_handle, index); break;
            case long l: rc = SqliteApi.bind_int64(_handle, index, l); break;
            case int i: rc = SqliteApi.bind_int64(_handle, index, i); break;
            case bool b: rc = SqliteApi.bind_int64(_handle, index, b ? 1 : 0); break;
            case double d: rc = SqliteApi.bind_double(_handle, index, d); break;
            case float f: rc = SqliteApi.bind_double(_handle, index, f); break;
            case string s:
                {
                    var bytes = Encoding.UTF8.GetBytes(s);
                    fixed (byte* p = bytes) rc = SqliteApi.bind_text(_handle, index, p, bytes.Length, SqliteApi.Transient);
                    break;
                }
            case byte[] blob: rc = BindBlob(index, blob); break;
            default: throw new ArgumentException($"cannot bind a value of type {value.GetType().Name}");
        }
        Check(rc);
    }

    /// <summary>Binds a BLOB from a span (zero-length blobs stay BLOBs, not NULL).</summary>
    public int BindBlob(int index, ReadOnlySpan<byte> data)
    {
        byte zero = 0;
        fixed (byte* p = data)
        {
            var pointer = data.Length == 0 ? &zero : p;
            return SqliteApi.bind_blob(_handle, index, pointer, data.Length, SqliteApi.Transient);
        }
    }

    /// <summary>
    /// Set when the statement is a query SqlRec runs on someone's behalf: while it steps, the
    /// functions it calls see it as <see cref="QueryNesting.Current"/>.
    /// </summary>
    public QueryFrame? RunsFor { get; set; }

    /// <summary>Steps once: true when a row is ready, false when done.</summary>
    public bool Step()
    {
        int rc;
        if (RunsFor is null) rc = SqliteApi.step(_handle);
        else
        {
            using (QueryNesting.Enter(RunsFor)) rc = SqliteApi.step(_handle);
        }
        if (rc == SqliteApi.SQLITE_ROW) return true;
        if (rc == SqliteApi.SQLITE_DONE) return false;
        var message = _db.ErrorMessage;
        SqliteApi.reset(_handle);
        throw new SqliteCallException(rc, message);
    }

    /// <summary>Runs the statement to completion.</summary>
    public void Execute()
    {
        while (Step()) { }
        Reset();
    }

    /// <summary>Resets the statement so it can run again with new bindings.</summary>
    public void Reset() => SqliteApi.reset(_handle);

    /// <summary>SQLite storage class of a result column in the current row.</summary>
    public int ColumnType(int column) => SqliteApi.column_type(_handle, column);

    /// <summary>True when the column is NULL.</summary>
    public bool IsNull(int column) => ColumnType(column) == SqliteApi.SQLITE_NULL;

    /// <summary>Integer value of a column.</summary>
    public long GetInt64(int column) => SqliteApi.column_int64(_handle, column);

    /// <summary>Floating point value of a column.</summary>
    public double GetDouble(int column) => SqliteApi.column_double(_handle, column);

    /// <summary>Text value of a column (NULL gives null).</summary>
    public string? GetText(int column)
    {
        var p = SqliteApi.column_text(_handle, column);
        if (p == null) return null;
        var length = SqliteApi.column_bytes(_handle, column);
        return Encoding.UTF8.GetString(p, length);
    }

    /// <summary>BLOB bytes of a column, valid until the next step or reset.</summary>
    public ReadOnlySpan<byte> GetBlobSpan(int column)
    {
        var p = SqliteApi.column_blob(_handle, column);
        var length = SqliteApi.column_bytes(_handle, column);
        return p == null ? ReadOnlySpan<byte>.Empty : new ReadOnlySpan<byte>(p, length);
    }

    /// <summary>A column as a user or item id, or null when its value cannot be an id (NULL, BLOB, REAL with a fraction).</summary>
    public ExternalId? GetId(int column) => ColumnType(column) switch
    {
        SqliteApi.SQLITE_INTEGER => ExternalId.Of(GetInt64(column)),
        SqliteApi.SQLITE_TEXT => ExternalId.Of(GetText(column)!),
        _ => ExternalId.FromValue(GetValue(column)),
    };

    /// <summary>A column as a managed value (long, double, string, byte[] or null).</summary>
    public object? GetValue(int column) => ColumnType(column) switch
    {
        SqliteApi.SQLITE_INTEGER => GetInt64(column),
        SqliteApi.SQLITE_FLOAT => GetDouble(column),
        SqliteApi.SQLITE_TEXT => GetText(column),
        SqliteApi.SQLITE_BLOB => GetBlobSpan(column).ToArray(),
        _ => null,
    };

    private void Check(int rc)
    {
        if (rc != SqliteApi.SQLITE_OK) throw new SqliteCallException(rc, _db.ErrorMessage);
    }

    /// <summary>Finalizes the statement.</summary>
    public void Dispose()
    {
        if (_handle != 0)
        {
            SqliteApi.finalize(_handle);
            _handle = 0;
        }
    }
}
