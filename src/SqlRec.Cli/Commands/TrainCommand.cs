using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using SqlRec.Cli.Data;

namespace SqlRec.Cli.Commands;

/// <summary><c>sqlrec train &lt;db&gt; &lt;name&gt; --model kind --source "SELECT ..."</c>: runs <c>rec_train</c> with a progress display.</summary>
internal static class TrainCommand
{
    /// <summary>The statement the command runs; options travel as one JSON parameter.</summary>
    public const string Sql = "SELECT rec_train($name, $options)";

    /// <summary>Builds the <c>train</c> command.</summary>
    public static Command Create(CliContext context)
    {
        var database = new Argument<string>("db") { Description = "The SQLite database file (must exist)." };
        var name = new Argument<string>("name") { Description = "The model's name; training again makes a new version." };
        var model = new Option<string>("--model") { Description = "The model kind, e.g. popular.", Required = true, HelpName = "kind" };
        var source = new Option<string>("--source")
        {
            Description = "A SELECT returning (user, item[, weight[, timestamp]]), e.g. \"SELECT user_id, item_id FROM ratings\".",
            Required = true,
            HelpName = "select",
        };
        var options = new Option<string[]>("--option")
        {
            Description = "A model option as key=value (repeatable); numbers, true/false and JSON arrays or objects ([...] or {...}) are passed as such, anything else as text.",
            HelpName = "key=value",
        };
        var json = new Option<string>("--options") { Description = "Model options as a JSON object, e.g. '{\"half_life_days\": 30}'.", HelpName = "json" };
        var command = new Command("train", "Train a model with rec_train() from a query over the database's tables.")
        {
            database, name, model, source, options, json,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            var built = BuildOptions(parse.GetValue(model)!, parse.GetValue(source)!, parse.GetValue(options) ?? [], parse.GetValue(json));
            Run(context.Console, parse.GetValue(database)!, parse.GetValue(name)!, built);
        }));
        return command;
    }

    /// <summary>
    /// Builds the options JSON for <c>rec_train</c>: <c>--options</c> first, then model and source,
    /// then each <c>--option key=value</c>. A key given twice is an error rather than a silent
    /// override, since either value could be the one the user meant.
    /// </summary>
    public static JsonObject BuildOptions(string model, string source, IEnumerable<string> pairs, string? json)
    {
        JsonObject options;
        if (string.IsNullOrWhiteSpace(json)) options = [];
        else
        {
            try
            {
                options = JsonNode.Parse(json) as JsonObject ?? throw CliErrors.OptionsNotObject(json);
            }
            catch (JsonException e)
            {
                throw CliErrors.OptionsInvalidJson(e.Message, e);
            }
        }
        Add(options, "model", JsonValue.Create(model), "--model");
        Add(options, "source", JsonValue.Create(source), "--source");
        foreach (var pair in pairs)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0) throw CliErrors.OptionNotKeyValue(pair);
            Add(options, pair[..equals].Trim(), ParseValue(pair[(equals + 1)..]), $"--option {pair}");
        }
        return options;
    }

    /// <summary>
    /// A command-line value as JSON: an integer, a finite number, true/false, a JSON array or object
    /// (text starting with <c>[</c> or <c>{</c> that parses, such as freedom's <c>modalities</c>), or else text.
    /// </summary>
    public static JsonNode ParseValue(string text)
    {
        if (text.TrimStart() is ['[' or '{', ..])
        {
            try
            {
                if (JsonNode.Parse(text) is { } structured) return structured;
            }
            catch (JsonException)
            {
                // Not JSON after all: a text value that happens to start with a bracket.
            }
        }
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer)) return JsonValue.Create(integer);
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)) return JsonValue.Create(number);
        if (text is "true" or "True") return JsonValue.Create(true);
        if (text is "false" or "False") return JsonValue.Create(false);
        return JsonValue.Create(text);
    }

    private static void Add(JsonObject options, string key, JsonNode value, string from)
    {
        if (options.ContainsKey(key)) throw CliErrors.OptionGivenTwice(key, from);
        options[key] = value;
    }

    private static void Run(IAnsiConsole console, string databasePath, string name, JsonObject options)
    {
        var training = new Training();
        using var connection = Databases.OpenExisting(databasePath, training.Receive);
        var summary = training.Run(console, connection, "rec_train", Sql, ("$name", name), ("$options", options.ToJsonString()));
        console.MarkupLine($"[green]{Markup.Escape(Training.Describe(summary))}[/]");
        console.Write(Training.SummaryTable(summary));
    }
}
