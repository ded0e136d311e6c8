using System.Globalization;
using Microsoft.Data.Sqlite;

namespace SqlRec.Cli.Data;

/// <summary>A book of the demo shop.</summary>
internal sealed record DemoBook(int Id, string Title, string Genre);

/// <summary>A customer of the demo shop; <paramref name="FavouriteGenres"/> is comma-separated.</summary>
internal sealed record DemoUser(int Id, string Name, string FavouriteGenres);

/// <summary>One rating: 1 to 5 stars at an ISO-8601 UTC time.</summary>
internal sealed record DemoRating(int UserId, int ItemId, int Stars, string RatedAt);

/// <summary>
/// A small book shop generated in code: about 120 books in 8 genres, a few hundred users who each
/// like one or two genres, and their ratings. Users mostly rate books of their favourite genres,
/// popularity within a genre falls off Zipf-like, and favourite genres get more stars, so the
/// data has the structure real shops have without shipping any data file. Generation is
/// deterministic (fixed seed, fixed end date): the demo, tests and samples all see the same rows.
/// </summary>
internal sealed class DemoData
{
    /// <summary>The default seed; any other seed gives another, equally plausible shop.</summary>
    public const int DefaultSeed = 2024;

    /// <summary>The default number of users.</summary>
    public const int DefaultUsers = 300;

    /// <summary>
    /// Ratings span the year before this instant. Fixed rather than "now" so that two generations
    /// are identical; SqlRec's time decay is relative to the newest rating, not the wall clock.
    /// </summary>
    public static readonly DateTimeOffset End = new(2025, 6, 30, 18, 0, 0, TimeSpan.Zero);

    private const int BooksPerGenre = 15;
    private const double ZipfExponent = 1.1;
    private const double FavouriteShare = 0.8;

    private sealed record GenreWords(string Name, double Appeal, string[] Templates, string[] Adjectives, string[] Nouns, string[] Places);

    // Appeal weights how many users pick a genre as a favourite; templates use {A}djective, {N}oun, {P}lace.
    private static readonly GenreWords[] Genres =
    [
        new("Fantasy", 1.4, ["The {A} {N}", "{N} of {P}", "The {N} of {P}"],
            ["Hollow", "Ember", "Silver", "Thorned", "Sleeping", "Broken", "Winter", "Gilded", "Shadowed", "Wandering"],
            ["Crown", "Dragon", "Throne", "Witch", "Blade", "Keep", "Oracle", "Forest", "Tower", "Heir"],
            ["Ashes", "Storms", "the North", "Thornwood", "the Deep", "Seven Moons", "the Old Kings"]),
        new("Science Fiction", 1.0, ["The {A} {N}", "{N} of {P}", "{A} {N}"],
            ["Distant", "Quantum", "Silent", "Red", "Last", "Iron", "Hollow", "Binary", "Drifting", "Frozen"],
            ["Orbit", "Signal", "Colony", "Machine", "Star", "Horizon", "Engine", "Protocol", "Station", "Voyager"],
            ["Titan", "the Void", "Kepler", "Mars", "the Outer Rim", "Tomorrow", "Andromeda"]),
        new("Mystery", 1.3, ["The {A} {N}", "The {N} at {P}", "Murder at {P}"],
            ["Silent", "Missing", "Crooked", "Midnight", "Locked", "Ninth", "Quiet", "Unsent", "Poisoned", "Last"],
            ["Witness", "Letter", "Key", "Alibi", "Garden", "Inspector", "Clue", "Cottage", "Ledger", "Verdict"],
            ["Ravenhill", "Baker Lane", "the Vicarage", "Blackwater", "the Harbour", "Elm Street", "Marlow"]),
        new("Romance", 1.1, ["The {A} {N}", "A {N} in {P}", "{A} {N}"],
            ["Summer", "Secret", "Sweet", "Second", "Lost", "Perfect", "Wild", "Tender", "Sudden", "Golden"],
            ["Promise", "Kiss", "Heart", "Proposal", "Season", "Letter", "Affair", "Wedding", "Dance", "Vow"],
            ["Paris", "the Lighthouse", "Willow Creek", "the Vineyard", "Rosewood", "Sicily", "the Bay"]),
        new("History", 0.8, ["The {A} {N}", "The {N} of {P}", "{P}: The {A} {N}"],
            ["Forgotten", "Great", "Long", "Iron", "Last", "Hidden", "Golden", "Bitter", "Silk", "First"],
            ["Empire", "War", "Road", "Revolution", "Dynasty", "Voyage", "Republic", "Crusade", "Century", "Frontier"],
            ["Rome", "the Atlantic", "Byzantium", "the Steppe", "Venice", "the Ottomans", "the Nile"]),
        new("Cooking", 0.7, ["The {A} {N}", "{A} Food from {P}", "A {N} in {P}"],
            ["Simple", "Slow", "Rustic", "Everyday", "Green", "Spiced", "Honest", "Sunday", "Seasonal", "Little"],
            ["Kitchen", "Table", "Bread", "Pantry", "Feast", "Oven", "Supper", "Harvest", "Garden", "Bowl"],
            ["Tuscany", "Oaxaca", "the Coast", "Provence", "Lebanon", "Kyoto", "the Farm"]),
        new("Thriller", 1.2, ["The {A} {N}", "{A} {N}", "The {N} in {P}"],
            ["Dead", "Final", "Cold", "Silent", "Burning", "Hidden", "Black", "Zero", "Deadly", "Fallen"],
            ["Target", "Protocol", "Hour", "Agent", "Cipher", "Witness", "Contract", "Deadline", "Asset", "Signal"],
            ["Berlin", "Moscow", "the Embassy", "Cairo", "the Pentagon", "Lisbon", "the Border"]),
        new("Poetry", 0.5, ["The {A} {N}", "{N} of {P}", "{A} {N}"],
            ["Small", "Quiet", "Blue", "Salt", "Paper", "Late", "Bright", "Slow", "Wild", "Open"],
            ["Hours", "Rivers", "Birds", "Songs", "Windows", "Tides", "Hymns", "Lanterns", "Elegies", "Orchards"],
            ["the Sea", "Morning", "Home", "the Rain", "Winter", "Light", "the Field"]),
    ];

    private static readonly string[] FirstNames =
    [
        "Maya", "Liam", "Noor", "Jonas", "Aiko", "Mateo", "Freya", "Omar", "Lena", "Ravi", "Chloe", "Tomas", "Zara", "Elias",
        "Ines", "Kofi", "Hana", "Lucas", "Amara", "Felix", "Sofia", "Arjun", "Mila", "Oscar", "Leila", "Hugo", "Yara", "Nils",
        "Priya", "Theo", "Alma", "Diego", "Esme", "Kenji", "Nina", "Samir", "Ada", "Bruno", "Clara", "Emil",
    ];

    private DemoData(IReadOnlyList<DemoBook> books, IReadOnlyList<DemoUser> users, IReadOnlyList<DemoRating> ratings)
    {
        Books = books;
        Users = users;
        Ratings = ratings;
    }

    /// <summary>The books (the <c>items</c> table), ids from 1.</summary>
    public IReadOnlyList<DemoBook> Books { get; }

    /// <summary>The users, ids from 1.</summary>
    public IReadOnlyList<DemoUser> Users { get; }

    /// <summary>The ratings, by user and then by time.</summary>
    public IReadOnlyList<DemoRating> Ratings { get; }

    /// <summary>The genre names, in a fixed order.</summary>
    public static IReadOnlyList<string> GenreNames { get; } = [.. Genres.Select(g => g.Name)];

    /// <summary>Generates the shop; the same arguments always give the same data.</summary>
    public static DemoData Generate(int users = DefaultUsers, int seed = DefaultSeed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(users, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(users, 100_000);
        // System.Random with a seed uses a fixed algorithm that .NET keeps stable across versions.
        var random = new Random(seed);

        // Titles first, in genre order; each genre's list order is its hidden popularity order.
        var byGenre = new List<string>[Genres.Length];
        var taken = new HashSet<string>(StringComparer.Ordinal);
        for (var g = 0; g < Genres.Length; g++)
        {
            byGenre[g] = [];
            while (byGenre[g].Count < BooksPerGenre)
            {
                var title = MakeTitle(Genres[g], random);
                if (taken.Add(title)) byGenre[g].Add(title);
            }
        }
        // Ids are dealt out in a shuffled order, so neither genre nor popularity can be read from an id.
        var slots = Enumerable.Range(0, Genres.Length * BooksPerGenre).ToArray();
        random.Shuffle(slots);
        var books = new DemoBook[slots.Length];
        var bookIds = new int[Genres.Length][];
        for (var g = 0; g < Genres.Length; g++) bookIds[g] = new int[BooksPerGenre];
        for (var id = 1; id <= slots.Length; id++)
        {
            var (g, rank) = Math.DivRem(slots[id - 1], BooksPerGenre);
            books[id - 1] = new DemoBook(id, byGenre[g][rank], Genres[g].Name);
            bookIds[g][rank] = id;
        }

        var zipf = Cumulative(Enumerable.Range(1, BooksPerGenre).Select(r => Math.Pow(r, -ZipfExponent)));
        var appeal = Cumulative(Genres.Select(g => g.Appeal));
        var people = new DemoUser[users];
        var ratings = new List<DemoRating>(users * 24);
        var seconds = (long)TimeSpan.FromDays(365).TotalSeconds;
        for (var u = 1; u <= users; u++)
        {
            var favourites = new List<int> { Pick(appeal, random) };
            if (random.NextDouble() < 0.5)
            {
                var second = Pick(appeal, random);
                if (second != favourites[0]) favourites.Add(second);
            }
            var name = $"{FirstNames[random.Next(FirstNames.Length)]} {(char)('A' + random.Next(26))}.";
            people[u - 1] = new DemoUser(u, name, string.Join(", ", favourites.Select(f => Genres[f].Name)));

            // Fans of two genres read more. Favourite and other ratings get fixed quotas (at most
            // 85% of the favourite books), so a small genre cannot run out and tilt the mix.
            var wanted = favourites.Count == 1 ? random.Next(10, 21) : random.Next(16, 31);
            var fromFavourites = Math.Min((int)Math.Round(wanted * FavouriteShare), favourites.Count * BooksPerGenre * 85 / 100);
            var others = Enumerable.Range(0, Genres.Length).Except(favourites).ToArray();
            var rated = new HashSet<int>();
            var mine = new List<DemoRating>(wanted);
            void Draw(int count, int[] genres, bool favourite)
            {
                var goal = mine.Count + count;
                for (var attempt = 0; mine.Count < goal && attempt < count * 50; attempt++)
                {
                    var book = bookIds[genres[random.Next(genres.Length)]][Pick(zipf, random)];
                    if (!rated.Add(book)) continue;
                    // Square root skews times towards the end: the shop gets busier, and the half-life matters.
                    var ago = (long)(seconds * (1 - Math.Sqrt(random.NextDouble())));
                    var at = End.AddSeconds(-ago).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                    mine.Add(new DemoRating(u, book, Stars(favourite, random), at));
                }
            }
            Draw(fromFavourites, [.. favourites], favourite: true);
            Draw(wanted - fromFavourites, others, favourite: false);
            ratings.AddRange(mine.OrderBy(r => r.RatedAt, StringComparer.Ordinal));
        }
        return new DemoData(books, people, ratings);
    }

    /// <summary>
    /// Creates the tables <c>items</c>, <c>users</c> and <c>ratings</c> (with an index on
    /// <c>ratings(user_id)</c>) in an open connection and fills them, in one transaction.
    /// The tables must not exist yet.
    /// </summary>
    public void WriteTo(SqliteConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var transaction = connection.BeginTransaction();
        Execute(connection, transaction, """
            CREATE TABLE items(id INTEGER PRIMARY KEY, title TEXT NOT NULL, genre TEXT NOT NULL);
            CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, favourite_genres TEXT NOT NULL);
            CREATE TABLE ratings(user_id INTEGER NOT NULL REFERENCES users(id), item_id INTEGER NOT NULL REFERENCES items(id),
                                 stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5), rated_at TEXT NOT NULL);
            """);
        InsertAll(connection, transaction, "INSERT INTO items(id, title, genre) VALUES ($1, $2, $3)",
            Books.Select(b => new object[] { b.Id, b.Title, b.Genre }));
        InsertAll(connection, transaction, "INSERT INTO users(id, name, favourite_genres) VALUES ($1, $2, $3)",
            Users.Select(u => new object[] { u.Id, u.Name, u.FavouriteGenres }));
        InsertAll(connection, transaction, "INSERT INTO ratings(user_id, item_id, stars, rated_at) VALUES ($1, $2, $3, $4)",
            Ratings.Select(r => new object[] { r.UserId, r.ItemId, r.Stars, r.RatedAt }));
        Execute(connection, transaction, "CREATE INDEX ratings_user_id ON ratings(user_id)");
        transaction.Commit();
    }

    private static string MakeTitle(GenreWords genre, Random random) =>
        genre.Templates[random.Next(genre.Templates.Length)]
            .Replace("{A}", genre.Adjectives[random.Next(genre.Adjectives.Length)], StringComparison.Ordinal)
            .Replace("{N}", genre.Nouns[random.Next(genre.Nouns.Length)], StringComparison.Ordinal)
            .Replace("{P}", genre.Places[random.Next(genre.Places.Length)], StringComparison.Ordinal);

    /// <summary>Favourite genres mostly get 4-5 stars; other genres centre on 3.</summary>
    private static int Stars(bool favourite, Random random)
    {
        var x = random.NextDouble();
        return favourite
            ? x < 0.45 ? 5 : x < 0.80 ? 4 : x < 0.95 ? 3 : 2
            : x < 0.10 ? 5 : x < 0.35 ? 4 : x < 0.70 ? 3 : x < 0.90 ? 2 : 1;
    }

    private static double[] Cumulative(IEnumerable<double> weights)
    {
        var sums = new List<double>();
        var total = 0.0;
        foreach (var w in weights) sums.Add(total += w);
        return [.. sums.Select(s => s / total)];
    }

    private static int Pick(double[] cumulative, Random random)
    {
        var index = Array.BinarySearch(cumulative, random.NextDouble());
        return Math.Min(index < 0 ? ~index : index, cumulative.Length - 1);
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static void InsertAll(SqliteConnection connection, SqliteTransaction transaction, string sql, IEnumerable<object[]> rows)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        SqliteParameter[]? parameters = null;
        foreach (var row in rows)
        {
            if (parameters is null)
            {
                // No declared type: each value binds as what it is (INTEGER or TEXT).
                parameters = [.. row.Select((value, i) => command.Parameters.Add(new SqliteParameter($"${i + 1}", value)))];
                command.Prepare();
            }
            for (var i = 0; i < row.Length; i++) parameters[i].Value = row[i];
            command.ExecuteNonQuery();
        }
    }
}
