using System.Reflection;
using System.Runtime.InteropServices;

namespace SqlRec.Sqlite;

/// <summary>
/// The SQLite C API as one table of function pointers: every call SqlRec makes into SQLite goes
/// through a field here. The table is filled once per process, before any connection is used:
/// from the SQLite library Microsoft.Data.Sqlite loaded (<see cref="UseBundledLibrary"/>), or,
/// when SqlRec runs as a loadable extension, from the host's <c>sqlite3_api_routines</c> (whatever
/// resolves a routine's name to its address goes to <see cref="Bind"/>). Nothing else calls SQLite,
/// so a host's own SQLite is the only one an extension ever touches.
/// </summary>
internal static unsafe class SqliteApi
{
    public const int SQLITE_OK = 0;
    public const int SQLITE_ERROR = 1;
    public const int SQLITE_BUSY = 5;
    public const int SQLITE_LOCKED = 6;
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

    public const int SQLITE_OPEN_READWRITE = 0x00000002;
    public const int SQLITE_OPEN_URI = 0x00000040;
    public const int SQLITE_OPEN_NOMUTEX = 0x00008000;

    public const int SQLITE_FCNTL_DATA_VERSION = 35;

    /// <summary>SQLITE_TRANSIENT: SQLite copies the buffer before the call returns.</summary>
    public static readonly nint Transient = -1;

    // ---- the table -------------------------------------------------------------------------
    // One field per routine SqlRec calls, named as in the C API without the sqlite3_ prefix.

    public static delegate* unmanaged<nint> libversion;
    public static delegate* unmanaged<int> libversion_number;

    public static delegate* unmanaged<nint, byte*, int, int, nint, delegate* unmanaged<nint, int, nint*, void>, nint, nint, delegate* unmanaged<nint, void>, int> create_function_v2;
    public static delegate* unmanaged<nint, byte*, SqliteModule*, nint, delegate* unmanaged<nint, void>, int> create_module_v2;
    public static delegate* unmanaged<nint, byte*, int> declare_vtab;
    public static delegate* unmanaged<nint, int, int> vtab_config;

    public static delegate* unmanaged<nint, nint> user_data;

    public static delegate* unmanaged<nint, int> value_type;
    public static delegate* unmanaged<nint, long> value_int64;
    public static delegate* unmanaged<nint, double> value_double;
    public static delegate* unmanaged<nint, byte*> value_text;
    public static delegate* unmanaged<nint, void*> value_blob;
    public static delegate* unmanaged<nint, int> value_bytes;

    public static delegate* unmanaged<nint, void> result_null;
    public static delegate* unmanaged<nint, long, void> result_int64;
    public static delegate* unmanaged<nint, double, void> result_double;
    public static delegate* unmanaged<nint, byte*, int, nint, void> result_text;
    public static delegate* unmanaged<nint, void*, int, nint, void> result_blob;
    public static delegate* unmanaged<nint, byte*, int, void> result_error;
    public static delegate* unmanaged<nint, void> result_error_nomem;

    public static delegate* unmanaged<nint, byte*, int, nint*, byte**, int> prepare_v2;
    public static delegate* unmanaged<nint, int> step;
    public static delegate* unmanaged<nint, int> reset;
    public static delegate* unmanaged<nint, int> finalize;
    public static delegate* unmanaged<nint, int> stmt_readonly;
    public static delegate* unmanaged<nint, int, int> bind_null;
    public static delegate* unmanaged<nint, int, long, int> bind_int64;
    public static delegate* unmanaged<nint, int, double, int> bind_double;
    public static delegate* unmanaged<nint, int, byte*, int, nint, int> bind_text;
    public static delegate* unmanaged<nint, int, void*, int, nint, int> bind_blob;
    public static delegate* unmanaged<nint, int> column_count;
    public static delegate* unmanaged<nint, int, int> column_type;
    public static delegate* unmanaged<nint, int, long> column_int64;
    public static delegate* unmanaged<nint, int, double> column_double;
    public static delegate* unmanaged<nint, int, byte*> column_text;
    public static delegate* unmanaged<nint, int, void*> column_blob;
    public static delegate* unmanaged<nint, int, int> column_bytes;

    public static delegate* unmanaged<nint, byte*> errmsg;
    public static delegate* unmanaged<nint, byte*, byte*> db_filename;
    public static delegate* unmanaged<nint, int> get_autocommit;
    // Optional: SQLite 3.41 added it; without it IsInterrupted asks with a statement (see SqliteDb.IsInterrupted).
    public static delegate* unmanaged<nint, int> is_interrupted;
    public static delegate* unmanaged<nint, byte*, int, void*, int> file_control;
    public static delegate* unmanaged<nint, long> total_changes64;
    public static delegate* unmanaged<nint, int, int> busy_timeout;
    public static delegate* unmanaged<byte*, nint*, int, byte*, int> open_v2;
    public static delegate* unmanaged<nint, int> close_v2;
    // Optional: used only to load sqlite-vec from beside the loadable extension.
    public static delegate* unmanaged<nint, byte*, byte*, byte**, int> load_extension;

    public static delegate* unmanaged<int, void*> malloc;
    public static delegate* unmanaged<void*, void> free;

    private static readonly object BindLock = new();

    /// <summary>True once the table is filled.</summary>
    public static bool IsBound { get; private set; }

    /// <summary>Where the table was filled from, for messages: <c>the bundled library 3.53.4</c>.</summary>
    public static string Origin { get; private set; } = "nothing yet";

    /// <summary>The host's <c>sqlite3_api_routines</c> the table was filled from; 0 for the bundled library.</summary>
    public static nint HostRoutinesAddress { get; private set; }

    /// <summary>
    /// The oldest SQLite SqlRec runs on, as <c>sqlite3_libversion_number()</c> gives it: 3.38.0, the
    /// first with the JSON functions built in (the store's SQL uses them) and with every routine SqlRec calls.
    /// </summary>
    public const int MinimumVersion = 3_038_000;

    /// <summary>A version number as text: 3038000 is <c>3.38.0</c>.</summary>
    public static string VersionText(int number) => $"{number / 1_000_000}.{number / 1000 % 1000}.{number % 1000}";

    /// <summary>
    /// Fills the table from the <c>sqlite3_api_routines</c> a host hands a loadable extension, once
    /// per process: every routine at its place in the struct as <c>sqlite3ext.h</c> gives it
    /// (<see cref="HostRoutines"/>), and none that the host's version does not have, so nothing past
    /// the end of an older host's struct is ever read. A host older than <see cref="MinimumVersion"/>
    /// is refused (the message says both versions), and so is a second, different SQLite in the same process.
    /// </summary>
    public static void UseHost(nint routines)
    {
        lock (BindLock)
        {
            if (IsBound)
            {
                if (routines == HostRoutinesAddress) return;
                throw Errors.HostAlreadyBound(Origin);
            }
            var libversionNumber = (delegate* unmanaged<int>)HostRoutine(routines, "libversion_number");
            var version = libversionNumber();
            if (version < MinimumVersion) throw Errors.HostTooOld(VersionText(version), VersionText(MinimumVersion));
            Bind(name =>
            {
                var index = HostRoutines.IndexOf(name, version);
                return index < 0 ? 0 : HostRoutine(routines, index);
            }, "the host's SQLite");
            HostRoutinesAddress = routines;
        }
    }

    private static nint HostRoutine(nint routines, string name) => HostRoutine(routines, HostRoutines.IndexOf(name, int.MaxValue));

    private static nint HostRoutine(nint routines, int index) => ((nint*)routines)[index];

    /// <summary>
    /// Fills the table from the SQLite library Microsoft.Data.Sqlite loaded (SQLitePCLRaw's
    /// <c>e_sqlite3</c>), once per process; later calls return at once.
    /// </summary>
    public static void UseBundledLibrary()
    {
        if (IsBound) return;
        lock (BindLock)
        {
            if (IsBound) return;
            // The same name and probing as a DllImport of the library, so this is the library Microsoft.Data.Sqlite already loaded.
            var library = NativeLibrary.Load("e_sqlite3", typeof(SqliteApi).Assembly, null);
            Bind(name => NativeLibrary.TryGetExport(library, name, out var address) ? address : 0, "the bundled library");
        }
    }

    /// <summary>
    /// Fills every field from <paramref name="resolve"/>, which returns a routine's address by its C
    /// name (<c>sqlite3_step</c>) or 0 when the library lacks it. A library that lacks any routine
    /// is refused as a whole, naming what it lacks, and the table stays unbound.
    /// </summary>
    public static void Bind(Func<string, nint> resolve, string origin)
    {
        lock (BindLock)
        {
            var missing = new List<string>();
            nint Need(string name)
            {
                var address = resolve("sqlite3_" + name);
                if (address == 0) missing.Add("sqlite3_" + name);
                return address;
            }
            nint Optional(string name) => resolve("sqlite3_" + name);
            IsBound = false;
        libversion = (delegate* unmanaged<nint>)Need("libversion");
        libversion_number = (delegate* unmanaged<int>)Need("libversion_number");
        create_function_v2 = (delegate* unmanaged<nint, byte*, int, int, nint, delegate* unmanaged<nint, int, nint*, void>, nint, nint, delegate* unmanaged<nint, void>, int>)Need("create_function_v2");
        create_module_v2 = (delegate* unmanaged<nint, byte*, SqliteModule*, nint, delegate* unmanaged<nint, void>, int>)Need("create_module_v2");
        declare_vtab = (delegate* unmanaged<nint, byte*, int>)Need("declare_vtab");
        vtab_config = (delegate* unmanaged<nint, int, int>)Need("vtab_config");
        user_data = (delegate* unmanaged<nint, nint>)Need("user_data");
        value_type = (delegate* unmanaged<nint, int>)Need("value_type");
        value_int64 = (delegate* unmanaged<nint, long>)Need("value_int64");
        value_double = (delegate* unmanaged<nint, double>)Need("value_double");
        value_text = (delegate* unmanaged<nint, byte*>)Need("value_text");
        value_blob = (delegate* unmanaged<nint, void*>)Need("value_blob");
        value_bytes = (delegate* unmanaged<nint, int>)Need("value_bytes");
        result_null = (delegate* unmanaged<nint, void>)Need("result_null");
        result_int64 = (delegate* unmanaged<nint, long, void>)Need("result_int64");
        result_double = (delegate* unmanaged<nint, double, void>)Need("result_double");
        result_text = (delegate* unmanaged<nint, byte*, int, nint, void>)Need("result_text");
        result_blob = (delegate* unmanaged<nint, void*, int, nint, void>)Need("result_blob");
        result_error = (delegate* unmanaged<nint, byte*, int, void>)Need("result_error");
        result_error_nomem = (delegate* unmanaged<nint, void>)Need("result_error_nomem");
        prepare_v2 = (delegate* unmanaged<nint, byte*, int, nint*, byte**, int>)Need("prepare_v2");
        step = (delegate* unmanaged<nint, int>)Need("step");
        reset = (delegate* unmanaged<nint, int>)Need("reset");
        finalize = (delegate* unmanaged<nint, int>)Need("finalize");
        stmt_readonly = (delegate* unmanaged<nint, int>)Need("stmt_readonly");
        bind_null = (delegate* unmanaged<nint, int, int>)Need("bind_null");
        bind_int64 = (delegate* unmanaged<nint, int, long, int>)Need("bind_int64");
        bind_double = (delegate* unmanaged<nint, int, double, int>)Need("bind_double");
        bind_text = (delegate* unmanaged<nint, int, byte*, int, nint, int>)Need("bind_text");
        bind_blob = (delegate* unmanaged<nint, int, void*, int, nint, int>)Need("bind_blob");
        column_count = (delegate* unmanaged<nint, int>)Need("column_count");
        column_type = (delegate* unmanaged<nint, int, int>)Need("column_type");
        column_int64 = (delegate* unmanaged<nint, int, long>)Need("column_int64");
        column_double = (delegate* unmanaged<nint, int, double>)Need("column_double");
        column_text = (delegate* unmanaged<nint, int, byte*>)Need("column_text");
        column_blob = (delegate* unmanaged<nint, int, void*>)Need("column_blob");
        column_bytes = (delegate* unmanaged<nint, int, int>)Need("column_bytes");
        errmsg = (delegate* unmanaged<nint, byte*>)Need("errmsg");
        db_filename = (delegate* unmanaged<nint, byte*, byte*>)Need("db_filename");
        get_autocommit = (delegate* unmanaged<nint, int>)Need("get_autocommit");
        is_interrupted = (delegate* unmanaged<nint, int>)Optional("is_interrupted");
        file_control = (delegate* unmanaged<nint, byte*, int, void*, int>)Need("file_control");
        total_changes64 = (delegate* unmanaged<nint, long>)Need("total_changes64");
        busy_timeout = (delegate* unmanaged<nint, int, int>)Need("busy_timeout");
        open_v2 = (delegate* unmanaged<byte*, nint*, int, byte*, int>)Need("open_v2");
        load_extension = (delegate* unmanaged<nint, byte*, byte*, byte**, int>)Optional("load_extension");
        close_v2 = (delegate* unmanaged<nint, int>)Need("close_v2");
        malloc = (delegate* unmanaged<int, void*>)Need("malloc");
        free = (delegate* unmanaged<void*, void>)Need("free");
            if (missing.Count > 0)
                throw new InvalidOperationException($"the SQLite library ({origin}) lacks {string.Join(", ", missing)}; SqlRec needs them all.");
            Origin = $"{origin} {Utf8((byte*)libversion())}";
            IsBound = true;
        }
    }

    /// <summary>The names of the routines in the table (tests check them against the C API).</summary>
    internal static IEnumerable<string> RoutineNames =>
        typeof(SqliteApi).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType.IsFunctionPointer || f.FieldType.IsUnmanagedFunctionPointer).Select(f => "sqlite3_" + f.Name);

    // ---- helpers on top of the table ----------------------------------------------------------

    /// <summary>Reads a NUL-terminated UTF-8 string owned by SQLite.</summary>
    public static string? Utf8(byte* text) => text == null ? null : Marshal.PtrToStringUTF8((nint)text);

    /// <summary>A copy of <paramref name="text"/> in memory from sqlite3_malloc, for fields SQLite frees itself (zErrMsg).</summary>
    public static byte* AllocUtf8(string text) => AllocUtf8(text, malloc);

    /// <summary>
    /// <see cref="AllocUtf8(string)"/> with the host's sqlite3_malloc taken straight from its
    /// routines: an extension that refuses to load has not bound the table, and still owes SQLite its message.
    /// </summary>
    public static byte* AllocUtf8(string text, nint routines) =>
        AllocUtf8(text, (delegate* unmanaged<int, void*>)HostRoutine(routines, "malloc"));

    private static byte* AllocUtf8(string text, delegate* unmanaged<int, void*> allocate)
    {
        var byteCount = System.Text.Encoding.UTF8.GetByteCount(text);
        var buffer = (byte*)allocate(byteCount + 1);
        if (buffer == null) return null;
        System.Text.Encoding.UTF8.GetBytes(text, new Span<byte>(buffer, byteCount));
        buffer[byteCount] = 0;
        return buffer;
    }
}
