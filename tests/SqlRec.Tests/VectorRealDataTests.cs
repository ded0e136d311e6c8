using System.Globalization;
using System.Text;

namespace SqlRec.Tests;

/// <summary>
/// "More like this" on MovieLens 100K (../shared/data/ml-100k; inconclusive, with the path, when
/// absent): neighbours from a graph filter's item vectors, from genre vectors as a collection, and
/// the two combined through a candidate filter.
/// </summary>
[TestClass]
public sealed class VectorRealDataTests
{
    private const long StarWars = 50, EmpireStrikesBack = 172, ReturnOfTheJedi = 181, ToyStory = 1;

    /// <summary>The ml-100k folder, inconclusive without u.item in it (the file this class reads last).</summary>
    private static string Data()
    {
        TestData.RequireSharedData("ml-100k", "u.item");
        return TestData.SharedData("ml-100k");
    }

    /// <summary>ratings(user_id, movie_id, stars) and movies(id, title, genres, genre_vector) with a 19-dimensional one-hot genre BLOB.</summary>
    private static TestDb Load()
    {
        var folder = Data();
        var db = TestDb.InMemory().Execute("""
            CREATE TABLE ratings(user_id INTEGER, movie_id INTEGER, stars INTEGER);
            CREATE TABLE movies(id INTEGER PRIMARY KEY, title TEXT, genres TEXT, genre_vector BLOB);
            """);
        var genreNames = File.ReadAllLines(Path.Combine(folder, "u.genre"), Encoding.Latin1).Where(l => l.Contains('|')).Select(l => l.Split('|')[0]).ToArray();
        db.Execute("BEGIN");
        foreach (var line in File.ReadLines(Path.Combine(folder, "u.data")))
        {
            var parts = line.Split('\t');
            db.Execute("INSERT INTO ratings VALUES ($1, $2, $3)", long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture));
        }
        foreach (var line in File.ReadLines(Path.Combine(folder, "u.item"), Encoding.Latin1))
        {
            var parts = line.Split('|');
            var flags = parts[^19..].Select(f => f == "1" ? 1f : 0f).ToArray();
            var genres = string.Join("|", genreNames.Where((_, g) => flags[g] == 1));
            db.Execute("INSERT INTO movies VALUES ($1, $2, $3, $4)", long.Parse(parts[0], CultureInfo.InvariantCulture), parts[1], genres, VectorTestData.Blob(flags));
        }
        db.Execute("COMMIT");
        return db;
    }

    [TestMethod]
    [TestCategory("RealData")]
    [TestCategory("fn:similar_items")]
    public void MoreLikeThisOnMovieLens()
    {
        using var db = Load();
        db.Scalar("SELECT rec_train('gf', json_object('model', 'graph_filter', 'source', 'SELECT user_id, movie_id FROM ratings WHERE stars >= 4', 'components', 64))");
        // Collaborative neighbours of Star Wars: Return of the Jedi first, The Empire Strikes Back among the nearest 10
        // (the rest are the popular films its fans also like: Raiders of the Lost Ark, Star Trek: First Contact, ...).
        var nearest = db.Rows("SELECT item_id FROM similar_items($1, 10, 'gf')", StarWars).Select(r => (long)r[0]!).ToList();
        Assert.AreEqual(ReturnOfTheJedi, nearest[0], string.Join(", ", nearest));
        CollectionAssert.Contains(nearest, EmpireStrikesBack, string.Join(", ", nearest));

        // Genre vectors as a collection: Toy Story (Animation|Children's|Comedy) is nearest to the one other film with
        // exactly its genres, then to films that add one genre (cosine 3 / sqrt(12) = 0.866).
        db.Scalar("SELECT rec_publish('genres', json_object('source', 'SELECT id, genre_vector FROM movies WHERE genres <> ''''', 'table', 'genres'))");
        var same = db.Rows("SELECT s.item_id, m.genres, s.score FROM similar_items($1, 3, 'genres') s JOIN movies m ON m.id = s.item_id ORDER BY s.rank", ToyStory);
        CollectionAssert.AreEqual(new object?[] { 422L, "Animation|Children's|Comedy", 1.0 }, new[] { same[0][0], same[0][1], Math.Round((double)same[0][2]!, 6) });
        Assert.IsTrue(same.Skip(1).All(r => ((string)r[1]!).StartsWith("Animation|Children's|Comedy|", StringComparison.Ordinal) && Math.Abs((double)r[2]! - Math.Sqrt(0.75)) < 1e-6),
            string.Join("; ", same.Select(r => $"{r[0]} {r[1]} {r[2]}")));
        // vec0 finds the same two exact matches (Toy Story itself and 422).
        Assert.AreEqual(2L, db.Scalar("SELECT count(*) FROM genres_items WHERE embedding MATCH (SELECT genre_vector FROM movies WHERE id = 1) AND k = 4 AND distance < 1e-6"));

        // Both: collaborative neighbours of Star Wars among comedies only; always 10, all comedies, none the plain top 10 had.
        var comedies = db.Rows("SELECT s.item_id, m.genres FROM similar_items($1, 10, 'gf', json_object('candidates', 'SELECT id FROM movies WHERE genres LIKE ''%Comedy%''')) s JOIN movies m ON m.id = s.item_id", StarWars);
        Assert.HasCount(10, comedies);
        Assert.IsTrue(comedies.All(r => ((string)r[1]!).Contains("Comedy", StringComparison.Ordinal)));
        Assert.IsLessThan(10L, (long)db.Scalar("SELECT count(*) FROM similar_items($1, 10, 'gf') s JOIN movies m ON m.id = s.item_id WHERE m.genres LIKE '%Comedy%'", StarWars)!);
    }
}
