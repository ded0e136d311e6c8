using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using SqlRec.Cli.Data;
using SqlRec.Cli.Output;

namespace SqlRec.Cli.Commands;

/// <summary><c>sqlrec recommend &lt;db&gt; &lt;user&gt;</c>: the rows of the <c>recommend</c> table-valued function.</summary>
internal static class RecommendCommand
{
    /// <summary>The statement the command runs; a NULL model means the database's only model.</summary>
    public const string Sql = "SELECT rank, item_id, round(score, 4) AS score, source FROM recommend($user, $k, $model)";

    /// <summary>Builds the <c>recommend</c> command.</summary>
    public static Command Create(CliContext context)
    {
        var database = new Argument<string>("db") { Description = "The SQLite database file (must exist)." };
        var user = new Argument<string>("user")
        {
            Description = "The user's id: one that reads as an integer is passed as INTEGER (so 00001 is user 1), anything else as TEXT; "
                + "--text-id passes it as TEXT.",
        };
        var textId = new Option<bool>("--text-id")
        {
            Description = "Pass the user id as TEXT even when it reads as an integer, for TEXT ids such as '00001' or '42'.",
        };
        var k = new Option<int>("-k") { Description = "How many items to return.", DefaultValueFactory = _ => 10, HelpName = "count" };
        var model = new Option<string?>("--model") { Description = "The model's name; may be left out when the database has one model.", HelpName = "name" };
        var command = new Command("recommend", "Show the top-k recommendations for a user.") { database, user, textId, k, model };
        command.SetAction(parse => context.Guard(() =>
            Run(context.Console, parse.GetValue(database)!, parse.GetValue(user)!, parse.GetValue(textId), parse.GetValue(k), parse.GetValue(model))));
        return command;
    }

    /// <summary>
    /// A user id from the command line as the SQL value to bind: ids stored as INTEGER only
    /// match an INTEGER, so text that reads as an integer is bound as one, unless
    /// <paramref name="asText"/> asks for TEXT (ids stored as TEXT, such as '00001', only match TEXT).
    /// An empty or blank id is refused: recommend() would take it as an unknown user and answer
    /// with the popular items, which hides the mistake.
    /// </summary>
    public static object UserValue(string text, bool asText = false)
    {
        if (string.IsNullOrWhiteSpace(text)) throw CliErrors.EmptyUserId(text);
        if (asText) return text;
        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) ? id : text;
    }

    private static void Run(IAnsiConsole console, string databasePath, string user, bool textId, int k, string? model)
    {
        var userValue = UserValue(user, textId);
        using var connection = Databases.OpenExisting(databasePath);
        using var command = connection.CreateCommand();
        command.CommandText = Sql;
        command.Parameters.AddWithValue("$user", userValue);
        command.Parameters.AddWithValue("$k", k);
        command.Parameters.AddWithValue("$model", (object?)model ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        var (table, rows) = ResultTables.FromReader(reader, maxRows: 0);
        table.Title = new TableTitle($"recommendations for user {Markup.Escape(user)}{(model is null ? "" : $" from model '{Markup.Escape(model)}'")}");
        console.Write(table);
        console.MarkupLine($"[grey]({ProgressDisplay.Count(rows)} {(rows == 1 ? "item" : "items")})[/]");
    }
}
