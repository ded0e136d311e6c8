using System.Globalization;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// Generated interactions whose user and item degrees follow the curves fitted to Gowalla (LightGCN's
/// split): a Zipf-Mandelbrot rank-size law d(r) = C (r/n + q)^-s, users s = 0.945, q = 0.029, items
/// s = 0.684, q = 0.0022 (rms error of log degree 0.07 and 0.09 over all ranks; see the benchmarks
/// README). q scales with n, so the head keeps its share as the catalogue grows. Each user draws its
/// distinct items by item weight; user and item ids are shuffled so the id maps are not in rank order.
/// Rows are written straight into SQLite in one transaction, a user at a time: memory is the item
/// weight table, not the interaction list. For <see cref="TestUsers"/> users sampled at random, 20% of
/// their items (at least one) go to table <c>test</c> instead of <c>interactions</c>.
/// </summary>
internal static class ScaleData
{
    public const double UserExponent = 0.945, UserOffset = 0.029, ItemExponent = 0.684, ItemOffset = 0.0022;

    /// <summary>Users sampled for the held-out test table.</summary>
    public const int TestUsers = 10_000;

    /// <summary>Interactions, users and items of a named size: 1m is Gowalla-like (30k users, 41k items), both grow in proportion.</summary>
    public static (long Rows, int Users, int Items) Size(string name)
    {
        var millions = double.Parse(name.TrimEnd('m', 'M'), CultureInfo.InvariantCulture);
        return ((long)(millions * 1_000_000), (int)(30_000 * Math.Pow(millions, 1.016)), (int)(41_000 * Math.Pow(millions, 0.997)));
    }

    /// <summary>Writes <c>interactions(user_id, item_id)</c> and <c>test(user_id, item_id)</c> into a new file at <paramref name="path"/>.</summary>
    public static (long Train, long Test) Create(string path, long rows, int users, int items, int seed = 7)
    {
        var random = new Random(seed);
        var cumulative = new double[items];
        var total = 0.0;
        for (var r = 0; r < items; r++) cumulative[r] = total += Math.Pow((double)(r + 1) / items + ItemOffset, -ItemExponent);
        var itemIds = Permutation(items, random);
        var userIds = Permutation(users, random);
        var userWeights = new double[users];
        var userTotal = 0.0;
        for (var r = 0; r < users; r++) userTotal += userWeights[r] = Math.Pow((double)(r + 1) / users + UserOffset, -UserExponent);
        var testUsers = new HashSet<int>();
        while (testUsers.Count < Math.Min(TestUsers, users)) testUsers.Add(random.Next(users));

        if (File.Exists(path)) File.Delete(path);
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        Execute(connection, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; CREATE TABLE interactions(user_id INTEGER NOT NULL, item_id INTEGER NOT NULL); CREATE TABLE test(user_id INTEGER NOT NULL, item_id INTEGER NOT NULL)");
        using var transaction = connection.BeginTransaction();
        using var train = Insert(connection, transaction, "interactions");
        using var test = Insert(connection, transaction, "test");
        var (trainRows, testRows) = (0L, 0L);
        var drawn = new HashSet<int>();
        var list = new List<int>();
        for (var r = 0; r < users; r++)
        {
            var degree = (int)Math.Clamp(Math.Round(rows * userWeights[r] / userTotal), 2, items / 4);
            drawn.Clear();
            list.Clear();
            while (drawn.Count < degree)
            {
                var at = Array.BinarySearch(cumulative, random.NextDouble() * total);
                var rank = at < 0 ? Math.Min(~at, items - 1) : at;
                if (drawn.Add(rank)) list.Add(rank);
            }
            var user = userIds[r];
            var held = testUsers.Contains(r) ? Math.Max(1, degree / 5) : 0;
            for (var n = 0; n < list.Count; n++)
            {
                var command = n < held ? test : train;
                command.Parameters[0].Value = user;
                command.Parameters[1].Value = itemIds[list[n]];
                command.ExecuteNonQuery();
                if (n < held) testRows++; else trainRows++;
            }
        }
        transaction.Commit();
        // recommend() on a live graph filter reads the user's current rows through the source: index them as an app would.
        Execute(connection, "CREATE INDEX interactions_user ON interactions(user_id); PRAGMA wal_checkpoint(TRUNCATE)");
        return (trainRows, testRows);
    }

    private static int[] Permutation(int count, Random random)
    {
        var ids = new int[count];
        for (var i = 0; i < count; i++) ids[i] = i + 1;
        random.Shuffle(ids);
        return ids;
    }

    private static SqliteCommand Insert(SqliteConnection connection, SqliteTransaction transaction, string table)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"INSERT INTO {table} VALUES ($u, $i)";
        command.Parameters.Add("$u", SqliteType.Integer);
        command.Parameters.Add("$i", SqliteType.Integer);
        command.Prepare();
        return command;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
