using System.CommandLine;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using SqlRec.Cli.Data;
using SqlRec.Cli.Output;

namespace SqlRec.Cli.Commands;

/// <summary>
/// <c>sqlrec demo</c>: builds a small book-shop database from <see cref="DemoData"/>, trains a
/// model with SQL and shows recommendations, printing each statement it runs, so a first-time
/// user sees the whole loop in a few seconds without downloading anything.
/// </summary>
internal static class DemoCommand
{
    /// <summary>The database the demo writes when no <c>--db</c> is given.</summary>
    public const string DefaultDatabase = "sqlrec-demo.db";

    /// <summary>The model the demo trains.</summary>
    public const string ModelName = "demo";

    /// <summary>The training statement, shown and run exactly as written.</summary>
    public const string TrainSql = """
        SELECT rec_train('demo', json_object(
          'model', 'popular',
          'source', 'SELECT user_id, item_id, stars, rated_at
                     FROM ratings WHERE stars >= 4',
          'half_life_days', 90))
        """;

    /// <summary>
    /// The recommendation query, shown and run exactly as written. Microsoft.Data.Sqlite binds
    /// named parameters only, hence <c>$user</c> rather than <c>?</c>.
    /// </summary>
    public const string RecommendSql = """
        SELECT r.rank, i.title, i.genre, round(r.score, 2) AS score, r.source
        FROM recommend($user, 5) r JOIN items i ON i.id = r.item_id
        ORDER BY r.rank
        """;

    /// <summary>The scalar form, shown with its result.</summary>
    public const string ScalarSql = "SELECT recommend(1, 5)";

    /// <summary>The users whose recommendations are shown.</summary>
    public static readonly IReadOnlyList<int> ShownUsers = [1, 2, 3];

    /// <summary>Builds the <c>demo</c> command.</summary>
    public static Command Create(CliContext context)
    {
        var database = new Option<string>("--db")
        {
            Description = $"The database file to create (replaced if it exists). Default: {DefaultDatabase} in the current folder.",
            DefaultValueFactory = _ => DefaultDatabase,
            HelpName = "path",
        };
        var users = new Option<int>("--users")
        {
            Description = $"How many users to generate (1 to 100000). Default: {DemoData.DefaultUsers}.",
            DefaultValueFactory = _ => DemoData.DefaultUsers,
            HelpName = "N",
        };
        var command = new Command("demo", "Create a small book-shop database, train a model on it with SQL and show recommendations.")
        {
            database,
            users,
        };
        command.SetAction(parse => context.Guard(() => Run(context.Console, parse.GetValue(database)!, parse.GetValue(users))));
        return command;
    }

    /// <summary>Runs the demo, writing the database to <paramref name="databasePath"/>.</summary>
    public static void Run(IAnsiConsole console, string databasePath, int users)
    {
        if (users is < 1 or > 100_000) throw CliErrors.OptionRange("--users", "between 1 and 100000", users);
        var clock = Stopwatch.StartNew();
        var path = Path.GetFullPath(databasePath);
        if (Directory.Exists(path)) throw CliErrors.DatabaseIsFolder(path);
        var replaced = File.Exists(path);
        if (replaced) Databases.Delete(path);

        var data = DemoData.Generate(users);
        var training = new Training();
        using var connection = Databases.OpenOrCreate(path, training.Receive);
        Execute(connection, "PRAGMA journal_mode = WAL");
        data.WriteTo(connection);

        console.MarkupLine($"[bold]SqlRec demo[/]: a small book shop in [blue]{Markup.Escape(path)}[/]{(replaced ? " (replaced the existing file)" : "")}");
        console.MarkupLine($"tables: [green]items[/] ({data.Books.Count} books in {DemoData.GenreNames.Count} genres), "
            + $"[green]users[/] ({ProgressDisplay.Count(data.Users.Count)}), [green]ratings[/] ({ProgressDisplay.Count(data.Ratings.Count)})");
        console.WriteLine();

        console.Write(new Rule("[yellow]1. Train a model from a query over your own tables[/]").LeftJustified());
        console.Write(SqlPanel(TrainSql));
        var summary = training.Run(console, connection, TrainSql);
        console.MarkupLine($"[green]{Markup.Escape(Training.Describe(summary))}[/]");
        console.WriteLine();

        console.Write(new Rule("[yellow]2. Ask for recommendations: the table-valued form, joined with your tables[/]").LeftJustified());
        console.Write(SqlPanel(RecommendSql));
        console.MarkupLine("[grey]The 'popular' model ranks by recent ratings and skips books a user has rated.\n"
            + "Personalised models are trained and queried the same way.[/]");
        var names = data.Users.ToDictionary(u => u.Id);
        foreach (var user in ShownUsers.Where(u => u <= data.Users.Count))
        {
            var who = names[user];
            var table = Query(connection, RecommendSql, ("$user", user), maxRows: 0).Table;
            table.Title = new TableTitle($"user {user}: {Markup.Escape(who.Name)}, likes {Markup.Escape(who.FavouriteGenres)}");
            console.Write(table);
        }
        console.WriteLine();

        console.Write(new Rule("[yellow]3. Or as a JSON array of item ids, for batch scoring in plain SQL[/]").LeftJustified());
        using (var scalar = connection.CreateCommand())
        {
            scalar.CommandText = ScalarSql;
            console.MarkupLine($"[blue]{Markup.Escape(ScalarSql)}[/]  ->  {Markup.Escape(scalar.ExecuteScalar() as string ?? "NULL")}");
        }
        console.WriteLine();

        console.Write(new Rule("[yellow]Explore further[/]").LeftJustified());
        var db = Quote(databasePath);
        console.MarkupLine($"  {CliApp.CommandName} sql {Markup.Escape(db)} \"SELECT genre, count(*) FROM items GROUP BY genre\"");
        console.MarkupLine($"  {CliApp.CommandName} sql {Markup.Escape(db)} \"SELECT name, recommend(id, 3) FROM users LIMIT 3\"");
        console.MarkupLine($"  {CliApp.CommandName} recommend {Markup.Escape(db)} 42 -k 5");
        console.MarkupLine($"  {CliApp.CommandName} sql {Markup.Escape(db)} \"SELECT name, kind, current_version FROM rec_models\"");
        console.MarkupLine($"[grey]Done in {clock.Elapsed.TotalSeconds:0.0} s. Add --help to any command for its options.[/]");
    }

    /// <summary>Runs a query and returns it as a table.</summary>
    internal static (Table Table, long Rows) Query(SqliteConnection connection, string sql, (string Name, object Value) parameter, int maxRows)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue(parameter.Name, parameter.Value);
        using var reader = command.ExecuteReader();
        return ResultTables.FromReader(reader, maxRows);
    }

    private static Panel SqlPanel(string sql) =>
        new Panel(new Text(sql, new Style(Color.Blue))) { Header = new PanelHeader("SQL"), Border = BoxBorder.Rounded, Expand = false };

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string Quote(string path) => path.Contains(' ', StringComparison.Ordinal) ? $"\"{path}\"" : path;
}
