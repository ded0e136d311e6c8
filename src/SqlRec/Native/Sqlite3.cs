using System.Runtime.InteropServices;

namespace SqlRec.Native;

/// <summary>
/// Raw entry points of the SQLite library that Microsoft.Data.Sqlite already loaded
/// (<c>e_sqlite3</c> from SQLitePCLRaw's bundle). Microsoft.Data.Sqlite does not expose virtual
/// tables, function flags or statements on a raw handle, and SqlRec's SQL callbacks must work
/// on the native handle alone, so the whole SQL surface sits on these.
/// </summary>
internal static unsafe partial class Sqlite3
{
    private const string Library = "e_sqlite3";

    public const int SQLITE_OK = 0;
    public const int SQLITE_ERROR = 1;
    public const int SQLITE_NOMEM = 7;
    public const int SQLITE_INTERRUPT = 9;
    public const int SQLITE_CONSTRAINT = 19;
    public const int SQLITE_MISUSE = 21;
    public const int SQLITE_ROW = 100;
    public const int SQLITE_DONE = 101;

    public const int SQLITE_INTEGER = 1;
    public const int SQLITE_FLOAT = 2;
    public const int SQLITE_TEXT = 3;
    public const int SQLITE_BLOB = 4;
    public const int SQLITE_NULL = 5;

    public const int SQLITE_UTF8 = 1;
    public const int SQLITE_DETERMINISTIC = 0x000000800;
    public const int SQLITE_DIRECTONLY = 0x000080000;
    public const int SQLITE_INNOCUOUS = 0x000200000;

    public const int SQLITE_INDEX_CONSTRAINT_EQ = 2;
    public const int SQLITE_VTAB_INNOCUOUS = 2;
    public const int SQLITE_VTAB_DIRECTONLY = 3;

    /// <summary>SQLITE_TRANSIENT: SQLite copies the buffer before the call returns.</summary>
    public static readonly nint Transient = -1;

    [LibraryImport(Library)] public static partial nint sqlite3_libversion();

    [LibraryImport(Library)]
    public static partial int sqlite3_create_function_v2(nint db, byte* name, int nArg, int eTextRep, nint pApp,
        delegate* unmanaged<nint, int, nint*, void> xFunc, nint xStep, nint xFinal, delegate* unmanaged<nint, void> xDestroy);

    [LibraryImport(Library)]
    public static partial int sqlite3_create_module_v2(nint db, byte* name, SqliteModule* module, nint pAux, delegate* unmanaged<nint, void> xDestroy);

    [LibraryImport(Library)] public static partial int sqlite3_declare_vtab(nint db, byte* sql);
    [LibraryImport(Library)] public static partial int sqlite3_vtab_config(nint db, int op);

    [LibraryImport(Library)] public static partial nint sqlite3_user_data(nint context);
    [LibraryImport(Library)] public static partial nint sqlite3_context_db_handle(nint context);

    [LibraryImport(Library)] public static partial int sqlite3_value_type(nint value);
    [LibraryImport(Library)] public static partial long sqlite3_value_int64(nint value);
    [LibraryImport(Library)] public static partial double sqlite3_value_double(nint value);
    [LibraryImport(Library)] public static partial byte* sqlite3_value_text(nint value);
    [LibraryImport(Library)] public static partial void* sqlite3_value_blob(nint value);
    [LibraryImport(Library)] public static partial int sqlite3_value_bytes(nint value);

    [LibraryImport(Library)] public static partial void sqlite3_result_null(nint context);
    [LibraryImport(Library)] public static partial void sqlite3_result_int64(nint context, long value);
    [LibraryImport(Library)] public static partial void sqlite3_result_double(nint context, double value);
    [LibraryImport(Library)] public static partial void sqlite3_result_text(nint context, byte* text, int length, nint destructor);
    [LibraryImport(Library)] public static partial void sqlite3_result_blob(nint context, void* data, int length, nint destructor);
    [LibraryImport(Library)] public static partial void sqlite3_result_error(nint context, byte* message, int length);
    [LibraryImport(Library)] public static partial void sqlite3_result_error_nomem(nint context);

    [LibraryImport(Library)] public static partial int sqlite3_prepare_v2(nint db, byte* sql, int length, nint* statement, byte** tail);
    [LibraryImport(Library)] public static partial int sqlite3_step(nint statement);
    [LibraryImport(Library)] public static partial int sqlite3_reset(nint statement);
    [LibraryImport(Library)] public static partial int sqlite3_finalize(nint statement);
    [LibraryImport(Library)] public static partial int sqlite3_stmt_readonly(nint statement);
    [LibraryImport(Library)] public static partial int sqlite3_bind_null(nint statement, int index);
    [LibraryImport(Library)] public static partial int sqlite3_bind_int64(nint statement, int index, long value);
    [LibraryImport(Library)] public static partial int sqlite3_bind_double(nint statement, int index, double value);
    [LibraryImport(Library)] public static partial int sqlite3_bind_text(nint statement, int index, byte* text, int length, nint destructor);
    [LibraryImport(Library)] public static partial int sqlite3_bind_blob(nint statement, int index, void* data, int length, nint destructor);
    [LibraryImport(Library)] public static partial int sqlite3_column_count(nint statement);
    [LibraryImport(Library)] public static partial int sqlite3_column_type(nint statement, int column);
    [LibraryImport(Library)] public static partial long sqlite3_column_int64(nint statement, int column);
    [LibraryImport(Library)] public static partial double sqlite3_column_double(nint statement, int column);
    [LibraryImport(Library)] public static partial byte* sqlite3_column_text(nint statement, int column);
    [LibraryImport(Library)] public static partial void* sqlite3_column_blob(nint statement, int column);
    [LibraryImport(Library)] public static partial int sqlite3_column_bytes(nint statement, int column);
    [LibraryImport(Library)] public static partial byte* sqlite3_column_name(nint statement, int column);

    [LibraryImport(Library)] public static partial byte* sqlite3_errmsg(nint db);
    [LibraryImport(Library)] public static partial byte* sqlite3_db_filename(nint db, byte* databaseName);
    [LibraryImport(Library)] public static partial int sqlite3_get_autocommit(nint db);
    [LibraryImport(Library)] public static partial int sqlite3_is_interrupted(nint db);

    // Change detection without a statement (the embedder registry's per-connection cache).
    public const int SQLITE_FCNTL_DATA_VERSION = 35;
    [LibraryImport(Library)] public static partial int sqlite3_file_control(nint db, byte* databaseName, int op, void* argument);
    [LibraryImport(Library)] public static partial long sqlite3_total_changes64(nint db);

    /// <summary>
    /// A number that changes whenever the main database changes, by this connection (each row
    /// changed, even inside an open transaction) or by any other (each commit).
    /// </summary>
    public static (uint DataVersion, long Changes) ChangeStamp(nint db)
    {
        uint version = 0;
        ReadOnlySpan<byte> main = "main\0"u8;
        fixed (byte* name = main) sqlite3_file_control(db, name, SQLITE_FCNTL_DATA_VERSION, &version);
        return (version, sqlite3_total_changes64(db));
    }

    [LibraryImport(Library)] public static partial void* sqlite3_malloc(int size);
    [LibraryImport(Library)] public static partial void sqlite3_free(void* pointer);

    /// <summary>Reads a NUL-terminated UTF-8 string owned by SQLite.</summary>
    public static string? Utf8(byte* text) => text == null ? null : Marshal.PtrToStringUTF8((nint)text);

    /// <summary>The connection's last error message.</summary>
    public static string ErrorMessage(nint db) => Utf8(sqlite3_errmsg(db)) ?? "unknown SQLite error";

    /// <summary>A copy of <paramref name="text"/> in memory from sqlite3_malloc, for fields SQLite frees itself (zErrMsg).</summary>
    public static byte* AllocUtf8(string text)
    {
        var byteCount = System.Text.Encoding.UTF8.GetByteCount(text);
        var buffer = (byte*)sqlite3_malloc(byteCount + 1);
        if (buffer == null) return null;
        System.Text.Encoding.UTF8.GetBytes(text, new Span<byte>(buffer, byteCount));
        buffer[byteCount] = 0;
        return buffer;
    }

    /// <summary>Sets a function result to UTF-8 text; SQLite copies it.</summary>
    public static void ResultText(nint context, string text)
    {
        var byteCount = System.Text.Encoding.UTF8.GetByteCount(text);
        if (byteCount <= 512)
        {
            Span<byte> buffer = stackalloc byte[byteCount];
            System.Text.Encoding.UTF8.GetBytes(text, buffer);
            fixed (byte* p = buffer) sqlite3_result_text(context, p, byteCount, Transient);
            return;
        }
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        fixed (byte* p = bytes) sqlite3_result_text(context, p, bytes.Length, Transient);
    }

    /// <summary>Sets a function result to an error message; SQLite copies it.</summary>
    public static void ResultError(nint context, string message)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(message);
        fixed (byte* p = bytes) sqlite3_result_error(context, p, bytes.Length);
    }
}

/// <summary>sqlite3_module (iVersion 1 layout; later members are not read by SQLite for version 1).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SqliteModule
{
    public int iVersion;
    public nint xCreate;
    public nint xConnect;
    public nint xBestIndex;
    public nint xDisconnect;
    public nint xDestroy;
    public nint xOpen;
    public nint xClose;
    public nint xFilter;
    public nint xNext;
    public nint xEof;
    public nint xColumn;
    public nint xRowid;
    public nint xUpdate;
    public nint xBegin;
    public nint xSync;
    public nint xCommit;
    public nint xRollback;
    public nint xFindFunction;
    public nint xRename;
    public nint xSavepoint;
    public nint xRelease;
    public nint xRollbackTo;
    public nint xShadowName;
    public nint xIntegrity;
}

/// <summary>sqlite3_vtab followed by SqlRec's handle to the managed table object.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeVirtualTable
{
    public SqliteModule* pModule;
    public int nRef;
    public byte* zErrMsg;
    public nint managedHandle;
}

/// <summary>sqlite3_vtab_cursor followed by SqlRec's handle to the managed cursor.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeCursor
{
    public NativeVirtualTable* pVtab;
    public nint managedHandle;
}

[StructLayout(LayoutKind.Sequential)]
internal struct IndexConstraint
{
    public int iColumn;
    public byte op;
    public byte usable;
    public int iTermOffset;
}

[StructLayout(LayoutKind.Sequential)]
internal struct IndexConstraintUsage
{
    public int argvIndex;
    public byte omit;
}

/// <summary>sqlite3_index_info.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IndexInfo
{
    public int nConstraint;
    public IndexConstraint* aConstraint;
    public int nOrderBy;
    public nint aOrderBy;
    public IndexConstraintUsage* aConstraintUsage;
    public int idxNum;
    public byte* idxStr;
    public int needToFreeIdxStr;
    public int orderByConsumed;
    public double estimatedCost;
    public long estimatedRows;
    public int idxFlags;
    public ulong colUsed;
}
