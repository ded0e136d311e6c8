using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using SqlRec.Cli.Data;
using SqlRec.Cli.Output;

namespace SqlRec.Cli.Commands;

/// <summary>
/// <c>sqlrec embedder register|list|drop</c> (the embedder registry, through <c>rec_register_embedder</c>
/// and <c>rec_drop_embedder</c>) and <c>sqlrec embed &lt;db&gt; &lt;embedder&gt; --query ... --table ...</c>,
/// which fills a sqlite-vec <c>vec0</c> table through <c>rec_embed_each</c> with a progress bar.
/// </summary>
internal static class EmbedCommand
{
    /// <summary>The statement <c>embedder register</c> runs.</summary>
    public const string RegisterSql = "SELECT rec_register_embedder($name, $options)";

    /// <summary>Builds the <c>embed</c> command.</summary>
    public static Command Create(CliContext context)
    {
        var database = new Argument<string>("db") { Description = "The SQLite database file (must exist)." };
        var embedder = new Argument<string>("embedder") { Description = "A registered embedder, or 'hash' (built in, no model file)." };
        var query = new Option<string>("--query")
        {
            Description = "A SELECT returning (id, text), e.g. \"SELECT id, title || ' ' || genres FROM movies\". Ids must be integers (they become the vec0 rowid).",
            Required = true,
            HelpName = "select",
        };
        var table = new Option<string>("--table") { Description = "The vec0 table to fill; created (cosine distance) when missing.", Required = true, HelpName = "name" };
        var column = new Option<string>("--column") { Description = "The vector column. Default: embedding.", DefaultValueFactory = _ => "embedding", HelpName = "name" };
        var command = new Command("embed", "Embed the texts a query returns into a sqlite-vec vec0 table, in batches, with rec_embed_each().")
        {
            database, embedder, query, table, column,
        };
        command.SetAction(parse => context.Guard(() => Embed(context.Console, parse.GetValue(database)!, parse.GetValue(embedder)!,
            parse.GetValue(query)!, parse.GetValue(table)!, parse.GetValue(column)!)));
        return command;
    }

    /// <summary>Builds the <c>embedder</c> command and its subcommands.</summary>
    public static Command CreateEmbedder(CliContext context)
    {
        var root = new Command("embedder", "Register, list and drop text embedders (ONNX sentence models or hash variants).");

        var database = new Argument<string>("db") { Description = "The SQLite database file (must exist)." };
        var name = new Argument<string>("name") { Description = "The embedder's name." };
        var model = new Option<string>("--model") { Description = "Path of a BERT-style ONNX model (relative paths are taken from the database's folder).", HelpName = "path" };
        var tokenizer = new Option<string>("--tokenizer") { Description = "vocab.txt or tokenizer.json. Default: the one next to the model.", HelpName = "path" };
        var kind = new Option<string>("--kind") { Description = "onnx (default) or hash.", HelpName = "kind" };
        var options = new Option<string[]>("--option") { Description = "An embedder option as key=value (repeatable), e.g. max_length=128, provider=cpu.", HelpName = "key=value" };
        var json = new Option<string>("--options") { Description = "Embedder options as a JSON object.", HelpName = "json" };
        var register = new Command("register", "Load, check and register an embedder with rec_register_embedder().") { database, name, model, tokenizer, kind, options, json };
        register.SetAction(parse => context.Guard(() =>
        {
            var built = BuildOptions(parse.GetValue(kind), parse.GetValue(model), parse.GetValue(tokenizer), parse.GetValue(options) ?? [], parse.GetValue(json));
            using var connection = Databases.OpenExisting(parse.GetValue(database)!);
            using var command = connection.CreateCommand();
            command.CommandText = RegisterSql;
            command.Parameters.AddWithValue("$name", parse.GetValue(name)!);
            command.Parameters.AddWithValue("$options", built.ToJsonString());
            var summary = JsonNode.Parse((string)command.ExecuteScalar()!)!.AsObject();
            context.Console.MarkupLine($"[green]registered embedder '{Markup.Escape(parse.GetValue(name)!)}': {Markup.Escape($"{summary["kind"]}")}, {summary["dim"]} dimensions[/]");
            context.Console.Write(Training.SummaryTable(summary));
        }));
        root.Add(register);

        var listDatabase = new Argument<string>("db") { Description = "The SQLite database file (must exist)." };
        var list = new Command("list", "List the embedders of a database (the built-in 'hash' first).") { listDatabase };
        list.SetAction(parse => context.Guard(() =>
        {
            using var connection = Databases.OpenExisting(parse.GetValue(listDatabase)!);
            var table = new Table().Border(TableBorder.Rounded).AddColumn("name").AddColumn("kind").AddColumn(new TableColumn("dim").RightAligned()).AddColumn("options");
            table.AddRow("hash", "hash", "512", "built in: feature hashing, no model file");
            if (HasRegistry(connection))
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT name, kind, dimension, options FROM rec_embedders ORDER BY name";
                using var reader = command.ExecuteReader();
                while (reader.Read())
                    table.AddRow(Markup.Escape(reader.GetString(0)), reader.GetString(1), reader.GetInt64(2).ToString(CultureInfo.InvariantCulture), Markup.Escape(reader.GetString(3)));
            }
            context.Console.Write(table);
        }));
        root.Add(list);

        var dropDatabase = new Argument<string>("db") { Description = "The SQLite database file (must exist)." };
        var dropName = new Argument<string>("name") { Description = "The embedder to drop." };
        var drop = new Command("drop", "Forget a registered embedder with rec_drop_embedder() (vectors it made stay).") { dropDatabase, dropName };
        drop.SetAction(parse => context.Guard(() =>
        {
            using var connection = Databases.OpenExisting(parse.GetValue(dropDatabase)!);
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT rec_drop_embedder($name)";
            command.Parameters.AddWithValue("$name", parse.GetValue(dropName)!);
            command.ExecuteScalar();
            context.Console.MarkupLine($"[green]dropped embedder '{Markup.Escape(parse.GetValue(dropName)!)}'[/]");
        }));
        root.Add(drop);
        return root;
    }

    private static bool HasRegistry(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'rec_embedders'";
        return command.ExecuteScalar() is not null;
    }

    /// <summary>
    /// The options JSON for <c>rec_register_embedder</c>: <c>--options</c>, then <c>--kind</c>,
    /// <c>--model</c>, <c>--tokenizer</c>, then each <c>--option key=value</c>; a key given twice is an error.
    /// </summary>
    public static JsonObject BuildOptions(string? kind, string? model, string? tokenizer, IEnumerable<string> pairs, string? json)
    {
        JsonObject options;
        if (string.IsNullOrWhiteSpace(json)) options = [];
        else
        {
            try { options = JsonNode.Parse(json) as JsonObject ?? throw CliErrors.OptionsNotObject(json); }
            catch (JsonException e) { throw CliErrors.OptionsInvalidJson(e.Message, e); }
        }
        foreach (var (key, value, from) in new[] { ("kind", kind, "--kind"), ("model", model, "--model"), ("tokenizer", tokenizer, "--tokenizer") })
        {
            if (value is null) continue;
            if (options.ContainsKey(key)) throw CliErrors.OptionGivenTwice(key, from);
            options[key] = value;
        }
        foreach (var pair in pairs)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0) throw CliErrors.OptionNotKeyValue(pair);
            var key = pair[..equals].Trim();
            if (options.ContainsKey(key)) throw CliErrors.OptionGivenTwice(key, $"--option {pair}");
            options[key] = TrainCommand.ParseValue(pair[(equals + 1)..]);
        }
        return options;
    }

    private static bool IsPlainIdentifier(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    /// <summary>A name as a quoted SQL identifier.</summary>
    private static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static void Embed(IAnsiConsole console, string databasePath, string embedder, string query, string table, string column)
    {
        // vec0 takes plain column names only (no quoting), so the name must be one.
        if (!IsPlainIdentifier(column)) throw CliErrors.NotAPlainName("--column", column);
        IStageProgress? target = null;
        long? total = null;
        using var connection = Databases.OpenExisting(databasePath, progress =>
        {
            if (progress.Stage == "embedding") target?.Report("embedding", progress.Done, total);
        });
        var dimension = Scalar(connection, "SELECT vec_length(rec_embed($embedder, 'dimension probe'))", ("$embedder", embedder));
        // The total for the progress bar; a query that cannot be counted is reported by rec_embed_each itself.
        try { total = (long?)Scalar(connection, $"SELECT count(*) FROM ({query})"); }
        catch (SqliteException) { total = null; }
        var clock = Stopwatch.StartNew();
        var inserted = ProgressDisplay.Run(console, stages =>
        {
            target = stages;
            stages.Report("embedding", 0, total);
            // One transaction: a failure in any row leaves no table and no half-filled one behind.
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"CREATE VIRTUAL TABLE IF NOT EXISTS {Quote(table)} USING vec0({column} float[{dimension}] distance_metric=cosine)";
            command.ExecuteNonQuery();
            command.CommandText = $"INSERT INTO {Quote(table)}(rowid, {column}) SELECT id, embedding FROM rec_embed_each($embedder, $query)";
            command.Parameters.AddWithValue("$embedder", embedder);
            command.Parameters.AddWithValue("$query", query);
            var rows = command.ExecuteNonQuery();
            transaction.Commit();
            target = null;
            return rows;
        });
        var seconds = clock.Elapsed.TotalSeconds;
        console.MarkupLine($"[green]embedded {ProgressDisplay.Count(inserted)} rows with '{Markup.Escape(embedder)}' into {Markup.Escape(table)} " +
            $"({dimension} dimensions) in {seconds.ToString("0.##", CultureInfo.InvariantCulture)} s, {(inserted / Math.Max(seconds, 1e-9)).ToString("0", CultureInfo.InvariantCulture)} rows/s[/]");
    }

    private static object? Scalar(SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        return command.ExecuteScalar();
    }
}
