using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// How large a catalogue <c>ease</c> handles here, and in what time:
/// <c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- ease-scale [items ...]</c> (default 2000 5000 10000 15000).
/// For each size, generated Zipf-like interactions (SyntheticData: 2 users per item, 40 rows per
/// item) are trained as <c>ease</c>; printed: the items that got interactions, the training time, the
/// process's peak working set, and the time of one recommend(). Each size runs in a fresh database;
/// the memory estimate that refuses a too-large catalogue is 20 x items^2 bytes.
/// </summary>
public static class EaseScaleBenchmark
{
    public static int Run(string[] args)
    {
        var sizes = args.Length > 0 ? args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [2000, 5000, 10000, 15000];
        Console.WriteLine($"ease on generated data; {Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB available");
        Console.WriteLine("| items requested | items | interactions | train s | peak working set GiB | recommend ms |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var size in sizes)
        {
            using var connection = new SqliteConnection("Data Source=:memory:");
            connection.Open();
            connection.UseSqlRec();
            SyntheticData.Create(connection, users: 2 * size, items: size, rows: 40 * size, seed: size);
            // recommend() reads the user's current rows through the source (live): index it as an app would.
            Scalar(connection, "CREATE INDEX interactions_user ON interactions(user_id)");
            var items = Convert.ToInt64(Scalar(connection, "SELECT count(DISTINCT item_id) FROM interactions"), CultureInfo.InvariantCulture);
            var pairs = Convert.ToInt64(Scalar(connection, "SELECT count(*) FROM (SELECT DISTINCT user_id, item_id FROM interactions)"), CultureInfo.InvariantCulture);
            GC.Collect();
            using var process = Process.GetCurrentProcess();
            var clock = Stopwatch.StartNew();
            string train;
            try
            {
                Scalar(connection, "SELECT rec_train('e', json_object('model', 'ease', 'source', 'SELECT user_id, item_id FROM interactions'))");
                train = clock.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture);
            }
            catch (SqliteException refused)
            {
                Console.WriteLine($"| {size:N0} | {items:N0} | {pairs:N0} | refused: {refused.Message} | | |");
                continue;
            }
            process.Refresh();
            var peak = process.PeakWorkingSet64 / (1024.0 * 1024 * 1024);
            Scalar(connection, "SELECT recommend(1, 20, 'e')");
            var call = Stopwatch.StartNew();
            for (var u = 0; u < 20; u++) Scalar(connection, $"SELECT recommend({u * 7}, 20, 'e')");
            Console.WriteLine($"| {size:N0} | {items:N0} | {pairs:N0} | {train} | {peak:F1} | {call.Elapsed.TotalMilliseconds / 20:F2} |");
        }
        return 0;
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
