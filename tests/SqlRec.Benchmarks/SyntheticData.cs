using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// A generated interaction table with power-law item popularity and user activity, so that
/// benchmarks run on a fresh machine without external data.
/// </summary>
public static class SyntheticData
{
    /// <summary>
    /// The micro-benchmarks' database: in memory, SqlRec enabled, 1M interactions of 50k users
    /// and 20k items, so every benchmark measures against the same data.
    /// </summary>
    public static SqliteConnection OpenMillionRowDatabase()
    {
        var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        connection.UseSqlRec();
        Create(connection, users: 50_000, items: 20_000, rows: 1_000_000);
        return connection;
    }

    /// <summary>Creates <c>interactions(user_id, item_id, weight, ts)</c> with about <paramref name="rows"/> rows.</summary>
    public static void Create(SqliteConnection connection, int users, int items, int rows, int seed = 42)
    {
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE interactions(user_id INTEGER, item_id INTEGER, weight REAL, ts INTEGER)";
            create.ExecuteNonQuery();
        }
        var random = new Random(seed);
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO interactions VALUES ($u, $i, $w, $t)";
        var u = insert.Parameters.Add("$u", SqliteType.Integer);
        var i = insert.Parameters.Add("$i", SqliteType.Integer);
        var w = insert.Parameters.Add("$w", SqliteType.Real);
        var t = insert.Parameters.Add("$t", SqliteType.Integer);
        for (var r = 0; r < rows; r++)
        {
            // Zipf-like draws: squaring a uniform number concentrates mass on low ids.
            u.Value = (int)(users * Math.Pow(random.NextDouble(), 1.5));
            i.Value = (int)(items * Math.Pow(random.NextDouble(), 2.5));
            w.Value = 1 + random.Next(5);
            t.Value = 1_700_000_000 + random.Next(31_536_000);
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
    }
}
