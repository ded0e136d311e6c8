using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using SqlRec.Cli;
using SqlRec.Cli.Commands;
using SqlRec.Cli.Data;

namespace SqlRec.Tests;

/// <summary>
/// The <c>sqlrec</c> command line, run in-process through <see cref="CliApp.Run"/> against a
/// plain-text console whose output the tests read back.
/// </summary>
[TestClass]
public sealed class CliTests
{
    private string _folder = null!;

    [TestMethod]
    public void TheReadmeQuickStartShowsWhatTheCommandPrints()
    {
        var db = PathOf("sqlrec-demo.db");
        AssertOk(Run("demo", "--db", db));
        var root = TestData.RepositoryRoot();
        var sql = File.ReadAllText(Path.Combine(root, "sql", "examples", "quickstart.sql"));
        var result = RunWithWidth(120, "sql", db, sql);
        AssertOk(result);
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var start = readme.IndexOf("```text\n", readme.IndexOf("Output (user 7", StringComparison.Ordinal), StringComparison.Ordinal) + 8;
        var pasted = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];
        Assert.AreEqual(NormalizeTable(pasted), NormalizeTable(result.Output));

        // Timings differ run to run and change the width of the table that shows them.
        static string NormalizeTable(string text) =>
            System.Text.RegularExpressions.Regex.Replace(
                System.Text.RegularExpressions.Regex.Replace(text, "\"seconds\":[0-9.]+", "\"seconds\":_").Replace("─", ""), "[ ]+", " ").Trim();
    }

    [TestInitialize]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("sqlrec-cli-").FullName;

    [TestCleanup]
    public void DeleteFolder()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    // ---- helpers ---------------------------------------------------------------------------

    /// <summary>Runs the CLI; returns its exit code and everything it printed (results and errors).</summary>
    private static (int Code, string Output) Run(params string[] args) => RunWithWidth(400, args);

    /// <summary>Runs the CLI with a console of the given width (the redirected CLI uses 120); the CLI test classes share it.</summary>
    internal static (int Code, string Output) RunWithWidth(int width, params string[] args)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        // Wide enough (400 by default) that no message or table cell the tests look for is wrapped.
        console.Profile.Width = width;
        var code = CliApp.Run(args, console);
        return (code, writer.ToString());
    }

    private static void AssertOk((int Code, string Output) result)
    {
        Assert.AreEqual(0, result.Code, $"the command failed:\n{result.Output}");
    }

    private static void AssertError((int Code, string Output) result, string message)
    {
        Assert.AreEqual(1, result.Code, $"expected exit code 1:\n{result.Output}");
        StringAssert.Contains(result.Output, "error: " + message);
        Assert.DoesNotContain(" at SqlRec.", result.Output, "no stack trace");
    }

    private string PathOf(string name) => Path.Combine(_folder, name);

    private static SqliteConnection Open(string path, bool sqlRec = false)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        if (sqlRec) connection.UseSqlRec();
        return connection;
    }

    private static object? Scalar(string path, string sql)
    {
        using var connection = Open(path);
        return TestDb.Scalar(connection, sql);
    }

    private static List<string> TableNames(string path)
    {
        using var connection = Open(path);
        return [.. TestDb.Rows(connection, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").Select(r => (string)r[0]!)];
    }

    /// <summary>The cells of the table rows in the output (lines between │ borders), trimmed.</summary>
    private static List<string[]> TableRows(string output) =>
        [.. output.Split('\n')
            .Where(line => line.StartsWith('│'))
            .Select(line => line.Trim().Trim('│').Split('│').Select(cell => cell.Trim()).ToArray())];

    /// <summary>A small database with the interactions of the smoke test.</summary>
    private string SmallDatabase()
    {
        var path = PathOf("small.db");
        using var connection = Open(path);
        TestDb.Rows(connection, "CREATE TABLE likes(user_id INTEGER, item_id INTEGER)");
        TestDb.Rows(connection, "INSERT INTO likes VALUES (1,10),(1,11),(2,10),(2,12),(3,10),(3,11),(3,13),(4,12)");
        return path;
    }

    // ---- demo ------------------------------------------------------------------------------

    [TestMethod]
    public void DemoCreatesTheDatabaseTrainsAndShowsRecommendations()
    {
        var db = PathOf("demo.db");
        var result = Run("demo", "--db", db);
        AssertOk(result);
        Assert.IsTrue(File.Exists(db));
        StringAssert.Contains(result.Output, "SELECT rec_train('popular'");
        StringAssert.Contains(result.Output, "SELECT rec_train('personal'");
        StringAssert.Contains(result.Output, "trained 'personal' v1 (graph_filter)");
        StringAssert.Contains(result.Output, "user 1: ");

        using var connection = Open(db, sqlRec: true);
        Assert.AreEqual("popular", TestDb.Scalar(connection, $"SELECT kind FROM rec_models WHERE name = '{DemoCommand.PopularModel}'"));
        Assert.AreEqual("graph_filter", TestDb.Scalar(connection, $"SELECT kind FROM rec_models WHERE name = '{DemoCommand.PersonalModel}'"));
        Assert.AreEqual("wal", TestDb.Scalar(connection, "PRAGMA journal_mode"));
        var expected = TestDb.Rows(connection,
            $"SELECT i.id, i.title, i.genre FROM recommend(1, 5, '{DemoCommand.PersonalModel}') r JOIN items i ON i.id = r.item_id ORDER BY r.rank");
        Assert.HasCount(5, expected);
        // The first table after the SQL panel is user 1's: rank, title, genre, score, source.
        var shown = TableRows(result.Output).Where(r => r.Length == 5 && r[4] == "graph_filter").Take(5).ToList();
        Assert.HasCount(5, shown);
        for (var i = 0; i < 5; i++)
        {
            Assert.AreEqual((i + 1).ToString(CultureInfo.InvariantCulture), shown[i][0]);
            Assert.AreEqual(expected[i][1], shown[i][1]);
            Assert.AreEqual(expected[i][2], shown[i][2]);
        }

        // The personalised model follows user 1's taste, judged by the generator's own data.
        var data = DemoData.Generate();
        var favourites = data.Users[0].FavouriteGenres.Split(", ");
        var genreOf = data.Books.ToDictionary(b => (long)b.Id, b => b.Genre);
        var liked = expected.Count(row => favourites.Contains(genreOf[(long)row[0]!]));
        Assert.IsGreaterThanOrEqualTo(3, liked, $"{liked} of user 1's top 5 are in {data.Users[0].FavouriteGenres}");
        StringAssert.Contains(result.Output, $"user 1: {data.Users[0].Name}, likes {data.Users[0].FavouriteGenres}");
        StringAssert.Contains(result.Output, "popular model (");

        var scalar = (string)TestDb.Scalar(connection, DemoCommand.ScalarSql)!;
        StringAssert.Contains(result.Output, $"{DemoCommand.ScalarSql}  ->  {scalar}");

        // The evaluation line shows both models' figures, and the graph filter wins clearly.
        var recall = new Dictionary<string, double>();
        foreach (var model in new[] { DemoCommand.PersonalModel, DemoCommand.PopularModel })
        {
            var metrics = JsonNode.Parse((string)TestDb.Scalar(connection, DemoCommand.EvaluateSql.Replace("$model", $"'{model}'", StringComparison.Ordinal))!)!["metrics"]!;
            recall[model] = metrics["recall@10"]!.GetValue<double>();
            StringAssert.Contains(result.Output, string.Create(CultureInfo.InvariantCulture,
                $"{model}: recall@10 {recall[model]:0.000}, ndcg@10 {metrics["ndcg@10"]!.GetValue<double>():0.000}"));
        }
        Assert.IsGreaterThan(2 * recall[DemoCommand.PopularModel], recall[DemoCommand.PersonalModel], "graph_filter should beat popular clearly");
        StringAssert.Contains(result.Output, $"sqlrec sql {db} \"");
        StringAssert.Contains(result.Output, $"sqlrec eval {db} --model personal");
    }

    [TestMethod]
    public void DemoReplacesAnExistingDatabaseAndSaysSo()
    {
        var db = PathOf("demo.db");
        File.WriteAllText(db, "not a database");
        var result = Run("demo", "--db", db, "--users", "40");
        AssertOk(result);
        StringAssert.Contains(result.Output, "(replaced the existing file)");
        Assert.AreEqual(40L, Scalar(db, "SELECT count(*) FROM users"));
    }

    [TestMethod]
    public void DemoRejectsAnOutOfRangeUserCount()
    {
        AssertError(Run("demo", "--db", PathOf("demo.db"), "--users", "1"), CliErrors.OptionRange("--users", "between 2 and 100000", 1).Message);
        Assert.IsFalse(File.Exists(PathOf("demo.db")));
    }

    [TestMethod]
    public void DemoDataIsDeterministic()
    {
        var first = DemoData.Generate();
        var second = DemoData.Generate();
        CollectionAssert.AreEqual(first.Books.ToList(), second.Books.ToList());
        CollectionAssert.AreEqual(first.Users.ToList(), second.Users.ToList());
        CollectionAssert.AreEqual(first.Ratings.ToList(), second.Ratings.ToList());
        var other = DemoData.Generate(seed: DemoData.DefaultSeed + 1);
        CollectionAssert.AreNotEqual(first.Ratings.ToList(), other.Ratings.ToList());
    }

    [TestMethod]
    public void DemoDataHasThePromisedShape()
    {
        var data = DemoData.Generate();
        Assert.HasCount(120, data.Books);
        Assert.HasCount(8, DemoData.GenreNames);
        CollectionAssert.AreEquivalent(DemoData.GenreNames.ToList(), data.Books.Select(b => b.Genre).Distinct().ToList());
        Assert.AreEqual(120, data.Books.Select(b => b.Title).Distinct().Count(), "titles are unique");
        CollectionAssert.AreEqual(Enumerable.Range(1, 120).ToList(), data.Books.Select(b => b.Id).ToList());
        Assert.HasCount(300, data.Users);
        Assert.IsTrue(data.Users.All(u => u.FavouriteGenres.Split(", ").Length is 1 or 2 && u.FavouriteGenres.Split(", ").All(DemoData.GenreNames.Contains)));
        Assert.IsTrue(data.Ratings.Count is >= 5_000 and <= 8_000, $"{data.Ratings.Count} ratings");
        Assert.AreEqual(data.Ratings.Count, data.Ratings.Select(r => (r.UserId, r.ItemId)).Distinct().Count(), "one rating per user and book");
        Assert.IsTrue(data.Ratings.All(r => r.Stars is >= 1 and <= 5));
        foreach (var rating in data.Ratings)
        {
            var at = DateTimeOffset.Parse(rating.RatedAt, CultureInfo.InvariantCulture);
            Assert.IsTrue(at <= DemoData.End && at > DemoData.End.AddDays(-366), rating.RatedAt);
        }

        // Users mostly rate their favourite genres, and rate them higher.
        var genreOf = data.Books.ToDictionary(b => b.Id, b => b.Genre);
        var favourites = data.Users.ToDictionary(u => u.Id, u => u.FavouriteGenres.Split(", "));
        var inFavourite = data.Ratings.ToLookup(r => favourites[r.UserId].Contains(genreOf[r.ItemId]));
        Assert.IsTrue(inFavourite[true].Count() > 0.7 * data.Ratings.Count);
        Assert.IsTrue(inFavourite[true].Average(r => r.Stars) > inFavourite[false].Average(r => r.Stars) + 0.8);

        // Popularity within a genre is skewed: the top book of each genre has at least twice the
        // median's ratings (Zipf draws, flattened because nobody rates a book twice).
        foreach (var genre in DemoData.GenreNames)
        {
            var counts = data.Ratings.Where(r => genreOf[r.ItemId] == genre).GroupBy(r => r.ItemId).Select(g => g.Count()).OrderDescending().ToList();
            Assert.IsTrue(counts[0] >= 2 * counts[counts.Count / 2], $"{genre}: {string.Join(",", counts)}");
        }
    }

    [TestMethod]
    public void DemoDataWritesItsTables()
    {
        var data = DemoData.Generate(users: 50);
        using var connection = Open(":memory:");
        data.WriteTo(connection);
        Assert.AreEqual((long)data.Books.Count, TestDb.Scalar(connection, "SELECT count(*) FROM items"));
        Assert.AreEqual(50L, TestDb.Scalar(connection, "SELECT count(*) FROM users"));
        Assert.AreEqual((long)data.Ratings.Count, TestDb.Scalar(connection, "SELECT count(*) FROM ratings"));
        var first = data.Ratings[0];
        Assert.AreEqual(first.RatedAt, TestDb.Scalar(connection,
            "SELECT rated_at FROM ratings WHERE user_id = $1 AND item_id = $2", first.UserId, first.ItemId));
        Assert.AreEqual(data.Books[0].Title, TestDb.Scalar(connection, "SELECT title FROM items WHERE id = 1"));
    }

    // ---- import movielens ------------------------------------------------------------------

    /// <summary>A tiny MovieLens folder: 3 genres (so 3 flags per movie), a Latin-1 title, 3 users, 5 ratings.</summary>
    private string MovieLensFixture(bool withGenreFile = true)
    {
        var folder = Directory.CreateDirectory(PathOf("ml")).FullName;
        File.WriteAllText(Path.Combine(folder, "u.data"), "1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\t4\t891717742\n3\t30\t1\t878887116\n3\t20\t2\t878887117\n");
        if (withGenreFile)
        {
            File.WriteAllText(Path.Combine(folder, "u.genre"), "unknown|0\nAction|1\nComedy|2\n\n");
            File.WriteAllText(Path.Combine(folder, "u.item"),
                "10|Café Society (1995)|01-Jan-1995||http://example.org|0|1|1\n"
                + "20|Toy Story (1995)|4-Feb-1971||http://example.org|0|0|1\n"
                + "30|unknown||||1|0|0\n", Encoding.Latin1);
        }
        else
        {
            var flags = string.Join('|', Enumerable.Repeat("0", 19));
            File.WriteAllText(Path.Combine(folder, "u.item"),
                $"10|Café (1995)|01-Jan-1995||u|0|1|{string.Join('|', Enumerable.Repeat("0", 17))}\n20|B (1995)|01-Jan-1995||u|{flags}\n30|C (1995)|01-Jan-1995||u|{flags}\n",
                Encoding.Latin1);
        }
        File.WriteAllText(Path.Combine(folder, "u.user"), "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|T8H1N\n");
        return folder;
    }

    [TestMethod]
    public void ImportMovieLensCreatesTheTables()
    {
        var folder = MovieLensFixture();
        var db = PathOf("ml.db");
        var result = Run("import", "movielens", folder, db);
        AssertOk(result);
        StringAssert.Contains(result.Output, "ratings 5 rows, movies 3 rows, users 3 rows (3 users, 3 items)");
        CollectionAssert.AreEqual(new[] { "movies", "ratings", "users" }, TableNames(db));
        Assert.AreEqual(5L, Scalar(db, "SELECT count(*) FROM ratings"));
        Assert.AreEqual(15L, Scalar(db, "SELECT sum(rating) FROM ratings"));
        Assert.AreEqual(881250949L, Scalar(db, "SELECT timestamp FROM ratings WHERE user_id = 1 AND movie_id = 10"));
        using var connection = Open(db);
        var movies = TestDb.Rows(connection, "SELECT id, title, release_date, genres FROM movies ORDER BY id");
        CollectionAssert.AreEqual(new object?[] { 10L, "Café Society (1995)", "1995-01-01", "Action|Comedy" }, movies[0]);
        CollectionAssert.AreEqual(new object?[] { 20L, "Toy Story (1995)", "1971-02-04", "Comedy" }, movies[1]);
        CollectionAssert.AreEqual(new object?[] { 30L, "unknown", null, "unknown" }, movies[2]);
        CollectionAssert.AreEqual(new object?[] { 3L, 23L, "M", "writer", "T8H1N" }, TestDb.Rows(connection, "SELECT * FROM users WHERE id = 3")[0]);
        Assert.AreEqual("integer", TestDb.Scalar(connection, "SELECT typeof(movie_id) FROM ratings LIMIT 1"));
    }

    [TestMethod]
    public void ImportMovieLensWithoutGenreFileUsesTheMovieLensGenres()
    {
        var db = PathOf("ml.db");
        AssertOk(Run("import", "movielens", MovieLensFixture(withGenreFile: false), db));
        Assert.AreEqual("Action", Scalar(db, "SELECT genres FROM movies WHERE id = 10"));
        Assert.AreEqual("Café (1995)", Scalar(db, "SELECT title FROM movies WHERE id = 10"));
    }

    [TestMethod]
    public void ImportMovieLensRefusesExistingTablesUnlessReplace()
    {
        var folder = MovieLensFixture();
        var db = PathOf("ml.db");
        AssertOk(Run("import", "movielens", folder, db));
        using (var connection = Open(db)) TestDb.Rows(connection, "DELETE FROM ratings WHERE user_id = 3");

        AssertError(Run("import", "movielens", folder, db), CliErrors.TablesExist(["ratings", "movies", "users"], db).Message);
        Assert.AreEqual(3L, Scalar(db, "SELECT count(*) FROM ratings"), "the database is unchanged");

        AssertOk(Run("import", "movielens", folder, db, "--replace"));
        Assert.AreEqual(5L, Scalar(db, "SELECT count(*) FROM ratings"));
    }

    [TestMethod]
    public void ImportMovieLensNamesTheOneExistingTable()
    {
        var db = PathOf("ml.db");
        using (var connection = Open(db)) TestDb.Rows(connection, "CREATE TABLE Movies(x)");
        AssertError(Run("import", "movielens", MovieLensFixture(), db), CliErrors.TablesExist(["Movies"], db).Message);
        StringAssert.Contains(CliErrors.TablesExist(["Movies"], db).Message, "table 'Movies' already exists");
    }

    [TestMethod]
    public void ImportMovieLensNamesAMissingFileAndCreatesNoDatabase()
    {
        var folder = MovieLensFixture();
        File.Delete(Path.Combine(folder, "u.item"));
        var db = PathOf("ml.db");
        AssertError(Run("import", "movielens", folder, db), CliErrors.FileNotFound(Path.Combine(folder, "u.item")).Message);
        StringAssert.Contains(CliErrors.FileNotFound("x/u.item").Message, "file not found: x/u.item");
        Assert.IsFalse(File.Exists(db));
    }

    [TestMethod]
    public void ImportMovieLensNamesAMissingDirectory()
    {
        var missing = PathOf("nowhere");
        AssertError(Run("import", "movielens", missing, PathOf("ml.db")), CliErrors.DirectoryNotFound(missing).Message);
    }

    [TestMethod]
    public void ImportMovieLensReportsTheMalformedLineAndRollsBack()
    {
        var folder = MovieLensFixture();
        var data = Path.Combine(folder, "u.data");
        File.WriteAllText(data, "1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\tfour\t891717742\n");
        var db = PathOf("ml.db");
        using (var connection = Open(db)) TestDb.Rows(connection, "CREATE TABLE keep(x); INSERT INTO keep VALUES (1)");

        var result = Run("import", "movielens", folder, db);
        AssertError(result, CliErrors.MalformedLine(data, 3, MovieLensImporter.RatingLineShape, "2\t10\tfour\t891717742").Message);
        StringAssert.Contains(result.Output, $"malformed line 3 of {data}: expected 4 tab-separated integers 'user item rating timestamp'; the line is '2\\t10\\tfour\\t891717742'.");
        CollectionAssert.AreEqual(new[] { "keep" }, TableNames(db), "users and movies were loaded before the bad line, and rolled back");
    }

    [TestMethod]
    public void ImportMovieLensReportsAMalformedItemLine()
    {
        var folder = MovieLensFixture();
        var items = Path.Combine(folder, "u.item");
        File.WriteAllText(items, "10|Short line|01-Jan-1995\n", Encoding.Latin1);
        AssertError(Run("import", "movielens", folder, PathOf("ml.db")),
            CliErrors.MalformedLine(items, 1, MovieLensImporter.ItemLineShape(3), "10|Short line|01-Jan-1995").Message);
        Assert.IsFalse(File.Exists(PathOf("ml.db")));
    }

    // ---- import lightgcn -------------------------------------------------------------------

    private string LightGcnFixture(string train = "0 1 2 3\n1 2\n2\n3 0 4 \n", string test = "0 5\n1 3\n2\n3 1\n")
    {
        var folder = Directory.CreateDirectory(PathOf("gowalla")).FullName;
        File.WriteAllText(Path.Combine(folder, "train.txt"), train);
        File.WriteAllText(Path.Combine(folder, "test.txt"), test);
        return folder;
    }

    [TestMethod]
    public void ImportLightGcnCreatesTrainAndTestTables()
    {
        var db = PathOf("gcn.db");
        var result = Run("import", "lightgcn", LightGcnFixture(), db);
        AssertOk(result);
        StringAssert.Contains(result.Output, "train 6 rows, test 3 rows (4 users, 6 items)");
        Assert.AreEqual(6L, Scalar(db, "SELECT count(*) FROM train"));
        Assert.AreEqual(3L, Scalar(db, "SELECT count(*) FROM test"));
        Assert.AreEqual(0L, Scalar(db, "SELECT count(*) FROM train WHERE user_id = 2"), "user 2 has no items");
        Assert.AreEqual("0,4", Scalar(db, "SELECT group_concat(item_id) FROM (SELECT item_id FROM train WHERE user_id = 3 ORDER BY item_id)"));
        Assert.AreEqual(2L, Scalar(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql LIKE '%(user_id)%'"));
    }

    [TestMethod]
    public void ImportLightGcnReplaceAndMalformedLines()
    {
        var folder = LightGcnFixture();
        var db = PathOf("gcn.db");
        AssertOk(Run("import", "lightgcn", folder, db));
        AssertError(Run("import", "lightgcn", folder, db), CliErrors.TablesExist(["train", "test"], db).Message);
        AssertOk(Run("import", "lightgcn", folder, db, "--replace"));
        Assert.AreEqual(6L, Scalar(db, "SELECT count(*) FROM train"));

        var test = Path.Combine(folder, "test.txt");
        File.WriteAllText(test, "0 5\n1 x3\n");
        AssertError(Run("import", "lightgcn", folder, db, "--replace"), CliErrors.MalformedLine(test, 2, LightGcnImporter.LineShape("x3"), "1 x3").Message);
        Assert.AreEqual(6L, Scalar(db, "SELECT count(*) FROM train"), "the failed import changed nothing");
        Assert.AreEqual(3L, Scalar(db, "SELECT count(*) FROM test"));

        File.Delete(test);
        AssertError(Run("import", "lightgcn", folder, db), CliErrors.FileNotFound(test).Message);
    }

    // ---- real data -------------------------------------------------------------------------

    [TestMethod]
    [TestCategory("RealData")]
    public void ImportMovieLens100K()
    {
        var db = PathOf("ml-100k.db");
        var result = Run("import", "movielens", TestData.RequireSharedData("ml-100k"), db);
        AssertOk(result);
        StringAssert.Contains(result.Output, "ratings 100,000 rows, movies 1,682 rows, users 943 rows (943 users, 1,682 items)");
        Assert.AreEqual(100_000L, Scalar(db, "SELECT count(*) FROM ratings"));
        Assert.AreEqual(943L, Scalar(db, "SELECT count(*) FROM users"));
        Assert.AreEqual(1_682L, Scalar(db, "SELECT count(*) FROM movies"));
        Assert.AreEqual("Misérables, Les (1995)", Scalar(db, "SELECT title FROM movies WHERE id = 543"));
        Assert.AreEqual("Animation|Children's|Comedy", Scalar(db, "SELECT genres FROM movies WHERE id = 1"));
    }

    [TestMethod]
    [TestCategory("RealData")]
    public void ImportGowalla()
    {
        var db = PathOf("gowalla.db");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = Run("import", "lightgcn", TestData.RequireSharedData("lightgcn", "gowalla"), db);
        AssertOk(result);
        Assert.AreEqual(810_128L, Scalar(db, "SELECT count(*) FROM train"));
        Assert.AreEqual(217_242L, Scalar(db, "SELECT count(*) FROM test"));
        StringAssert.Contains(result.Output, "(29,858 users, 40,981 items)");
        // Generous bound: about 2.5 s on a development machine; catches a per-row slowdown, not jitter.
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(30), $"import took {clock.Elapsed}");
    }

    [TestMethod]
    [TestCategory("RealData")]
    public void EvalGowallaPopularMatchesThePublishedMostPopFigure()
    {
        var data = TestData.RequireSharedData("lightgcn", "gowalla");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var db = PathOf("gowalla.db");
        AssertOk(Run("import", "lightgcn", data, db));
        AssertOk(Run("train", db, "pop", "--model", "popular", "--source", "SELECT user_id, item_id FROM train"));
        var result = Run("eval", db, "--test", "SELECT user_id, item_id FROM test", "-k", "20");
        AssertOk(result);
        StringAssert.Contains(result.Output, "evaluated 'pop' v1 (test query): 29,858 users, 0 skipped users, 217,242 test pairs, ");
        var recall = double.Parse(MetricRows(result.Output).Single(r => r[0] == "recall")[1], CultureInfo.InvariantCulture);
        // MostPop on the LightGCN Gowalla split: recall@20 0.0416 in the published tables.
        Assert.IsTrue(recall is > 0.035 and < 0.05, $"recall@20 {recall}");
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(60), $"import, train and eval took {clock.Elapsed}");
    }

    // ---- train, recommend, sql -------------------------------------------------------------

    [TestMethod]
    public void TrainRecommendAndSqlOnASmallDatabase()
    {
        var db = SmallDatabase();
        var train = Run("train", db, "m", "--model", "popular", "--source", "SELECT user_id, item_id FROM likes");
        AssertOk(train);
        StringAssert.Contains(train.Output, "trained 'm' v1 (popular): 4 users, 4 items, 8 interactions");
        CollectionAssert.Contains(TableRows(train.Output).Select(r => string.Join("=", r)).ToList(), "interactions=8");

        var recommend = Run("recommend", db, "1", "-k", "5");
        AssertOk(recommend);
        var rows = TableRows(recommend.Output).Skip(1).ToList(); // the first row is the header
        Assert.HasCount(2, rows);
        CollectionAssert.AreEqual(new[] { "1", "12", "2", "popular" }, rows[0]);
        CollectionAssert.AreEqual(new[] { "2", "13", "1", "popular" }, rows[1]);
        StringAssert.Contains(recommend.Output, "(2 items)");

        var sql = Run("sql", db, "SELECT recommend(1, 5) AS items, NULL AS empty, x'010203' AS data, 2.5 AS half");
        AssertOk(sql);
        CollectionAssert.AreEqual(new[] { "items", "empty", "data", "half" }, TableRows(sql.Output)[0]);
        CollectionAssert.AreEqual(new[] { "[12,13]", "NULL", "<blob 3 bytes>", "2.5" }, TableRows(sql.Output)[1]);
        StringAssert.Contains(sql.Output, "(1 row)");

        var insert = Run("sql", db, "INSERT INTO likes VALUES (5, 10), (5, 11)");
        AssertOk(insert);
        StringAssert.Contains(insert.Output, "ok, 2 rows changed");
        StringAssert.Contains(Run("sql", db, "CREATE TABLE t(x)").Output, "ok, 0 rows changed");
        StringAssert.Contains(Run("sql", db, "SELECT * FROM likes WHERE user_id = 99").Output, "(0 rows)");

        var many = Run("sql", db, "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 30) SELECT v FROM n", "--max-rows", "10");
        AssertOk(many);
        StringAssert.Contains(many.Output, "(30 rows, the first 10 shown; --max-rows 0 shows all)");
        Assert.HasCount(11, TableRows(many.Output));
    }

    [TestMethod]
    public void TrainPassesOptionsAndRetrainsAsANewVersion()
    {
        var db = SmallDatabase();
        using (var connection = Open(db)) TestDb.Rows(connection, "ALTER TABLE likes ADD COLUMN at INTEGER DEFAULT 1700000000");
        AssertOk(Run("train", db, "m", "--model", "popular", "--source", "SELECT user_id, item_id FROM likes"));
        var second = Run("train", db, "m", "--model", "popular", "--source", "SELECT user_id, item_id, 1, at FROM likes", "--option", "half_life_days=30");
        AssertOk(second);
        StringAssert.Contains(second.Output, "trained 'm' v2 (popular)");
        var options = JsonNode.Parse((string)Scalar(db, "SELECT options FROM rec_models WHERE name = 'm'")!)!;
        Assert.AreEqual(30.0, options["half_life_days"]!.GetValue<double>());
    }

    [TestMethod]
    public void BuildOptionsTypesValuesAndRejectsDuplicates()
    {
        var options = TrainCommand.BuildOptions("popular", "SELECT 1, 2", ["a=1", "b=2.5", "c=true", "d=some text", "e=", "f=x=y"], "{\"g\": [1]}");
        Assert.AreEqual("""{"g":[1],"model":"popular","source":"SELECT 1, 2","a":1,"b":2.5,"c":true,"d":"some text","e":"","f":"x=y"}""", options.ToJsonString());
        Assert.AreEqual(CliErrors.OptionGivenTwice("a", "--option a=2").Message,
            Assert.ThrowsExactly<CliException>(() => TrainCommand.BuildOptions("popular", "s", ["a=1", "a=2"], null)).Message);
        Assert.AreEqual(CliErrors.OptionGivenTwice("model", "--model").Message,
            Assert.ThrowsExactly<CliException>(() => TrainCommand.BuildOptions("popular", "s", [], "{\"model\": \"x\"}")).Message);
        Assert.AreEqual(CliErrors.OptionNotKeyValue("oops").Message,
            Assert.ThrowsExactly<CliException>(() => TrainCommand.BuildOptions("popular", "s", ["oops"], null)).Message);
        Assert.AreEqual(CliErrors.OptionsNotObject("[1]").Message,
            Assert.ThrowsExactly<CliException>(() => TrainCommand.BuildOptions("popular", "s", [], "[1]")).Message);
        StringAssert.StartsWith(Assert.ThrowsExactly<CliException>(() => TrainCommand.BuildOptions("popular", "s", [], "{")).Message, "--options is not valid JSON: ");
    }

    [TestMethod]
    public void OptionValuesThatAreJsonArraysOrObjectsStayStructured()
    {
        var options = TrainCommand.BuildOptions("freedom", "s", ["modalities=[\"SELECT 1, 2\", {\"name\": \"image\"}]", "o={\"a\": 1}", "t=[not json", "u={"], null);
        Assert.AreEqual("""{"model":"freedom","source":"s","modalities":["SELECT 1, 2",{"name":"image"}],"o":{"a":1},"t":"[not json","u":"{"}""", options.ToJsonString());
    }

    [TestMethod]
    public void TrainFreedomWithItemTextFromTheCommandLine()
    {
        var db = SmallDatabase();
        using (var connection = Open(db))
        {
            TestDb.Rows(connection, "CREATE TABLE items(id INTEGER PRIMARY KEY, title TEXT)");
            TestDb.Rows(connection, "INSERT INTO items VALUES (10, 'space ship'), (11, 'space rocket'), (12, 'love letter'), (13, 'space station'), (14, 'space galaxy ship')");
        }
        const string text = "SELECT id, rec_embed('hash', title) FROM items";
        var train = Run("train", db, "mm", "--model", "freedom", "--source", "SELECT user_id, item_id FROM likes",
            "--option", $"modalities=[{{\"name\": \"text\", \"source\": \"{text}\"}}]", "--option", "dim=8", "--option", "epochs=3");
        AssertOk(train);
        StringAssert.Contains(train.Output, "trained 'mm' v1 (freedom): 4 users, 5 items, 8 interactions");

        // The same through --options; item 14 has text but no interactions: recommend shows it as content.
        AssertOk(Run("train", db, "mm", "--model", "freedom", "--source", "SELECT user_id, item_id FROM likes",
            "--options", $"{{\"modalities\": [\"{text}\"], \"dim\": 8, \"epochs\": 3}}"));
        var rows = TableRows(Run("recommend", db, "4", "--model", "mm", "-k", "5").Output).Skip(1).ToList();
        CollectionAssert.AreEquivalent(new[] { "10", "11", "13", "14" }, rows.Select(r => r[1]).ToList());
        Assert.AreEqual("content", rows.Single(r => r[1] == "14")[3]);
        Assert.IsTrue(rows.Where(r => r[1] != "14").All(r => r[3] == "freedom"));

        // A bad modality is the library's message, and version 2 keeps serving.
        AssertError(Run("train", db, "mm", "--model", "freedom", "--source", "SELECT user_id, item_id FROM likes",
            "--option", "modalities=[\"SELECT id, X'00000000' FROM items\"]"), Errors.ModalityZeroVector("rec_train", "m1", 1, ExternalId.Of(10)).Message);
        Assert.AreEqual(2L, Scalar(db, "SELECT current_version FROM rec_models WHERE name = 'mm'"));
    }

    [TestMethod]
    public void RecommendBindsIntegerLookingUsersAsIntegers()
    {
        Assert.AreEqual(42L, RecommendCommand.UserValue("42"));
        Assert.AreEqual(-7L, RecommendCommand.UserValue("-7"));
        Assert.AreEqual("u42", RecommendCommand.UserValue("u42"));
        Assert.AreEqual("4.5", RecommendCommand.UserValue("4.5"));

        var db = PathOf("text.db");
        using (var connection = Open(db))
        {
            TestDb.Rows(connection, "CREATE TABLE likes(user_id TEXT, item_id TEXT)");
            TestDb.Rows(connection, "INSERT INTO likes VALUES ('ann','a'),('ann','b'),('bob','a'),('bob','c'),('cat','a')");
        }
        AssertOk(Run("train", db, "m", "--model", "popular", "--source", "SELECT user_id, item_id FROM likes"));
        var rows = TableRows(Run("recommend", db, "ann").Output).Skip(1).ToList();
        Assert.HasCount(1, rows);
        Assert.AreEqual("c", rows[0][1]);
    }

    /// <summary>
    /// TEXT ids that read as integers ('00001', '42') are reached with --text-id (without it they
    /// are INTEGER 1 and 42, other users); an empty or blank id is refused instead of answering with
    /// the popular items as for an unknown user.
    /// </summary>
    [TestMethod]
    public void RecommendTakesTextIdsThatLookLikeIntegersAndRefusesAnEmptyOne()
    {
        Assert.AreEqual("00001", RecommendCommand.UserValue("00001", asText: true));
        Assert.AreEqual(1L, RecommendCommand.UserValue("00001"));

        var db = PathOf("padded.db");
        using (var connection = Open(db))
        {
            TestDb.Rows(connection, "CREATE TABLE likes(user_id, item_id)");
            // User '00001' (TEXT) and user 1 (INTEGER) are different users with different histories.
            TestDb.Rows(connection, "INSERT INTO likes VALUES ('00001','a'),('00001','b'),(1,'b'),(1,'c'),('u','a'),('u','b'),('u','c'),('v','d')");
        }
        AssertOk(Run("train", db, "m", "--model", "popular", "--source", "SELECT user_id, item_id FROM likes"));
        List<string> Items(params string[] args) => TableRows(Run(["recommend", db, .. args]).Output).Skip(1).Select(r => r[1]).ToList();
        CollectionAssert.AreEqual(new[] { "c", "d" }, Items("00001", "--text-id"), "TEXT '00001' has seen a and b");
        CollectionAssert.AreEqual(new[] { "a", "d" }, Items("00001"), "without --text-id, 00001 is INTEGER 1, which has seen b and c");
        CollectionAssert.AreEqual(new[] { "a", "d" }, Items("1"));
        StringAssert.Contains(Run("recommend", db, "--help").Output, "--text-id");

        AssertError(Run("recommend", db, ""), CliErrors.EmptyUserId("").Message);
        AssertError(Run("recommend", db, "  ", "--text-id"), CliErrors.EmptyUserId("  ").Message);
    }

    [TestMethod]
    public void LibraryErrorsAreShownWithoutTheSqliteWrapper()
    {
        var db = SmallDatabase();
        AssertError(Run("recommend", db, "1"), Errors.NoModels("recommend").Message);
        AssertOk(Run("train", db, "m", "--model", "popular", "--source", "SELECT user_id, item_id FROM likes"));
        AssertError(Run("recommend", db, "1", "--model", "nope"), Errors.UnknownModel("recommend", "nope", ["m"]).Message);
        AssertError(Run("recommend", db, "1", "-k", "0"), Errors.KOutOfRange("recommend", 0L).Message);
        AssertError(Run("train", db, "m", "--model", "nope", "--source", "SELECT user_id, item_id FROM likes"),
            Errors.UnknownModelKind("rec_train", "nope", SqlRec.Models.ModelKinds.Names).Message);
        var sql = Run("sql", db, "SELECT * FROM missing_table");
        AssertError(sql, "no such table: missing_table");
        Assert.DoesNotContain("SQLite Error", sql.Output);
    }

    // ---- eval ------------------------------------------------------------------------------

    /// <summary><see cref="SmallDatabase"/> with model 'm' (popular) trained and a table of held-out pairs.</summary>
    private string SmallDatabaseWithModel()
    {
        var db = SmallDatabase();
        using (var connection = Open(db)) TestDb.Rows(connection, "CREATE TABLE held_out(user_id INTEGER, item_id INTEGER); INSERT INTO held_out VALUES (1,12),(1,13),(2,11),(4,10),(9,10)");
        AssertOk(Run("train", db, "m", "--model", "popular", "--source", "SELECT user_id, item_id FROM likes"));
        return db;
    }

    /// <summary>The metrics table of an eval's output: header row then one row per metric.</summary>
    private static List<string[]> MetricRows(string output) =>
        [.. TableRows(output).SkipWhile(r => r[0] != "metric")];

    [TestMethod]
    public void EvalWithATestQueryPrintsTheReportAndTheMetricsTable()
    {
        var db = SmallDatabaseWithModel();
        var result = Run("eval", db, "--test", "SELECT user_id, item_id FROM held_out", "-k", "1,2");
        AssertOk(result);
        StringAssert.Contains(result.Output, "evaluated 'm' v1 (test query): 3 users, 1 skipped users, 4 test pairs, ");

        var rows = MetricRows(result.Output);
        CollectionAssert.AreEqual(new[] { "metric", "@1", "@2" }, rows[0]);
        CollectionAssert.AreEqual(EvalCommand.Metrics.ToList(), rows.Skip(1).Select(r => r[0]).ToList());
        // The same figures as rec_evaluate itself, with 4 decimals.
        using var connection = Open(db, sqlRec: true);
        var report = JsonNode.Parse((string)TestDb.Scalar(connection,
            "SELECT rec_evaluate('m', json_object('test', 'SELECT user_id, item_id FROM held_out', 'k', json_array(1, 2)))")!)!;
        foreach (var row in rows.Skip(1))
        {
            for (var c = 1; c <= 2; c++)
            {
                var value = report["metrics"]![$"{row[0]}@{c}"]!.GetValue<double>();
                Assert.AreEqual(value.ToString("0.0000", CultureInfo.InvariantCulture), row[c], $"{row[0]}@{c}");
            }
        }
        // Popular order 10, 11, 12, 13 less each user's seen items: user 1 gets 12, 13 (both held out),
        // user 2 gets 11, 13 (11 held out), user 4 gets 10, 11 (10 held out); user 9 is unknown.
        CollectionAssert.AreEqual(new[] { "recall", "0.8333", "1.0000" }, rows.Single(r => r[0] == "recall"));
        Assert.IsNull(Scalar(db, "SELECT json_extract(metrics, '$.evaluation') FROM rec_model_versions WHERE model = 'm'"), "nothing saved without --save");

        var saved = Run("eval", db, "--model", "m", "--test", "SELECT user_id, item_id FROM held_out", "-k", "2", "--save");
        AssertOk(saved);
        StringAssert.Contains(saved.Output, "saved the report with 'm' v1");
        Assert.AreEqual(report["metrics"]!["recall@2"]!.GetValue<double>(),
            Convert.ToDouble(Scalar(db, "SELECT json_extract(metrics, '$.evaluation.metrics.\"recall@2\"') FROM rec_model_versions WHERE model = 'm'"), CultureInfo.InvariantCulture));
    }

    [TestMethod]
    public void EvalWithARandomSplitUsesTheDefaultCutoffs()
    {
        var db = SmallDatabaseWithModel();
        var result = Run("eval", db, "--split", "random", "--test-ratio", "0.5", "--seed", "7");
        AssertOk(result);
        StringAssert.Contains(result.Output, "evaluated 'm' v1 (split random, test_ratio 0.5, seed 7): 3 users, 0 skipped users, ");
        var rows = MetricRows(result.Output);
        CollectionAssert.AreEqual(new[] { "metric", "@10", "@20" }, rows[0]);
        Assert.HasCount(1 + EvalCommand.Metrics.Count, rows);
        Assert.IsTrue(rows.Skip(1).All(r => r.Skip(1).All(v => v.Length == 6 && v[1] == '.')), "4 decimals everywhere");

        // The library's defaults when no ratio or seed is given.
        StringAssert.Contains(Run("eval", db, "--split", "random").Output, "(split random, test_ratio 0.2, seed 42)");
    }

    [TestMethod]
    public void EvalParsesCutoffsGivenEitherWay()
    {
        CollectionAssert.AreEqual(new long[] { 5, 10 }, EvalCommand.ParseCutoffs(["5,10"]));
        CollectionAssert.AreEqual(new long[] { 5, 10 }, EvalCommand.ParseCutoffs(["5", "10"]));
        CollectionAssert.AreEqual(new long[] { 20, 5, 10 }, EvalCommand.ParseCutoffs(["20", " 5 , 10"]));
        Assert.AreEqual(CliErrors.CutoffNotInteger("", "5,,10").Message, Assert.ThrowsExactly<CliException>(() => EvalCommand.ParseCutoffs(["5,,10"])).Message);
        Assert.AreEqual("""{"test":"SELECT 1, 2","k":[5,10],"save":true}""",
            EvalCommand.BuildOptions("SELECT 1, 2", null, null, null, ["5", "10"], save: true).ToJsonString());
        Assert.AreEqual("""{"split":"random","test_ratio":0.5,"seed":3}""",
            EvalCommand.BuildOptions(null, "random", 0.5, 3, [], save: false).ToJsonString());

        var db = SmallDatabaseWithModel();
        var comma = Run("eval", db, "--test", "SELECT user_id, item_id FROM held_out", "-k", "5,10");
        var repeated = Run("eval", db, "--test", "SELECT user_id, item_id FROM held_out", "-k", "5", "-k", "10");
        AssertOk(comma);
        AssertOk(repeated);
        CollectionAssert.AreEqual(new[] { "metric", "@5", "@10" }, MetricRows(comma.Output)[0]);
        Assert.AreEqual(string.Join("\n", MetricRows(comma.Output).Select(r => string.Join("|", r))),
            string.Join("\n", MetricRows(repeated.Output).Select(r => string.Join("|", r))));
    }

    [TestMethod]
    public void EvalErrorsAreTheLibrarysOrSayWhichFlagIsMissing()
    {
        var db = SmallDatabaseWithModel();
        const string test = "SELECT user_id, item_id FROM held_out";
        AssertError(Run("eval", db, "--model", "nope", "--test", test), Errors.UnknownModel("rec_evaluate", "nope", ["m"]).Message);
        StringAssert.Contains(Errors.UnknownModel("rec_evaluate", "nope", ["m"]).Message, "rec_evaluate(): unknown model 'nope'; trained models: 'm'.");
        AssertError(Run("eval", db, "--test", test, "-k", "0"), Errors.OptionRange("rec_evaluate", "k", "between 1 and 10000", "0 at position 1 of the array").Message);
        AssertError(Run("eval", db, "--test", test, "--seed", "3"),
            "rec_evaluate(): unknown option 'seed' for rec_evaluate() with a 'test' query; valid options: test, split, k, save, sampled_negatives, sampling.");
        AssertError(Run("eval", db, "--split", "lastest"), "rec_evaluate(): option 'split' must be one of 'random', 'last', got \"lastest\".");
        AssertError(Run("eval", db, "--test", "SELECT * FROM missing"), "rec_evaluate(): the 'test' query failed: no such table: missing.");
        StringAssert.Contains(Run("eval", db).Output, "(split random, test_ratio 0.2, seed 42)", "neither --test nor --split: the default random split");
        AssertError(Run("eval", db, "--test", test, "--split", "random"), CliErrors.EvalTestAndSplit().Message);
        AssertError(Run("eval", db, "--test", test, "-k", "ten"), CliErrors.CutoffNotInteger("ten", "ten").Message);
        AssertError(Run("eval", PathOf("missing.db"), "--test", test), CliErrors.DatabaseNotFound(PathOf("missing.db")).Message);
    }

    [TestMethod]
    public void PlainProgressShowsLongStagesEveryIntervalAndNoMore()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No, Interactive = InteractionSupport.No });
        console.Profile.Width = 400;
        var now = TimeSpan.Zero;
        var stages = new SqlRec.Cli.Output.ProgressDisplay.PlainStages(console, () => now);
        stages.Report("reading source", 0, null);
        stages.Report("reading source", 5_000, null);
        stages.Report("training", 0, null);
        now += TimeSpan.FromSeconds(4);
        stages.Report("training", 1, 10, "truncated SVD");
        now += SqlRec.Cli.Output.ProgressDisplay.PlainStages.PlainInterval;
        stages.Report("training", 4, 10, "truncated SVD");
        stages.Report("training", 5, 10, "truncated SVD");
        now += SqlRec.Cli.Output.ProgressDisplay.PlainStages.PlainInterval;
        stages.Report("training", 8, 10, "truncated SVD");
        stages.Report("saving", 0, null);
        Assert.AreEqual("""
            reading source ...
            training ...
              training: 4 of 10 (truncated SVD), 14 s
              training: 8 of 10 (truncated SVD), 24 s
            saving ...

            """.ReplaceLineEndings(), writer.ToString().ReplaceLineEndings());
    }

    [TestMethod]
    public void MissingDatabaseFileIsAnErrorAndIsNotCreated()
    {
        var missing = PathOf("missing.db");
        var message = CliErrors.DatabaseNotFound(missing).Message;
        Assert.AreEqual($"database file not found: {missing}", message);
        AssertError(Run("sql", missing, "SELECT 1"), message);
        AssertError(Run("recommend", missing, "1"), message);
        AssertError(Run("train", missing, "m", "--model", "popular", "--source", "SELECT 1, 2"), message);
        AssertError(Run("eval", missing, "--split", "random"), message);
        Assert.IsFalse(File.Exists(missing));
    }

    [TestMethod]
    public void HelpWorksOnEveryCommand()
    {
        string[][] commands = [[], ["demo"], ["import"], ["import", "movielens"], ["import", "lightgcn"], ["train"], ["eval"], ["recommend"], ["sql"]];
        foreach (var command in commands)
        {
            var result = Run([.. command, "--help"]);
            Assert.AreEqual(0, result.Code, string.Join(" ", command));
            StringAssert.Contains(result.Output, "Usage:", string.Join(" ", command));
        }
    }

    [TestMethod]
    public void ParseErrorsExitWithCodeOne()
    {
        var result = Run("train", SmallDatabase(), "m");
        Assert.AreEqual(1, result.Code);
        StringAssert.Contains(result.Output, "--model");
        Assert.AreEqual(1, Run("no-such-command").Code);
    }
}
