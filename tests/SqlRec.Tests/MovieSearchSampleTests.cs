using System.Text.RegularExpressions;
using MovieSearch;

namespace SqlRec.Tests;

/// <summary>
/// samples/MovieSearch, run in-process: on MovieLens 100K (../shared/data/ml-100k; inconclusive,
/// with the path, when absent) every step prints what it promises; without the data it says where
/// it looked and exits with its own code.
/// </summary>
[TestClass]
public sealed class MovieSearchSampleTests
{
    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = MovieSearchDemo.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>The numbered section of the output that starts with <paramref name="number"/>.</summary>
    private static string Section(string output, int number)
    {
        var match = Regex.Match(output, $@"^{number}\. .*?(?=^\d\. |^done in)", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.IsTrue(match.Success, $"no section {number} in:\n{output}");
        return match.Value;
    }

    [TestMethod]
    [TestCategory("RealData")]
    public void TheSampleRunsOnMovieLens100K()
    {
        TestData.RequireSharedData("ml-100k", "u.item");
        var data = TestData.SharedData("ml-100k");
        var folder = Directory.CreateTempSubdirectory("sqlrec-moviesearch-").FullName;
        try
        {
            var database = Path.Combine(folder, "movies.db");
            var (code, output, error) = Run(data, database);
            Assert.AreEqual(0, code, error + output);
            StringAssert.Contains(output, "1,682 movies, 100,000 ratings");
            // The real model, which this project carries (SqlRec.Models.MiniLM), searches by meaning.
            StringAssert.Contains(output, "embedder: 'minilm', the real all-MiniLM-L6-v2 sentence model");
            StringAssert.Contains(output, "\"embedder\":\"minilm\"");
            StringAssert.Contains(Section(output, 1), "Star Trek");
            // Text search and its vec0 twin agree; the filtered search is full where the KNN-then-JOIN is short.
            Assert.AreEqual(10, Regex.Matches(Section(output, 1), @"^\s+\d+\s+0\.\d{3}\s", RegexOptions.Multiline).Count, output);
            StringAssert.Contains(output, "the same 10 films in the same order as rec_search: yes");
            StringAssert.Matches(Section(output, 4), new Regex(@"10 rows, all Children's: yes; a vec0 KNN with k = 10 followed by a JOIN on the genre gives [0-9]\."));
            // More like Star Wars: its sequels by text and by who liked it.
            StringAssert.Contains(Section(output, 2), "Return of the Jedi (1983)");
            StringAssert.Contains(Section(output, 2), "Empire Strikes Back, The (1980)");
            StringAssert.Matches(Section(output, 3), new Regex(@"^\s+1\s+\S+\s+Return of the Jedi \(1983\)", RegexOptions.Multiline));
            // What it leaves in the database, and a second run replaces it (with the 'hash' fallback, asked for).
            var again = Run(data, database, "hash");
            Assert.AreEqual(0, again.Code);
            StringAssert.Contains(again.Output, "embedder: 'hash' (asked for)");
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Pooling=False");
            connection.Open();
            connection.UseSqlRec();
            Assert.AreEqual(1682L, TestDb.Scalar(connection, "SELECT count(*) FROM movies_text_items"));
            Assert.AreEqual("hash", TestDb.Scalar(connection, "SELECT embedder FROM rec_collections WHERE name = 'movies_text'"));
            Assert.AreEqual(2L, TestDb.Scalar(connection, "SELECT current_version FROM rec_models WHERE name = 'movies_cf'"));
            Assert.AreEqual(50L, TestDb.Scalar(connection, "SELECT item_id FROM rec_search('movies_text', 'star wars', 1)"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void WithoutTheDataItSaysWhereItLookedAndExitsWithItsCode()
    {
        var folder = Directory.CreateTempSubdirectory("sqlrec-moviesearch-").FullName;
        try
        {
            var (code, output, error) = Run(folder, Path.Combine(folder, "movies.db"));
            Assert.AreEqual(MovieSearchDemo.DataMissing, code);
            Assert.AreEqual("", output);
            StringAssert.StartsWith(error, $"MovieLens 100K not found: u.item and u.data missing in {folder}.");
            StringAssert.Contains(error, "dotnet run --project samples/MovieSearch -- path/to/ml-100k");
            Assert.IsFalse(File.Exists(Path.Combine(folder, "movies.db")), "nothing is created");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
