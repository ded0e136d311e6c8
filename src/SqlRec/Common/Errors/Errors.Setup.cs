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
}
