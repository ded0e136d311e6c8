using System.Text.RegularExpressions;
using SqlRec.Sqlite;

namespace SqlRec.Store;

/// <summary>
/// Objects of a hostile schema on or in place of the store's tables. A trigger on a <c>rec_*</c>
/// table runs whatever SQL its author wrote inside SqlRec's own writes (deleting the arrays of the
/// version just published, say), and a view with a store table's name stands in for it; SqlRec
/// writes nothing while either is there.
/// </summary>
internal sealed partial class ModelStore
{
    /// <summary>The store's table names, read from schema.sql so the list cannot drift from it.</summary>
    internal static readonly Lazy<string[]> StoreTables = new(() =>
        Regex.Matches(Schema.Value, @"CREATE TABLE IF NOT EXISTS main\.(\w+)", RegexOptions.CultureInvariant)
            .Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).ToArray());

    /// <summary>
    /// Fails when the main database holds a trigger on a store table, or an object other than a
    /// table under a store table's name. Called before every SqlRec function that writes.
    /// </summary>
    public void RefuseForeignObjects(string function)
    {
        var tables = StoreTables.Value;
        var list = string.Join(", ", tables.Select((_, i) => $"?{i + 1}"));
        using var statement = db.Prepare(
            $"SELECT type, name, tbl_name FROM main.sqlite_schema WHERE (type = 'trigger' AND lower(tbl_name) IN ({list})) OR (type <> 'table' AND type <> 'trigger' AND lower(name) IN ({list})) ORDER BY type, name LIMIT 1");
        statement.BindAll([.. tables]);
        if (!statement.Step()) return;
        var type = statement.GetText(0) ?? "object";
        if (type == "trigger") throw Errors.ForeignTrigger(function, statement.GetText(1) ?? "", (statement.GetText(2) ?? "").ToLowerInvariant());
        throw Errors.ForeignStoreObject(function, (statement.GetText(1) ?? "").ToLowerInvariant(), type);
    }
}
