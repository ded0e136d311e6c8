using System.CommandLine;
using Spectre.Console;
using SqlRec.Cli.Data;
using SqlRec.Cli.Output;

namespace SqlRec.Cli.Commands;

/// <summary><c>sqlrec import movielens|lightgcn &lt;dir&gt; &lt;db&gt;</c>: loads public data sets into tables.</summary>
internal static class ImportCommand
{
    private delegate ImportSummary Importer(string directory, string database, bool replace, IStageProgress progress);

    /// <summary>Builds the <c>import</c> command and its sub-commands.</summary>
    public static Command Create(CliContext context) => new("import", "Import a public data set into tables of a SQLite database (created if missing).")
    {
        Create(context, "movielens",
            "Import MovieLens 100K (u.data, u.item, u.user, optional u.genre) into the tables ratings, movies and users.",
            "The folder holding u.data, u.item and u.user (e.g. ml-100k).", MovieLensImporter.Import),
        Create(context, "lightgcn",
            "Import an NGCF/LightGCN split (train.txt, test.txt: 'user item item ...' per line) into the tables train and test.",
            "The folder holding train.txt and test.txt (e.g. gowalla).", LightGcnImporter.Import),
    };

    private static Command Create(CliContext context, string name, string description, string directoryHelp, Importer importer)
    {
        var directory = new Argument<string>("dir") { Description = directoryHelp };
        var database = new Argument<string>("db") { Description = "The SQLite database file to write into; created if missing." };
        var replace = new Option<bool>("--replace") { Description = "Drop existing tables of the same names first (inside the same transaction)." };
        var command = new Command(name, description) { directory, database, replace };
        command.SetAction(parse => context.Guard(() => Run(context.Console, importer,
            parse.GetValue(directory)!, parse.GetValue(database)!, parse.GetValue(replace))));
        return command;
    }

    private static void Run(IAnsiConsole console, Importer importer, string directory, string database, bool replace)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var summary = ProgressDisplay.Run(console, progress => importer(directory, database, replace, progress));
        var tables = string.Join(", ", summary.Tables.Select(t => $"{t.Table} {ProgressDisplay.Count(t.Rows)} rows"));
        console.MarkupLine($"[green]imported[/] into {Markup.Escape(Path.GetFullPath(database))}: {Markup.Escape(tables)} "
            + $"({ProgressDisplay.Count(summary.Users)} users, {ProgressDisplay.Count(summary.Items)} items) in {clock.Elapsed.TotalSeconds:0.0} s");
    }
}
