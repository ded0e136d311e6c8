using System.CommandLine;
using Spectre.Console;
using SqlRec.Cli.Data;
using SqlRec.Cli.Output;

namespace SqlRec.Cli.Commands;

/// <summary><c>sqlrec sql &lt;db&gt; "query"</c>: runs any SQL with SqlRec's functions and prints the results.</summary>
internal static class SqlCommand
{
    /// <summary>Rows shown per result unless <c>--max-rows</c> says otherwise.</summary>
    public const int DefaultMaxRows = 1000;

    /// <summary>Builds the <c>sql</c> command.</summary>
    public static Command Create(CliContext context)
    {
        var database = new Argument<string>("db") { Description = "The SQLite database file (must exist)." };
        var query = new Argument<string>("query") { Description = "The SQL to run; several statements separated by ';' run in order." };
        var maxRows = new Option<int>("--max-rows")
        {
            Description = $"Rows to show per result (0 for all). Default: {DefaultMaxRows}.",
            DefaultValueFactory = _ => DefaultMaxRows,
            HelpName = "N",
        };
        var command = new Command("sql", "Run SQL on a database with SqlRec's functions enabled and print the results as tables.") { database, query, maxRows };
        command.SetAction(parse => context.Guard(() =>
            Run(context.Console, parse.GetValue(database)!, parse.GetValue(query)!, parse.GetValue(maxRows))));
        return command;
    }

    private static void Run(IAnsiConsole console, string databasePath, string sql, int maxRows)
    {
        if (maxRows < 0) throw CliErrors.OptionRange("--max-rows", "0 (all) or more", maxRows);
        if (string.IsNullOrWhiteSpace(sql)) throw CliErrors.EmptyQuery();
        using var connection = Databases.OpenExisting(databasePath);
        // Ctrl+C and SIGTERM stop the running statement (its changes rolled back) rather than the process.
        using var interruption = Interruption.Watch(connection);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var results = 0;
        int changed;
        using (var reader = command.ExecuteReader())
        {
            do
            {
                // Statements without result columns (INSERT, CREATE ...) have run by now; only
                // their change count remains, reported once below.
                if (reader.FieldCount == 0) continue;
                results++;
                var (table, rows) = ResultTables.FromReader(reader, maxRows);
                console.Write(table);
                var shown = maxRows > 0 && rows > maxRows
                    ? $"{ProgressDisplay.Count(rows)} rows, the first {ProgressDisplay.Count(maxRows)} shown; --max-rows 0 shows all"
                    : $"{ProgressDisplay.Count(rows)} {(rows == 1 ? "row" : "rows")}";
                console.MarkupLine($"[grey]({Markup.Escape(shown)})[/]");
            }
            while (reader.NextResult());
            reader.Close();
            changed = reader.RecordsAffected;
        }
        if (results == 0) console.MarkupLine($"[green]ok[/], {ProgressDisplay.Count(Math.Max(changed, 0))} {(changed == 1 ? "row" : "rows")} changed");
        else if (changed > 0) console.MarkupLine($"[green]ok[/], {ProgressDisplay.Count(changed)} {(changed == 1 ? "row" : "rows")} changed");
    }
}
