using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SqlRec.Cli.Output;

namespace SqlRec.Cli.Data;

/// <summary>
/// Imports the MovieLens 100K files (GroupLens' <c>u.data</c>, <c>u.item</c>, <c>u.user</c> and
/// optionally <c>u.genre</c>) into the tables <c>ratings</c>, <c>movies</c> and <c>users</c>.
/// </summary>
internal static class MovieLensImporter
{
    /// <summary>The tables an import creates.</summary>
    public static readonly IReadOnlyList<string> Tables = ["ratings", "movies", "users"];

    /// <summary>The genre names of MovieLens 100K by flag index, used when <c>u.genre</c> is absent.</summary>
    public static readonly IReadOnlyList<string> DefaultGenres =
    [
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
        "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ];

    // u.item holds id|title|release date|video release date|IMDb URL, then one flag per genre.
    private const int ItemFixedFields = 5;
    private const int ReportEvery = 4096;

    /// <summary>What a <c>u.user</c> line must look like, as error messages say it.</summary>
    internal const string UserLineShape = "5 '|'-separated fields 'id|age|gender|occupation|zip' with integer id and age";

    /// <summary>What a <c>u.data</c> line must look like, as error messages say it.</summary>
    internal const string RatingLineShape = "4 tab-separated integers 'user item rating timestamp'";

    /// <summary>What a <c>u.item</c> line must look like with <paramref name="genres"/> genres, as error messages say it.</summary>
    internal static string ItemLineShape(int genres) =>
        $"{ItemFixedFields + genres} '|'-separated fields 'id|title|release date|video release date|IMDb URL' and {genres} genre flags (0 or 1)";

    /// <summary>Reads the files in <paramref name="directory"/> and writes them into <paramref name="dbPath"/> in one transaction.</summary>
    public static ImportSummary Import(string directory, string dbPath, bool replace, IStageProgress progress)
    {
        var folder = Path.GetFullPath(directory);
        if (!Directory.Exists(folder)) throw CliErrors.DirectoryNotFound(folder);
        var genres = ReadGenres(Path.Combine(folder, "u.genre"));
        // Opening every file first means a missing one is reported before the database is touched.
        using var users = LineFile.Open(Path.Combine(folder, "u.user"), Encoding.Latin1);
        using var items = LineFile.Open(Path.Combine(folder, "u.item"), Encoding.Latin1);
        using var ratings = LineFile.Open(Path.Combine(folder, "u.data"), Encoding.Latin1);

        using var target = ImportTarget.Open(dbPath, Tables, replace);
        target.Execute("CREATE TABLE users(id INTEGER PRIMARY KEY, age INTEGER, gender TEXT, occupation TEXT, zip TEXT)");
        target.Execute("CREATE TABLE movies(id INTEGER PRIMARY KEY, title TEXT, release_date TEXT, genres TEXT)");
        target.Execute("CREATE TABLE ratings(user_id INTEGER, movie_id INTEGER, rating INTEGER, timestamp INTEGER)");
        var userRows = ImportUsers(target, users, progress);
        var movieRows = ImportMovies(target, items, genres, progress);
        var (ratingRows, ratingUsers, ratingItems) = ImportRatings(target, ratings, progress);
        target.Commit();
        return new ImportSummary([("ratings", ratingRows), ("movies", movieRows), ("users", userRows)], ratingUsers, ratingItems);
    }

    /// <summary>Genre names by index from <c>u.genre</c> (<c>name|index</c> lines), or the 100K defaults when the file is absent.</summary>
    private static IReadOnlyList<string> ReadGenres(string path)
    {
        if (!File.Exists(path)) return DefaultGenres;
        using var file = LineFile.Open(path, Encoding.Latin1);
        var byIndex = new SortedDictionary<int, string>();
        while (file.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            var fields = line.Split('|');
            if (fields.Length != 2 || fields[0].Length == 0 || !TryInt(fields[1], out var index) || index < 0 || index > 1000)
                throw file.Malformed("'name|index' with a non-negative index", line);
            if (!byIndex.TryAdd((int)index, fields[0])) throw file.Malformed($"a new index, but genre index {index} appears twice", line);
        }
        if (byIndex.Count == 0) throw CliErrors.BadFile(path, "lists no genres; expected 'name|index' lines (or remove the file to use the MovieLens 100K genres).");
        if (byIndex.Keys.Last() != byIndex.Count - 1) throw CliErrors.BadFile(path, $"genre indexes must be 0 to {byIndex.Count - 1} without gaps.");
        return [.. byIndex.Values];
    }

    private static long ImportUsers(ImportTarget target, LineFile file, IStageProgress progress)
    {
        using var insert = target.CreateCommand("INSERT INTO users(id, age, gender, occupation, zip) VALUES ($id, $age, $gender, $occupation, $zip)");
        var id = insert.Parameters.Add("$id", SqliteType.Integer);
        var age = insert.Parameters.Add("$age", SqliteType.Integer);
        var gender = insert.Parameters.Add("$gender", SqliteType.Text);
        var occupation = insert.Parameters.Add("$occupation", SqliteType.Text);
        var zip = insert.Parameters.Add("$zip", SqliteType.Text);
        insert.Prepare();
        const string expected = UserLineShape;
        return ReadAll(file, progress, line =>
        {
            var fields = line.Split('|');
            if (fields.Length != 5 || !TryInt(fields[0], out var userId) || !TryInt(fields[1], out var userAge)) throw file.Malformed(expected, line);
            id.Value = userId;
            age.Value = userAge;
            gender.Value = fields[2];
            occupation.Value = fields[3];
            zip.Value = fields[4];
            Insert(insert, file, line, $"user id {userId}");
        });
    }

    private static long ImportMovies(ImportTarget target, LineFile file, IReadOnlyList<string> genres, IStageProgress progress)
    {
        using var insert = target.CreateCommand("INSERT INTO movies(id, title, release_date, genres) VALUES ($id, $title, $released, $genres)");
        var id = insert.Parameters.Add("$id", SqliteType.Integer);
        var title = insert.Parameters.Add("$title", SqliteType.Text);
        var released = insert.Parameters.Add("$released", SqliteType.Text);
        var genreList = insert.Parameters.Add("$genres", SqliteType.Text);
        insert.Prepare();
        var fieldCount = ItemFixedFields + genres.Count;
        var expected = ItemLineShape(genres.Count);
        var names = new List<string>(genres.Count);
        return ReadAll(file, progress, line =>
        {
            var fields = line.Split('|');
            if (fields.Length != fieldCount || !TryInt(fields[0], out var movieId)) throw file.Malformed(expected, line);
            names.Clear();
            for (var g = 0; g < genres.Count; g++)
            {
                switch (fields[ItemFixedFields + g])
                {
                    case "1": names.Add(genres[g]); break;
                    case "0": break;
                    default: throw file.Malformed($"{expected}; genre flag {g + 1} ({genres[g]}) is '{fields[ItemFixedFields + g]}'", line);
                }
            }
            id.Value = movieId;
            title.Value = fields[1];
            released.Value = ReleaseDate(file, fields[2], line) ?? (object)DBNull.Value;
            genreList.Value = names.Count > 0 ? string.Join('|', names) : DBNull.Value;
            Insert(insert, file, line, $"movie id {movieId}");
        });
    }

    /// <summary>MovieLens writes dates as <c>01-Jan-1995</c>; stored as ISO <c>1995-01-01</c> so they sort and compare in SQL.</summary>
    private static string? ReleaseDate(LineFile file, string text, string line)
    {
        if (text.Length == 0) return null;
        if (DateTime.TryParseExact(text, ["d-MMM-yyyy", "dd-MMM-yyyy"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            return date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        throw file.Malformed($"a release date like 01-Jan-1995 (or empty) in field 3, got '{text}'", line);
    }

    private static (long Rows, long Users, long Items) ImportRatings(ImportTarget target, LineFile file, IStageProgress progress)
    {
        using var insert = target.CreateCommand("INSERT INTO ratings(user_id, movie_id, rating, timestamp) VALUES ($user, $movie, $rating, $time)");
        var user = insert.Parameters.Add("$user", SqliteType.Integer);
        var movie = insert.Parameters.Add("$movie", SqliteType.Integer);
        var rating = insert.Parameters.Add("$rating", SqliteType.Integer);
        var time = insert.Parameters.Add("$time", SqliteType.Integer);
        insert.Prepare();
        var users = new HashSet<long>();
        var movies = new HashSet<long>();
        const string expected = RatingLineShape;
        var rows = ReadAll(file, progress, line =>
        {
            var fields = line.Split('\t');
            if (fields.Length != 4 || !TryInt(fields[0], out var u) || !TryInt(fields[1], out var m) || !TryInt(fields[2], out var r) || !TryInt(fields[3], out var t))
                throw file.Malformed(expected, line);
            user.Value = u;
            movie.Value = m;
            rating.Value = r;
            time.Value = t;
            insert.ExecuteNonQuery();
            users.Add(u);
            movies.Add(m);
        });
        return (rows, users.Count, movies.Count);
    }

    /// <summary>Feeds every non-empty line to <paramref name="row"/>; returns how many there were.</summary>
    private static long ReadAll(LineFile file, IStageProgress progress, Action<string> row)
    {
        var stage = $"loading {file.Name}";
        progress.Report(stage, 0, file.Length);
        long rows = 0;
        while (file.ReadLine() is { } line)
        {
            // MovieLens files end with a newline and u.genre with a blank line; blank lines carry no data.
            if (line.Length == 0) continue;
            row(line);
            if (++rows % ReportEvery == 0) progress.Report(stage, file.Position, file.Length);
        }
        progress.Report(stage, file.Length, file.Length);
        return rows;
    }

    /// <summary>Runs an insert, turning a duplicate id into an error naming the line.</summary>
    private static void Insert(SqliteCommand insert, LineFile file, string line, string what)
    {
        try
        {
            insert.ExecuteNonQuery();
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 19) // SQLITE_CONSTRAINT: the id is a primary key
        {
            throw file.Malformed($"a new id, but {what} appears twice", line);
        }
    }

    private static bool TryInt(string text, out long value) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
}
