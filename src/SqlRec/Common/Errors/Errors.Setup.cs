namespace SqlRec.Common;

/// <summary>Errors of enabling SqlRec on a connection (<c>UseSqlRec()</c>).</summary>
internal static partial class Errors
{
    private const string Setup = "UseSqlRec";

    /// <summary>The sqlite-vec binary is not where SqlRec looks for it.</summary>
    public static SqlRecException VectorExtensionMissing(string path) =>
        Fail(Setup, $"the sqlite-vec extension was not found at '{path}'; the build copies it next to SqlRec.dll (see native/sqlite-vec), or set SqlRecOptions.VectorExtensionPath, or LoadVectorExtension = false to run without vector search.");

    /// <summary>SQLite refused to load the sqlite-vec binary.</summary>
    public static SqlRecException VectorExtensionLoadFailed(string path, string detail, Exception cause) =>
        new($"{Setup}(): loading sqlite-vec from '{path}' failed: {detail}", cause);

    /// <summary>SQLite refused to register one of SqlRec's scalar functions.</summary>
    public static SqlRecException RegisterFunctionFailed(string name, int arguments, string sqliteMessage) =>
        Fail(Setup, $"registering SQL function {name}/{arguments} failed: {sqliteMessage}.");

    /// <summary>SQLite refused to register one of SqlRec's table-valued functions.</summary>
    public static SqlRecException RegisterModuleFailed(string name, string sqliteMessage) =>
        Fail(Setup, $"registering table-valued function {name} failed: {sqliteMessage}.");

    private const string Load = "load_extension";

    /// <summary>The host's SQLite predates what SqlRec needs.</summary>
    public static SqlRecException HostTooOld(string hostVersion, string minimumVersion) =>
        Fail(Load, $"SqlRec needs SQLite {minimumVersion} or later, but this host runs SQLite {hostVersion}; use a newer sqlite3 shell or language binding, or the SqlRec .NET library, which brings its own SQLite.");

    /// <summary>SqlRec was loaded into a second, different SQLite library of the same process.</summary>
    public static SqlRecException HostAlreadyBound(string origin) =>
        Fail(Load, $"SqlRec is already loaded in this process through another SQLite library ({origin}); one process serves SqlRec from one SQLite library.");

    /// <summary>An unexpected failure while the extension registered itself.</summary>
    public static SqlRecException ExtensionInitFailed(string detail) =>
        Fail(Load, $"SqlRec could not start: {detail}.");
}
