namespace SqlRec.Common;

/// <summary>
/// Errors of the database's surroundings rather than of a call: another connection holding the
/// lock, a read-only file, a full disk, a failing disk. SQLite reports them with its result codes;
/// each becomes a message that names the function, says what happened, that nothing was changed
/// (SqlRec's writes are all in one transaction, rolled back on failure) and what to do.
/// </summary>
internal static partial class Errors
{
    // SQLite's primary result codes (the common layer does not see the sqlite layer's constants).
    private const int SqliteBusy = 5, SqliteLocked = 6, SqliteReadOnly = 8, SqliteIoError = 10, SqliteFull = 13, SqliteCantOpen = 14;

    /// <summary>
    /// The message for SQLite's refusal of one of SqlRec's own statements, by its result code
    /// (primary or extended): the environment's named failures, else <see cref="Sqlite(string, string)"/>.
    /// </summary>
    public static SqlRecException Sqlite(string function, int resultCode, string sqliteMessage) => (resultCode & 0xff) switch
    {
        SqliteBusy or SqliteLocked => DatabaseBusy(function),
        SqliteReadOnly => DatabaseReadOnly(function),
        SqliteFull => DiskFull(function),
        SqliteIoError => DiskIoError(function, sqliteMessage),
        SqliteCantOpen => CannotOpenDatabase(function),
        _ => Sqlite(function, sqliteMessage),
    };

    /// <summary>True for the result codes <see cref="Sqlite(string, int, string)"/> names as the environment's failures.</summary>
    public static bool IsEnvironmentFailure(int resultCode) => (resultCode & 0xff) is SqliteBusy or SqliteLocked or SqliteReadOnly or SqliteFull
        or SqliteIoError or SqliteCantOpen;

    /// <summary>Another connection held the lock SqlRec needed for longer than the busy timeout.</summary>
    public static SqlRecException DatabaseBusy(string function) =>
        Fail(function, "the database is busy (locked by another connection) for longer than the busy timeout; nothing was changed. "
            + "Retry when the other connection's transaction has ended, or raise the busy timeout (PRAGMA busy_timeout, or SqlRecOptions.BusyTimeout; default 5000 ms).");

    /// <summary>The database file (or its folder) cannot be written.</summary>
    public static SqlRecException DatabaseReadOnly(string function) =>
        Fail(function, "the database is read-only (the file, its folder or the connection cannot be written); nothing was changed. "
            + "Open the file read-write, or give the process write access to the file and its folder.");

    /// <summary>The disk, or the file's page limit, is full.</summary>
    public static SqlRecException DiskFull(string function) =>
        Fail(function, "the disk is full (or the database reached PRAGMA max_page_count); nothing was changed. Free some space and retry.");

    /// <summary>The disk failed while SQLite read or wrote the file.</summary>
    public static SqlRecException DiskIoError(string function, string sqliteMessage) =>
        Fail(function, $"a disk I/O error stopped the operation (SQLite: {sqliteMessage}); nothing was changed. Check the disk and the file, then retry.");

    /// <summary>SQLite could not open the database file or its journal.</summary>
    public static SqlRecException CannotOpenDatabase(string function) =>
        Fail(function, "the database file or its journal cannot be opened (a missing folder, or no permission to create the journal beside the file); nothing was changed.");
}
