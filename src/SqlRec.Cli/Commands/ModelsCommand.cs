using System.CommandLine;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Spectre.Console;

namespace SqlRec.Cli.Commands;

/// <summary>
/// <c>sqlrec models list|install</c>: the named models the CLI carries (it references
/// SqlRec.Models.MiniLM, so <c>models/all-MiniLM-L6-v2/</c> lies beside it and every command that
/// registers <c>json_object('model', 'all-MiniLM-L6-v2')</c> just works) and a copy of them for
/// hosts that are not this CLI: the loadable extension, Python, another .NET app. Nothing is
/// downloaded: install copies the CLI's own files, then checks the copy by loading it with SqlRec
/// (sha256 against the pins, and the model's probes).
/// </summary>
internal static class ModelsCommand
{
    /// <summary>The named models the CLI knows, with the short names <c>install</c> also takes.</summary>
    private static readonly (string Name, string Short)[] Known = [("all-MiniLM-L6-v2", "minilm")];

    /// <summary>The environment variable SqlRec searches first for named models.</summary>
    private const string ModelsVariable = "SQLREC_MODELS";

    /// <summary>The per-user folder SqlRec searches last (see the catalog's named models).</summary>
    public static string UserFolder =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "sqlrec", "models");

    private static string Carried(string name) => Path.Combine(AppContext.BaseDirectory, "models", name);

    /// <summary>Builds the <c>models</c> command.</summary>
    public static Command Create(CliContext context)
    {
        var root = new Command("models", "Named sentence models (all-MiniLM-L6-v2) the CLI carries, and copies of them for other hosts.");

        var list = new Command("list", "List the named models this CLI carries and where.");
        list.SetAction(_ => context.Guard(() =>
        {
            var table = new Table().Border(TableBorder.Rounded).AddColumn("model").AddColumn("short name").AddColumn("carried by this CLI");
            foreach (var (name, shortName) in Known)
                table.AddRow(name, shortName, Markup.Escape(File.Exists(Path.Combine(Carried(name), "model.onnx")) ? Carried(name) : "no"));
            context.Console.Write(table);
            context.Console.MarkupLine(Markup.Escape($"Use one with: SELECT rec_register_embedder('minilm', json_object('model', 'all-MiniLM-L6-v2'));"));
        }));
        root.Add(list);

        var model = new Argument<string>("model") { Description = "all-MiniLM-L6-v2 (or minilm)." };
        var to = new Option<string>("--to")
        {
            Description = $"The models folder to copy into (it gets a subfolder named after the model). Default: the user's folder, {UserFolder}, which SqlRec searches in every host; give the folder of the loadable extension's models/ (e.g. ext/models) to ship it beside sqlrec.so.",
            HelpName = "folder",
        };
        var install = new Command("install", "Copy a named model this CLI carries to a folder SqlRec searches, and check the copy.") { model, to };
        install.SetAction(parse => context.Guard(() => Install(context, parse.GetValue(model)!, parse.GetValue(to) ?? UserFolder)));
        root.Add(install);
        return root;
    }

    private static void Install(CliContext context, string requested, string folder)
    {
        var name = Known.FirstOrDefault(k => string.Equals(k.Name, requested, StringComparison.OrdinalIgnoreCase) || string.Equals(k.Short, requested, StringComparison.OrdinalIgnoreCase)).Name
            ?? throw CliErrors.UnknownNamedModel(requested, string.Join(", ", Known.Select(k => $"'{k.Name}' ('{k.Short}')")));
        var source = Carried(name);
        if (!File.Exists(Path.Combine(source, "model.onnx")))
            throw CliErrors.NamedModelNotCarried(name, Path.Combine(source, "model.onnx"));
        var destination = Path.Combine(Path.GetFullPath(folder), name);
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.GetFiles(source))
        {
            var target = Path.Combine(destination, Path.GetFileName(file));
            // Beside and renamed: a process using the old copy never reads a half-written file.
            var temporary = target + ".partial";
            File.Copy(file, temporary, overwrite: true);
            File.Move(temporary, target, overwrite: true);
        }
        // Check the copy as SqlRec will use it: the variable makes this folder the first searched.
        var previous = Environment.GetEnvironmentVariable(ModelsVariable);
        Environment.SetEnvironmentVariable(ModelsVariable, Path.GetFullPath(folder));
        try
        {
            using var connection = new SqliteConnection("Data Source=:memory:");
            connection.Open();
            connection.UseSqlRec();
            using var command = connection.CreateCommand();
            command.CommandText = EmbedCommand.RegisterSql;
            command.Parameters.AddWithValue("$name", "check");
            command.Parameters.AddWithValue("$options", new JsonObject { ["model"] = name }.ToJsonString());
            var summary = JsonNode.Parse((string)command.ExecuteScalar()!)!.AsObject();
            context.Console.MarkupLine(Markup.Escape($"installed {name} in {destination} (checked: {summary["dim"]} dimensions, {summary["model_path"]})"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(ModelsVariable, previous);
        }
        if (!string.Equals(Path.GetFullPath(folder), UserFolder, StringComparison.Ordinal))
            context.Console.MarkupLine(Markup.Escape($"SqlRec finds it there when that folder is models/ beside sqlrec.so or SqlRec.dll, or named by {ModelsVariable}={Path.GetFullPath(folder)}."));
    }
}
