using System.Runtime.InteropServices;

namespace SqlRec.Sqlite;

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
