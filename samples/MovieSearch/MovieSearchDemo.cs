using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SqlRec;

namespace MovieSearch;

/// <summary>The sample's steps, callable from a test with the real data.</summary>
public static class MovieSearchDemo
{
    /// <summary>Exit code when the MovieLens files are not where they were looked for.</summary>
    public const int DataMissing = 2;

    /// <summary>The text query of the searches.</summary>
    public const string Query = "space adventure with robots";

    private const string Embedded = "title || ' ' || replace(genres, '|', ' ')";

    /// <summary>
    /// Runs the sample: <paramref name="args"/> are [data folder [database file]]. Returns 0, or
    /// <see cref="DataMissing"/> with a message on <paramref name="error"/> when u.item or u.data is absent.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var data = args.Length > 0 ? Path.GetFullPath(args[0]) : DefaultDataFolder();
        var database = args.Length > 1 ? args[1] : "movie-search.db";
        var missing = new[] { "u.item", "u.data" }.Where(f => !File.Exists(Path.Combine(data, f))).ToList();
        if (missing.Count > 0)
        {
            error.WriteLine($"MovieLens 100K not found: {string.Join(" and ", missing)} missing in {data}.");
            error.WriteLine("Download ml-100k.zip from https://grouplens.org/datasets/movielens/100k/, unzip it, and pass its folder:");
            error.WriteLine("  dotnet run --project samples/MovieSearch -- path/to/ml-100k");
            return DataMissing;
        }

        var total = Stopwatch.StartNew();
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Pooling = false }.ToString());
        connection.Open();
        connection.UseSqlRec();
        var sql = new Sql(connection);

        // 0. The embedder: the real all-MiniLM-L6-v2 when it is installed (this sample references the
        //    SqlRec.Models.MiniLM package, so it is, unless "hash" is asked for as a third argument),
        //    else the built-in weight-free 'hash'.
        var embedder = Embedder(sql, args.Length > 2 && args[2] == "hash", output);

        // 1. The data, into the app's own tables.
        var clock = Stopwatch.StartNew();
        var (movies, ratings) = Import(sql, data);
        output.WriteLine($"MovieLens 100K from {data}: {movies:N0} movies, {ratings:N0} ratings into {database} ({Ms(clock)})");

        // 2. A text collection: every title and its genres embedded with the embedder
        //    (batched), recorded on the collection so rec_search embeds TEXT queries with it; also
        //    written to the vec0 table movies_text_items for plain sqlite-vec SQL.
        clock.Restart();
        var published = sql.Scalar<string>($"""
            SELECT rec_publish('movies_text', json_object(
              'text', 'SELECT id, {Embedded.Replace("'", "''", StringComparison.Ordinal)} FROM movies',
              'embedder', '{embedder}', 'table', 'movies_text'))
            """);
        output.WriteLine($"collection 'movies_text' ({Ms(clock)}): {published}");

        // 3. A collaborative model from the ratings: its item vectors put films liked by the same people together.
        clock.Restart();
        var trained = sql.Scalar<string>("""
            SELECT rec_train('movies_cf', json_object('model', 'graph_filter',
              'source', 'SELECT user_id, movie_id FROM ratings WHERE stars >= 4', 'components', 64))
            """);
        output.WriteLine($"model 'movies_cf' ({Ms(clock)}): {trained}");
        output.WriteLine();

        output.WriteLine($"1. Search by text: rec_search('movies_text', '{Query}', 10)");
        if (embedder == "hash")
        {
            output.WriteLine("   The built-in 'hash' embedder matches shared words and spellings, not meaning: the films below share");
            output.WriteLine("   words with the query ('adventure' is a genre here), not its idea. For search by meaning, reference the");
            output.WriteLine("   SqlRec.Models.MiniLM package and register rec_register_embedder('minilm', json_object('model', 'all-MiniLM-L6-v2')).");
        }
        else
        {
            output.WriteLine("   all-MiniLM-L6-v2 matches meaning: films about space and robots, whatever words their titles use.");
        }
        var byText = sql.Movies("""
            SELECT r.item_id, r.score, m.title, m.genres FROM rec_search('movies_text', $query, 10) r
            JOIN movies m ON m.id = r.item_id ORDER BY r.rank
            """, ("$query", Query));
        Print(output, byText);

        var starWars = sql.Scalar<long>("SELECT id FROM movies WHERE title = 'Star Wars (1977)'");
        output.WriteLine($"2. More like Star Wars (1977) by text vectors: similar_items({starWars}, 10, 'movies_text')");
        Print(output, sql.Movies("""
            SELECT s.item_id, s.score, m.title, m.genres FROM similar_items($id, 10, 'movies_text') s
            JOIN movies m ON m.id = s.item_id ORDER BY s.rank
            """, ("$id", starWars)));

        output.WriteLine($"3. More like Star Wars (1977) by who liked it: similar_items({starWars}, 10, 'movies_cf')");
        Print(output, sql.Movies("""
            SELECT s.item_id, s.score, m.title, m.genres FROM similar_items($id, 10, 'movies_cf') s
            JOIN movies m ON m.id = s.item_id ORDER BY s.rank
            """, ("$id", starWars)));

        const string genre = "Children's";
        output.WriteLine($"4. Filtered: the same text search among {genre} films only (option 'candidates')");
        var filtered = sql.Movies("""
            SELECT r.item_id, r.score, m.title, m.genres FROM rec_search('movies_text', $query, 10,
              json_object('candidates', 'SELECT id FROM movies WHERE instr(genres, ''Children''''s'') > 0')) r
            JOIN movies m ON m.id = r.item_id ORDER BY r.rank
            """, ("$query", Query));
        Print(output, filtered);
        var joined = sql.Scalar<long>($"""
            SELECT count(*) FROM (SELECT item_id FROM movies_text_items WHERE embedding MATCH rec_embed('{embedder}', $query) AND k = 10) v
            JOIN movies m ON m.id = v.item_id WHERE instr(m.genres, 'Children''s') > 0
            """, ("$query", Query));
        output.WriteLine($"   {filtered.Count} rows, all {genre}: {(filtered.All(f => f.Genres.Contains(genre, StringComparison.Ordinal)) ? "yes" : "no")}; "
            + $"a vec0 KNN with k = 10 followed by a JOIN on the genre gives {joined}.");
        output.WriteLine();

        output.WriteLine("5. The same KNN in plain sqlite-vec SQL on the vec0 table rec_publish wrote:");
        var vec0 = $"""
            SELECT v.item_id, 1 - v.distance, m.title, m.genres FROM movies_text_items v JOIN movies m ON m.id = v.item_id
            WHERE v.embedding MATCH rec_embed('{embedder}', $query) AND k = 10 ORDER BY v.distance
            """;
        output.WriteLine("   " + vec0.Replace("\n", "\n   ", StringComparison.Ordinal));
        var plain = sql.Movies(vec0, ("$query", Query));
        Print(output, plain);
        var same = plain.Select(p => p.Id).SequenceEqual(byText.Select(t => t.Id));
        output.WriteLine($"   the same 10 films in the same order as rec_search: {(same ? "yes" : "no")}");
        output.WriteLine();
        output.WriteLine($"done in {total.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    /// <summary>
    /// Registers all-MiniLM-L6-v2 as 'minilm' and returns that name, or says why it cannot and
    /// returns 'hash' (the built-in feature-hashing embedder: words, not meaning).
    /// </summary>
    private static string Embedder(Sql sql, bool hashAsked, TextWriter output)
    {
        if (hashAsked)
        {
            output.WriteLine("embedder: 'hash' (asked for): the built-in weight-free feature hashing of words and spellings");
            return "hash";
        }
        try
        {
            var registered = sql.Scalar<string>("SELECT rec_register_embedder('minilm', json_object('model', 'all-MiniLM-L6-v2')) ->> '$.model_path'");
            output.WriteLine($"embedder: 'minilm', the real all-MiniLM-L6-v2 sentence model ({registered})");
            return "minilm";
        }
        catch (SqliteException e)
        {
            output.WriteLine($"embedder: 'hash', the built-in weight-free feature hashing of words and spellings (no sentence model: {e.SqliteErrorCode} {e.Message})");
            return "hash";
        }
    }

    /// <summary>../shared/data/ml-100k next to the repository root (the folder holding SqlRec.sln), looked for above the current folder, then above the program.</summary>
    public static string DefaultDataFolder()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            {
                if (File.Exists(Path.Combine(folder.FullName, "SqlRec.sln")))
                    return Path.GetFullPath(Path.Combine(folder.FullName, "..", "shared", "data", "ml-100k"));
            }
        }
        return Path.GetFullPath(Path.Combine("..", "shared", "data", "ml-100k"));
    }

    /// <summary>movies(id, title, genres) from u.item (genres '|'-separated, as u.genre names them) and ratings(user_id, movie_id, stars) from u.data.</summary>
    private static (long Movies, long Ratings) Import(Sql sql, string folder)
    {
        var genrePath = Path.Combine(folder, "u.genre");
        var genres = File.Exists(genrePath)
            ? File.ReadLines(genrePath, Encoding.Latin1).Where(l => l.Contains('|', StringComparison.Ordinal)).Select(l => l.Split('|')[0]).ToArray()
            : ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
               "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"];
        using var transaction = sql.Connection.BeginTransaction();
        sql.Execute("""
            DROP TABLE IF EXISTS movies; DROP TABLE IF EXISTS ratings;
            CREATE TABLE movies(id INTEGER PRIMARY KEY, title TEXT NOT NULL, genres TEXT NOT NULL);
            CREATE TABLE ratings(user_id INTEGER NOT NULL, movie_id INTEGER NOT NULL, stars INTEGER NOT NULL);
            """);
        long movies = 0, ratings = 0;
        using (var insert = sql.Prepare("INSERT INTO movies VALUES ($id, $title, $genres)", "$id", "$title", "$genres"))
        {
            foreach (var line in File.ReadLines(Path.Combine(folder, "u.item"), Encoding.Latin1))
            {
                var fields = line.Split('|');
                if (fields.Length < 5 + genres.Length) continue;
                var flags = fields[^genres.Length..];
                insert.Run(long.Parse(fields[0], CultureInfo.InvariantCulture), fields[1],
                    string.Join('|', genres.Where((_, g) => flags[g] == "1")));
                movies++;
            }
        }
        using (var insert = sql.Prepare("INSERT INTO ratings VALUES ($user, $movie, $stars)", "$user", "$movie", "$stars"))
        {
            foreach (var line in File.ReadLines(Path.Combine(folder, "u.data")))
            {
                var fields = line.Split('\t');
                insert.Run(long.Parse(fields[0], CultureInfo.InvariantCulture), long.Parse(fields[1], CultureInfo.InvariantCulture),
                    long.Parse(fields[2], CultureInfo.InvariantCulture));
                ratings++;
            }
        }
        transaction.Commit();
        return (movies, ratings);
    }

    private static string Ms(Stopwatch clock) => $"{clock.Elapsed.TotalMilliseconds:N0} ms";

    private static void Print(TextWriter output, List<Movie> movies)
    {
        for (var i = 0; i < movies.Count; i++)
            output.WriteLine($"   {i + 1,2}  {movies[i].Score,6:F3}  {Cut(movies[i].Title, 48),-48}  {movies[i].Genres.Replace("|", ", ", StringComparison.Ordinal)}");
        output.WriteLine();
    }

    private static string Cut(string text, int max) => text.Length <= max ? text : text[..(max - 3)] + "...";

    /// <summary>One row of a result: the id, its score and the film.</summary>
    internal sealed record Movie(long Id, double Score, string Title, string Genres);

    /// <summary>Small helpers over the connection.</summary>
    private sealed class Sql(SqliteConnection connection)
    {
        public SqliteConnection Connection => connection;

        public void Execute(string text)
        {
            using var command = connection.CreateCommand();
            command.CommandText = text;
            command.ExecuteNonQuery();
        }

        public T Scalar<T>(string text, params (string Name, object Value)[] parameters)
        {
            using var command = Command(text, parameters);
            return (T)command.ExecuteScalar()!;
        }

        public List<Movie> Movies(string text, params (string Name, object Value)[] parameters)
        {
            using var command = Command(text, parameters);
            using var reader = command.ExecuteReader();
            var movies = new List<Movie>();
            while (reader.Read()) movies.Add(new Movie(reader.GetInt64(0), reader.GetDouble(1), reader.GetString(2), reader.GetString(3)));
            return movies;
        }

        public Insert Prepare(string text, params string[] names)
        {
            var command = connection.CreateCommand();
            command.CommandText = text;
            foreach (var name in names) command.Parameters.AddWithValue(name, DBNull.Value);
            command.Prepare();
            return new Insert(command);
        }

        private SqliteCommand Command(string text, (string Name, object Value)[] parameters)
        {
            var command = connection.CreateCommand();
            command.CommandText = text;
            foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
            return command;
        }
    }

    /// <summary>A prepared INSERT run once per row.</summary>
    private sealed class Insert(SqliteCommand command) : IDisposable
    {
        public void Run(params object[] values)
        {
            for (var i = 0; i < values.Length; i++) command.Parameters[i].Value = values[i];
            command.ExecuteNonQuery();
        }

        public void Dispose() => command.Dispose();
    }
}
