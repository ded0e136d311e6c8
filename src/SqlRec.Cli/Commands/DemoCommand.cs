using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using SqlRec.Cli.Data;
using SqlRec.Cli.Output;

namespace SqlRec.Cli.Commands;

/// <summary>
/// <c>sqlrec demo</c>: builds a small book-shop database from <see cref="DemoData"/>, trains a
/// popularity baseline and a personalised model with SQL, shows recommendations and measures
/// both, printing each statement it runs, so a first-time user sees the whole loop in a few
/// seconds without downloading anything.
/// </summary>
internal static class DemoCommand
{
    /// <summary>The database the demo writes when no <c>--db</c> is given.</summary>
    public const string DefaultDatabase = "sqlrec-demo.db";

    /// <summary>The name of the popularity model, the baseline.</summary>
    public const string PopularModel = "popular";

    /// <summary>The name of the personalised model (a graph filter).</summary>
    public const string PersonalModel = "personal";

    /// <summary>The training query both models learn from: what each user rated 4 stars or more.</summary>
    public const string Source = "SELECT user_id, item_id FROM ratings WHERE stars >= 4";

    /// <summary>The training statement of the baseline, shown and run exactly as written.</summary>
    public const string TrainPopularSql = $$"""
        SELECT rec_train('{{PopularModel}}', json_object(
          'model',  'popular',
          'source', '{{Source}}'))
        """;

    /// <summary>
    /// The training statement of the personalised model, shown and run exactly as written. The
    /// catalogue is 120 books, so a few singular vectors describe it (the default is 256).
    /// </summary>
    public const string TrainPersonalSql = $$"""
        SELECT rec_train('{{PersonalModel}}', json_object(
          'model',  'graph_filter',
          'source', '{{Source}}',
          'components', 16))
        """;

    /// <summary>
    /// The recommendation query, shown and run exactly as written. Microsoft.Data.Sqlite binds
    /// named parameters only, hence <c>$user</c> rather than <c>?</c>.
    /// </summary>
    public const string RecommendSql = $"""
        SELECT r.rank, i.title, i.genre, round(r.score, 3) AS score, r.source
        FROM recommend($user, 5, '{PersonalModel}') r JOIN items i ON i.id = r.item_id
        ORDER BY r.rank
        """;

    /// <summary>The popular model's top 5 titles and genres for a user, for the comparison line.</summary>
    public const string PopularTitlesSql = $"""
        SELECT i.title, i.genre FROM recommend($user, 5, '{PopularModel}') r JOIN items i ON i.id = r.item_id ORDER BY r.rank
        """;

    /// <summary>The scalar form, shown with its result.</summary>
    public const string ScalarSql = $"SELECT recommend(1, 5, '{PersonalModel}')";

    /// <summary>The evaluation statement, run for each model as <c>$model</c>.</summary>
    public const string EvaluateSql = "SELECT rec_evaluate($model, json_object('split', 'random', 'seed', 42, 'k', json_array(10)))";

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
            Description = $"How many users to generate (2 to 100000; the personalised model needs two). Default: {DemoData.DefaultUsers}.",
            DefaultValueFactory = _ => DemoData.DefaultUsers,
            HelpName = "N",
        };
        var command = new Command("demo", "Create a small book-shop database, train a popular and a personalised model on it with SQL, show recommendations and measure both.")
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
        if (users is < 2 or > 100_000) throw CliErrors.OptionRange("--users", "between 2 and 100000", users);
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

        console.Write(new Rule("[yellow]1. Train two models from a query over your own tables[/]").LeftJustified());
        console.MarkupLine("[grey]A baseline that ranks books by how many readers liked them, and a personalised graph filter\n"
            + "that scores books by what readers with similar ratings liked.[/]");
        foreach (var sql in new[] { TrainPopularSql, TrainPersonalSql })
        {
            console.Write(SqlPanel(sql));
            var summary = training.Run(console, connection, "rec_train", sql);
            console.MarkupLine($"[green]{Markup.Escape(Training.Describe(summary))}[/]");
        }
        console.WriteLine();

        console.Write(new Rule("[yellow]2. Ask for recommendations: the table-valued form, joined with your tables[/]").LeftJustified());
        console.Write(SqlPanel(RecommendSql));
        console.MarkupLine("[grey]Each user gets books from the genres they like, without the model being told any genre;\n"
            + "books a user has already rated are left out.[/]");
        var names = data.Users.ToDictionary(u => u.Id);
        foreach (var user in ShownUsers.Where(u => u <= data.Users.Count))
        {
            var who = names[user];
            var table = Query(connection, RecommendSql, ("$user", user), maxRows: 0).Table;
            table.Title = new TableTitle($"user {user}: {Markup.Escape(who.Name)}, likes {Markup.Escape(who.FavouriteGenres)}");
            console.Write(table);
            console.MarkupLine($"[grey]{Markup.Escape(PopularComparison(connection, user, who))}[/]");
        }
        console.WriteLine();

        console.Write(new Rule("[yellow]3. Or as a JSON array of item ids, for batch scoring in plain SQL[/]").LeftJustified());
        using (var scalar = connection.CreateCommand())
        {
            scalar.CommandText = ScalarSql;
            console.MarkupLine($"[blue]{Markup.Escape(ScalarSql)}[/]  ->  {Markup.Escape(scalar.ExecuteScalar() as string ?? "NULL")}");
        }
        console.WriteLine();

        console.Write(new Rule("[yellow]4. Measure: hold out 20% of each user's books, retrain in memory, count the hits[/]").LeftJustified());
        console.Write(SqlPanel(EvaluateSql));
        console.MarkupLine("[grey]recall@10: the share of held-out books found in the top 10; ndcg@10 also rewards finding them near the top.[/]");
        console.MarkupLine(EvaluationLine(connection));
        console.WriteLine();

        console.Write(new Rule("[yellow]Explore further[/]").LeftJustified());
        var db = Quote(databasePath);
        console.MarkupLine($"  {CliApp.CommandName} recommend {Markup.Escape(db)} 42 -k 5 --model {PersonalModel}");
        console.MarkupLine($"  {CliApp.CommandName} eval {Markup.Escape(db)} --model {PersonalModel} --split random -k 5,10");
        console.MarkupLine($"  {CliApp.CommandName} sql {Markup.Escape(db)} \"SELECT name, recommend(id, 3, '{PersonalModel}') FROM users LIMIT 3\"");
        console.MarkupLine($"  {CliApp.CommandName} sql {Markup.Escape(db)} \"SELECT name, kind, current_version FROM rec_models\"");
        console.MarkupLine($"[grey]Done in {clock.Elapsed.TotalSeconds:0.0} s. Add --help to any command for its options.[/]");
    }

    /// <summary>
    /// One line with the popular model's top 5 for a user and how many are in the user's
    /// favourite genres, so the personalised table above it has something to be compared with.
    /// </summary>
    private static string PopularComparison(SqliteConnection connection, int user, DemoUser who)
    {
        using var command = connection.CreateCommand();
        command.CommandText = PopularTitlesSql;
        command.Parameters.AddWithValue("$user", user);
        var favourites = who.FavouriteGenres.Split(", ");
        var titles = new List<string>();
        var liked = 0;
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                titles.Add(reader.GetString(0));
                if (favourites.Contains(reader.GetString(1))) liked++;
            }
        }
        return $"popular model ({liked} of {titles.Count} in {who.FavouriteGenres}): {string.Join(", ", titles)}";
    }

    /// <summary>recall@10 and ndcg@10 of both models on the same random split, on one line.</summary>
    private static string EvaluationLine(SqliteConnection connection)
    {
        var parts = new List<string>();
        foreach (var model in new[] { PersonalModel, PopularModel })
        {
            using var command = connection.CreateCommand();
            command.CommandText = EvaluateSql;
            command.Parameters.AddWithValue("$model", model);
            var metrics = JsonNode.Parse((string)command.ExecuteScalar()!)!["metrics"]!;
            string Metric(string name) => metrics[name]!.GetValue<double>().ToString("0.000", CultureInfo.InvariantCulture);
            parts.Add($"[bold]{model}[/]: recall@10 {Metric("recall@10")}, ndcg@10 {Metric("ndcg@10")}");
        }
        return string.Join(" | ", parts);
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
