namespace SqlRec.Sqlite;

/// <summary>Looks routines up in the table generated from <c>sqlite3ext.h</c> (HostRoutines.g.cs).</summary>
internal static partial class HostRoutines
{
    private static readonly Dictionary<string, (int Index, int Since)> ByName;

    // In the constructor, not an initializer: initializers of a partial class's parts run in no
    // promised order, and this one reads Members from the generated part.
    static HostRoutines() =>
        ByName = Members.Select((m, i) => (m.Name, Index: i, m.Since)).ToDictionary(m => "sqlite3_" + m.Name, m => (m.Index, m.Since));

    /// <summary>
    /// The index in <c>sqlite3_api_routines</c> of routine <paramref name="name"/> (<c>sqlite3_step</c>,
    /// or without the prefix), or -1 when the struct has no such member or a host of version
    /// <paramref name="hostVersion"/> predates it.
    /// </summary>
    public static int IndexOf(string name, int hostVersion)
    {
        var key = name.StartsWith("sqlite3_", StringComparison.Ordinal) ? name : "sqlite3_" + name;
        return ByName.TryGetValue(key, out var member) && member.Since <= hostVersion ? member.Index : -1;
    }
}
