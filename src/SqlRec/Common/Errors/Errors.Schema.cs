namespace SqlRec.Common;

/// <summary>Errors about objects of the database's schema that SqlRec did not create, on or in place of its tables.</summary>
internal static partial class Errors
{
    /// <summary>A trigger SqlRec did not create is on one of its tables: it would run inside SqlRec's writes.</summary>
    public static SqlRecException ForeignTrigger(string function, string trigger, string table) =>
        Fail(function, $"the database has a trigger {Shown(trigger)} on SqlRec's table '{table}', which SqlRec did not create; it would run inside SqlRec's writes, so nothing was written. Drop it (DROP TRIGGER {SqlName(trigger)}) and retry.");

    /// <summary>A view, index-less table stand-in or other object has the name of one of SqlRec's tables.</summary>
    public static SqlRecException ForeignStoreObject(string function, string table, string type) =>
        Fail(function, $"'{table}' in this database is a {type}, not SqlRec's table, so nothing was written. Rename or drop it and retry.");

    /// <summary>A name from the file, shown quoted and cut to a readable length.</summary>
    private static string Shown(string name) => $"'{(name.Length > 80 ? name[..80] + "..." : name)}'";

    /// <summary>A name from the file as a SQL identifier the user can paste.</summary>
    private static string SqlName(string name) => $"main.\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}
