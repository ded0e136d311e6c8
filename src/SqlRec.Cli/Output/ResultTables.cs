using System.Globalization;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace SqlRec.Cli.Output;

/// <summary>Renders query results and SQL values as Spectre tables.</summary>
internal static class ResultTables
{
    /// <summary>
    /// Reads the current result set of <paramref name="reader"/> into a table: column names as
    /// headers, at most <paramref name="maxRows"/> rows (0 for all). Returns the table and the
    /// number of rows the result had.
    /// </summary>
    public static (Table Table, long Rows) FromReader(SqliteDataReader reader, int maxRows)
    {
        var table = new Table().Border(TableBorder.Rounded);
        for (var c = 0; c < reader.FieldCount; c++)
        {
            var name = reader.GetName(c);
            table.AddColumn(new TableColumn(new Text(string.IsNullOrEmpty(name) ? $"column {c + 1}" : name, new Style(decoration: Decoration.Bold))));
        }
        long rows = 0;
        while (reader.Read())
        {
            rows++;
            if (maxRows > 0 && rows > maxRows) continue;
            var cells = new IRenderable[reader.FieldCount];
            for (var c = 0; c < cells.Length; c++) cells[c] = Cell(reader.IsDBNull(c) ? null : reader.GetValue(c));
            table.AddRow(cells);
        }
        return (table, rows);
    }

    /// <summary>A table cell for a SQL value: NULL dimmed, BLOBs by size, numbers right-aligned.</summary>
    public static IRenderable Cell(object? value) => value switch
    {
        null => new Text("NULL", new Style(Color.Grey)),
        byte[] blob => new Text($"<blob {blob.Length} bytes>", new Style(Color.Grey)),
        long or int or double => new Text(Format(value)).RightJustified(),
        _ => new Text(Format(value)),
    };

    /// <summary>A SQL value as text, numbers in the invariant culture (doubles round-trip).</summary>
    public static string Format(object? value) => value switch
    {
        null => "NULL",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        byte[] blob => $"<blob {blob.Length} bytes>",
        _ => value.ToString() ?? "",
    };
}
