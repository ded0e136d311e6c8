using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using SqlRec.Cli.Data;
using SqlRec.Cli.Output;

namespace SqlRec.Cli.Commands;

/// <summary>
/// <c>sqlrec eval &lt;db&gt; [--test "SELECT user, item ..." | --split random|last]</c> (default: the random split): runs
/// <c>rec_evaluate</c> with a progress display and prints the report as a metrics table.
/// </summary>
internal static class EvalCommand
{
    /// <summary>The statement the command runs; a NULL model means the database's only model, options travel as one JSON parameter.</summary>
    public const string Sql = "SELECT rec_evaluate($model, $options)";

    /// <summary>The metrics of the report, in the order the table shows them (one row each).</summary>
    public static readonly IReadOnlyList<string> Metrics = ["recall", "ndcg", "precision", "hit_rate", "mrr", "map", "coverage"];

    /// <summary>Builds the <c>eval</c> command.</summary>
    public static Command Create(CliContext context)
    {
        var database = new Argument<string>("db") { Description = "The SQLite database file (must exist)." };
        var model = new Option<string?>("--model") { Description = "The model's name; may be left out when the database has one model.", HelpName = "name" };
        var test = new Option<string?>("--test")
        {
            Description = "A SELECT returning held-out (user, item) pairs, e.g. \"SELECT user_id, item_id FROM test\"; evaluates the serving version as it is.",
            HelpName = "select",
        };
        var split = new Option<string?>("--split")
        {
            Description = "Hold out part of the model's own source instead: 'random' (a share of each user's items) or 'last' "
                + "(each user's newest item; needs a timestamp column). The same kind is retrained in memory; nothing is stored.",
            HelpName = "random|last",
        };
        var testRatio = new Option<double?>("--test-ratio")
        {
            Description = "(--split random) share of each user's items held out, between 0 and 1. Default: 0.2.",
            HelpName = "ratio",
        };
        var seed = new Option<long?>("--seed") { Description = "(--split random) seed of the split. Default: 42.", HelpName = "N" };
        var k = new Option<string[]>("-k")
        {
            Description = "Cutoffs K: -k 10 -k 20 or -k 10,20. Default: 10 and 20.",
            HelpName = "K",
        };
        var save = new Option<bool>("--save") { Description = "(--test) store the report with the evaluated version, in rec_model_versions.metrics." };
        var command = new Command("eval", "Measure how well a model ranks held-out items (recall, ndcg, ... at K) with rec_evaluate().")
        {
            database, model, test, split, testRatio, seed, k, save,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            var options = BuildOptions(parse.GetValue(test), parse.GetValue(split), parse.GetValue(testRatio), parse.GetValue(seed),
                parse.GetValue(k) ?? [], parse.GetValue(save));
            Run(context.Console, parse.GetValue(database)!, parse.GetValue(model), options);
        }));
        return command;
    }

    /// <summary>
    /// Builds the options JSON for <c>rec_evaluate</c>. Only what the user gave is passed, so the
    /// library applies its own defaults and reports a misplaced option (a seed with a test query)
    /// in its own words; at most one of <paramref name="test"/> and <paramref name="split"/> is
    /// checked here because the library's message names JSON options, not flags.
    /// </summary>
    public static JsonObject BuildOptions(string? test, string? split, double? testRatio, long? seed, IEnumerable<string> cutoffs, bool save)
    {
        if (test is not null && split is not null) throw CliErrors.EvalTestAndSplit();
        JsonObject options = [];
        if (test is not null) options["test"] = test;
        if (split is not null) options["split"] = split;
        if (testRatio is { } ratio) options["test_ratio"] = ratio;
        if (seed is { } s) options["seed"] = s;
        var ks = ParseCutoffs(cutoffs);
        if (ks.Count > 0) options["k"] = new JsonArray([.. ks.Select(value => (JsonNode)value)]);
        if (save) options["save"] = true;
        return options;
    }

    /// <summary>
    /// The cutoffs from every <c>-k</c> value, each a single integer or a comma-separated list, in
    /// the order given. Ranges are left to <c>rec_evaluate</c>, which states them.
    /// </summary>
    public static List<long> ParseCutoffs(IEnumerable<string> values)
    {
        var cutoffs = new List<long>();
        foreach (var value in values)
        {
            foreach (var part in value.Split(','))
            {
                var text = part.Trim();
                if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var cutoff)) throw CliErrors.CutoffNotInteger(text, value);
                cutoffs.Add(cutoff);
            }
        }
        return cutoffs;
    }

    private static void Run(IAnsiConsole console, string databasePath, string? model, JsonObject options)
    {
        var training = new Training();
        using var connection = Databases.OpenExisting(databasePath, training.Receive);
        var report = training.Run(console, connection, "rec_evaluate", Sql,
            ("$model", (object?)model ?? DBNull.Value), ("$options", options.ToJsonString()));
        console.MarkupLine($"[green]{Markup.Escape(Describe(report))}[/]");
        if (Excluded(report) is { } excluded) console.MarkupLine($"[grey]{Markup.Escape(excluded)}[/]");
        console.Write(MetricsTable(report));
        if (options.ContainsKey("save"))
            console.MarkupLine($"[grey]saved the report with '{Markup.Escape(Text(report, "model"))}' v{Markup.Escape(Text(report, "version"))} in rec_model_versions.metrics[/]");
    }

    /// <summary>One line describing a report: model, version, mode, users, skipped users, test pairs and time.</summary>
    public static string Describe(JsonObject report)
    {
        var mode = Text(report, "mode") == "split"
            ? Text(report, "split") == "random"
                ? $"split random, test_ratio {Text(report, "test_ratio")}, seed {Text(report, "seed")}"
                : $"split {Text(report, "split")}"
            : "test query";
        var seconds = report["seconds"] is JsonValue s && s.TryGetValue<double>(out var t) ? t.ToString("0.##", CultureInfo.InvariantCulture) : "?";
        return $"evaluated '{Text(report, "model")}' v{Text(report, "version")} ({mode}): {Count(report, "users")} users, "
            + $"{Count(report, "skipped_users")} skipped users, {Count(report, "test_pairs")} test pairs, {seconds} s";
    }

    /// <summary>The metrics as a table: one row per metric, one column per K, values with 4 decimals.</summary>
    public static Table MetricsTable(JsonObject report)
    {
        var cutoffs = report["k"] is JsonArray array ? array.Select(node => node?.ToJsonString() ?? "?").ToList() : [];
        var metrics = report["metrics"] as JsonObject;
        var table = new Table().Border(TableBorder.Rounded).AddColumn("metric");
        foreach (var k in cutoffs) table.AddColumn(new TableColumn($"@{k}").RightAligned());
        foreach (var metric in Metrics)
        {
            var cells = new List<string> { metric };
            foreach (var k in cutoffs)
            {
                cells.Add(metrics?[$"{metric}@{k}"] is JsonValue value && value.TryGetValue<double>(out var number)
                    ? number.ToString("0.0000", CultureInfo.InvariantCulture)
                    : "-");
            }
            table.AddRow([.. cells.Select(Markup.Escape)]);
        }
        return table;
    }

    /// <summary>What the protocol left out, when anything was: pairs dropped as training items and pairs of unknown items.</summary>
    private static string? Excluded(JsonObject report)
    {
        var dropped = report["dropped_pairs"] is JsonValue d && d.TryGetValue<long>(out var n) ? n : 0;
        var unknown = report["unknown_items"] is JsonValue u && u.TryGetValue<long>(out var m) ? m : 0;
        if (dropped == 0 && unknown == 0) return null;
        return $"{ProgressDisplay.Count(dropped)} test pairs dropped (training items of their user), "
            + $"{ProgressDisplay.Count(unknown)} test pairs with items the model does not know (counted, never hit)";
    }

    private static string Text(JsonObject report, string key) => report[key] switch
    {
        null => "?",
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        var node => node.ToJsonString(),
    };

    private static string Count(JsonObject report, string key) =>
        report[key] is JsonValue value && value.TryGetValue<long>(out var n) ? ProgressDisplay.Count(n) : "?";
}
