using System.Text;
using SqlRec.Operations;
using SqlRec.Sql;
using SqlRec.Sqlite;

namespace SqlRec;

/// <summary>
/// SqlRec as a loadable SQLite extension: what <c>sqlite3_sqlrec_init</c> (the native export of the
/// NativeAOT build in <c>native/extension</c>) runs when a host loads <c>sqlrec.so</c>. Every SQLite
/// call goes through the host's <c>sqlite3_api_routines</c>; the bundled SQLite is never loaded.
/// </summary>
internal static unsafe class SqlRecExtension
{
    /// <summary>sqlite3_load_extension's "keep me loaded": SQLite never unloads the library, so the .NET runtime inside it is never torn out from under a thread.</summary>
    private const int SQLITE_OK_LOAD_PERMANENTLY = 256;

    /// <summary>
    /// Enables SqlRec on connection <paramref name="db"/> of a host: binds the host's routines
    /// (refusing a host older than SQLite 3.38.0), loads sqlite-vec from beside the extension when
    /// the host has not loaded it already and allows it, and registers every SQL function. On
    /// failure <paramref name="errorMessage"/> gets the reason, allocated with the host's
    /// sqlite3_malloc as SQLite expects, and nothing is registered.
    /// </summary>
    public static int Init(nint db, byte** errorMessage, nint routines, string folder)
    {
        try
        {
            SqliteApi.UseHost(routines);
            Folder = folder;
            Embedders.UseNativeLibrariesIn(folder);
            var session = Session.Open(db, new SqlRecOptions { LoadVectorExtension = false });
            if (!session.Db.HasFunction("vec_version")) TryLoadVectorExtension(session.Db);
            SqlSurface.RegisterAll(session);
            return SQLITE_OK_LOAD_PERMANENTLY;
        }
        catch (Exception exception)
        {
            var message = exception is SqlRecException ? exception.Message : Errors.ExtensionInitFailed($"{exception.GetType().Name}: {exception.Message}").Message;
            // Nothing may escape into the host: if even the message cannot be allocated, the code alone says it failed.
            try { if (errorMessage != null && routines != 0) *errorMessage = SqliteApi.AllocUtf8(message, routines); }
            catch (Exception) { }
            return SqliteApi.SQLITE_ERROR;
        }
    }

    /// <summary>
    /// The folder of the extension's files (sqlrec.so, vec0.so, the ONNX Runtime library): where the
    /// native library was loaded from, which in a host is not the program's folder (AppContext.BaseDirectory).
    /// </summary>
    public static string Folder { get; private set; } = AppContext.BaseDirectory;

    /// <summary>
    /// Loads vec0 from beside the extension, through the host. A host that has not enabled
    /// extension loading refuses it; then vec0 is simply not there, and rec_publish says how to load it.
    /// </summary>
    private static void TryLoadVectorExtension(SqliteDb db)
    {
        if (SqliteApi.load_extension == null) return;
        var path = Path.Combine(Folder, SqlRecOptions.VectorExtensionFileName);
        if (!File.Exists(path)) return;
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        byte* error = null;
        fixed (byte* p = bytes) SqliteApi.load_extension(db.Handle, p, null, &error);
        if (error != null) SqliteApi.free(error);
    }
}
