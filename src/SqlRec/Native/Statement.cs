using System.Runtime.InteropServices;
using System.Text;

namespace SqlRec.Native;

/// <summary>
/// A prepared statement on a raw connection handle. SqlRec's SQL callbacks run inside a statement
/// of the caller's, on whatever connection called them, so the store talks to SQLite through
/// these rather than through Microsoft.Data.Sqlite commands (which demand the caller's
/// transaction object and are not available to a loadable extension).
/// </summary>
internal sealed unsafe class Statement : IDisposable
{
    private readonly nint _db;
    private nint _handle;

    private Statement(nint db, nint handle, string sql)
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
    public static Statement Prepare(nint db, string sql, out string tail)
    {
        var bytes = Encoding.UTF8.GetBytes(sql);
        nint handle;
        byte* tailPointer;
        int rc;
        fixed (byte* p = bytes)
        {
            rc = Sqlite3.sqlite3_prepare_v2(db, p, bytes.Length, &handle, &tailPointer);
            tail = tailPointer == null ? "" : Encoding.UTF8.GetString(tailPointer, bytes.Length - (int)(tailPointer - p));
        }
        if (rc != Sqlite3.SQLITE_OK)
        {
            var message = Sqlite3.ErrorMessage(db);
            if (handle != 0) Sqlite3.sqlite3_finalize(handle);
            throw new SqliteCallException(rc, message);
        }
        if (handle == 0) throw new SqliteCallException(Sqlite3.SQLITE_MISUSE, "the text holds no SQL statement");
        return new Statement(db, handle, sql);
    }

    /// <summary>Prepares a statement that must be the whole text.</summary>
    public static Statement Prepare(nint db, string sql) => Prepare(db, sql, out _);

    /// <summary>True when the statement makes no direct change to the database file.</summary>
    public bool IsReadOnly => Sqlite3.sqlite3_stmt_readonly(_handle) != 0;

    /// <summary>Number of result columns.</summary>
    public int ColumnCount => Sqlite3.sqlite3_column_count(_handle);

    /// <summary>Name of a result column.</summary>
    public string ColumnName(int column) => Sqlite3.Utf8(Sqlite3.sqlite3_column_name(_handle, column)) ?? $"column {column + 1}";

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
            case null: rc = Sqlite3.sqlite3_bind_null(_handle, index); break;
            case long l: rc = Sqlite3.sqlite3_bind_int64(_handle, index, l); break;
            case int i: rc = Sqlite3.sqlite3_bind_int64(_handle, index, i); break;
            case bool b: rc = Sqlite3.sqlite3_bind_int64(_handle, index, b ? 1 : 0); break;
            case double d: rc = Sqlite3.sqlite3_bind_double(_handle, index, d); break;
            case float f: rc = Sqlite3.sqlite3_bind_double(_handle, index, f); break;
            case string s:
                {
                    var bytes = Encoding.UTF8.GetBytes(s);
                    fixed (byte* p = bytes) rc = Sqlite3.sqlite3_bind_text(_handle, index, p, bytes.Length, Sqlite3.Transient);
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
            return Sqlite3.sqlite3_bind_blob(_handle, index, pointer, data.Length, Sqlite3.Transient);
        }
    }

    /// <summary>Steps once: true when a row is ready, false when done.</summary>
    public bool Step()
    {
        var rc = Sqlite3.sqlite3_step(_handle);
        if (rc == Sqlite3.SQLITE_ROW) return true;
        if (rc == Sqlite3.SQLITE_DONE) return false;
        var message = Sqlite3.ErrorMessage(_db);
        Sqlite3.sqlite3_reset(_handle);
        throw new SqliteCallException(rc, message);
    }

    /// <summary>Runs the statement to completion.</summary>
    public void Execute()
    {
        while (Step()) { }
        Reset();
    }

    /// <summary>Resets the statement so it can run again with new bindings.</summary>
    public void Reset() => Sqlite3.sqlite3_reset(_handle);

    /// <summary>SQLite storage class of a result column in the current row.</summary>
    public int ColumnType(int column) => Sqlite3.sqlite3_column_type(_handle, column);

    /// <summary>True when the column is NULL.</summary>
    public bool IsNull(int column) => ColumnType(column) == Sqlite3.SQLITE_NULL;

    /// <summary>Integer value of a column.</summary>
    public long GetInt64(int column) => Sqlite3.sqlite3_column_int64(_handle, column);

    /// <summary>Floating point value of a column.</summary>
    public double GetDouble(int column) => Sqlite3.sqlite3_column_double(_handle, column);

    /// <summary>Text value of a column (NULL gives null).</summary>
    public string? GetText(int column)
    {
        var p = Sqlite3.sqlite3_column_text(_handle, column);
        if (p == null) return null;
        var length = Sqlite3.sqlite3_column_bytes(_handle, column);
        return Encoding.UTF8.GetString(p, length);
    }

    /// <summary>BLOB bytes of a column, valid until the next step or reset.</summary>
    public ReadOnlySpan<byte> GetBlobSpan(int column)
    {
        var p = Sqlite3.sqlite3_column_blob(_handle, column);
        var length = Sqlite3.sqlite3_column_bytes(_handle, column);
        return p == null ? ReadOnlySpan<byte>.Empty : new ReadOnlySpan<byte>(p, length);
    }

    /// <summary>A column as a user or item id, or null when its value cannot be an id (NULL, BLOB, REAL with a fraction).</summary>
    public ExternalId? GetId(int column) => ColumnType(column) switch
    {
        Sqlite3.SQLITE_INTEGER => ExternalId.Of(GetInt64(column)),
        Sqlite3.SQLITE_TEXT => ExternalId.Of(GetText(column)!),
        _ => ExternalId.FromValue(GetValue(column)),
    };

    /// <summary>A column as a managed value (long, double, string, byte[] or null).</summary>
    public object? GetValue(int column) => ColumnType(column) switch
    {
        Sqlite3.SQLITE_INTEGER => GetInt64(column),
        Sqlite3.SQLITE_FLOAT => GetDouble(column),
        Sqlite3.SQLITE_TEXT => GetText(column),
        Sqlite3.SQLITE_BLOB => GetBlobSpan(column).ToArray(),
        _ => null,
    };

    private void Check(int rc)
    {
        if (rc != Sqlite3.SQLITE_OK) throw new SqliteCallException(rc, Sqlite3.ErrorMessage(_db));
    }

    /// <summary>Finalizes the statement.</summary>
    public void Dispose()
    {
        if (_handle != 0)
        {
            Sqlite3.sqlite3_finalize(_handle);
            _handle = 0;
        }
    }
}

/// <summary>Small helpers for one-off statements on a raw handle.</summary>
internal static class NativeDb
{
    /// <summary>Runs a statement that returns no rows.</summary>
    public static void Execute(nint db, string sql, params ReadOnlySpan<object?> args)
    {
        using var statement = Statement.Prepare(db, sql);
        statement.BindAll(args);
        statement.Execute();
    }

    /// <summary>Runs several statements separated by semicolons (no parameters).</summary>
    public static void ExecuteScript(nint db, string sql)
    {
        var rest = sql;
        while (!string.IsNullOrWhiteSpace(rest))
        {
            using var statement = Statement.Prepare(db, rest, out var tail);
            statement.Execute();
            rest = tail;
        }
    }

    /// <summary>The first column of the first row, or null when there is no row.</summary>
    public static object? Scalar(nint db, string sql, params ReadOnlySpan<object?> args)
    {
        using var statement = Statement.Prepare(db, sql);
        statement.BindAll(args);
        return statement.Step() ? statement.GetValue(0) : null;
    }

    /// <summary>The path of the main database file, or "" for an in-memory or temporary database.</summary>
    public static unsafe string MainFileName(nint db)
    {
        ReadOnlySpan<byte> main = "main\0"u8;
        fixed (byte* p = main) return Sqlite3.Utf8(Sqlite3.sqlite3_db_filename(db, p)) ?? "";
    }
}

/// <summary>A failed call into SQLite, with its result code and message.</summary>
internal sealed class SqliteCallException(int resultCode, string message) : Exception(message)
{
    /// <summary>The SQLite result code.</summary>
    public int ResultCode { get; } = resultCode;
}
