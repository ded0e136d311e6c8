using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// End-to-end figures on the Gowalla split used by NGCF and LightGCN (29,858 users, 40,981 items,
/// 810,128 training pairs), everything through SQL on one in-memory database, CPU:
/// <list type="bullet">
/// <item>model build: wall time of <c>rec_train</c> (reading the source, building, writing the version);</item>
/// <item>serving: <c>SELECT recommend(user, 20, model)</c> for 500 random users, one call at a time,
/// warm (model already in the process cache) - p50/p99 per call, including SQL overhead and, for the
/// live graph filter, reading the user's current row;</item>
/// <item>evaluation: <c>rec_evaluate</c> on the published test file, all users, full ranking.</item>
/// </list>
/// The popular model, measured in the same run, is the baseline for the ratios. Not measured:
/// the cold first call that loads a model from the store, and concurrency between callers.
/// </summary>
public static class GowallaBenchmark
{
    public static int Run(string[] args)
    {
        var folder = args.FirstOrDefault(a => !a.Contains('=')) ?? DefaultFolder();
        var only = args.FirstOrDefault(a => a.StartsWith("models=", StringComparison.Ordinal))?["models=".Length..].Split(',');
        if (!File.Exists(Path.Combine(folder, "train.txt")))
        {
            Console.Error.WriteLine($"Gowalla files not found in '{folder}'; pass the folder holding train.txt and test.txt.");
            return 2;
        }
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        connection.UseSqlRec();
        var load = Stopwatch.StartNew();
        Load(connection, Path.Combine(folder, "train.txt"), "train");
        Load(connection, Path.Combine(folder, "test.txt"), "test");
        Console.WriteLine($"loaded Gowalla into SQLite in {load.Elapsed.TotalSeconds:F1} s; {Environment.ProcessorCount} cores");

        var rows = new List<string[]>();
        foreach (var (name, options) in new[]
        {
            ("popular", "json_object('model','popular','source','SELECT user_id, item_id FROM train')"),
            ("graph_filter", "json_object('model','graph_filter','source','SELECT user_id, item_id FROM train')"),
            ("graph_filter_linear", "json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',0)"),
            // BSPM's Gowalla setting (Choi et al., SIGIR 2023): 448 components, idl_beta 0.2, RK4 sharpening for T 2.5 in one step.
            ("graph_filter_bspm", "json_object('model','graph_filter','source','SELECT user_id, item_id FROM train','components',448,'alpha',0.2,'sharpen_time',2.5)"),
            ("ease", "json_object('model','ease','source','SELECT user_id, item_id FROM train')"),
            // The README's paper-level LightGCN run (about 31 minutes here): only when named in models=.
            ("lightgcn", "json_object('model','lightgcn','source','SELECT user_id, item_id FROM train','batch',131072,'lr',0.02,'lr_decay','cosine','epochs',1100,'seed',42)"),
        }.Where(m => only is null ? m.Item1 != "lightgcn" : only.Contains(m.Item1)))
        {
            if (name == "ease")
            {
                // 41k items: an items x items model that this machine's memory refuses; shown with its message.
                try { Scalar(connection, $"SELECT rec_train('{name}', {options})"); }
                catch (SqliteException refused) { Console.WriteLine($"ease: {refused.Message}"); continue; }
            }
            var build = Stopwatch.StartNew();
            if (name != "ease") Scalar(connection, $"SELECT rec_train('{name}', {options})");
            var buildSeconds = build.Elapsed.TotalSeconds;
            var (p50, p99) = Latency(connection, name);
            var evaluation = Stopwatch.StartNew();
            var report = JsonDocument.Parse((string)Scalar(connection,
                $"SELECT rec_evaluate('{name}', json_object('test','SELECT user_id, item_id FROM test','k',json_array(20)))")!).RootElement;
            var evalSeconds = evaluation.Elapsed.TotalSeconds;
            var metrics = report.GetProperty("metrics");
            rows.Add([name, F(buildSeconds, 1), F(p50, 3), F(p99, 3), F(evalSeconds, 1),
                F(metrics.GetProperty("recall@20").GetDouble(), 4), F(metrics.GetProperty("ndcg@20").GetDouble(), 4)]);
            Console.WriteLine($"{name}: build {buildSeconds:F1} s, recommend p50 {p50:F3} ms p99 {p99:F3} ms, evaluation {evalSeconds:F1} s, " +
                $"recall@20 {metrics.GetProperty("recall@20").GetDouble():F4}, ndcg@20 {metrics.GetProperty("ndcg@20").GetDouble():F4}");
        }
        var baseP50 = double.Parse(rows[0][2], CultureInfo.InvariantCulture);
        Console.WriteLine();
        Console.WriteLine("| model | build s | recommend p50 ms | p99 ms | p50 vs popular | evaluate all users s | recall@20 | ndcg@20 |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            Console.WriteLine($"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {double.Parse(r[2], CultureInfo.InvariantCulture) / baseP50:F1}x | {r[4]} | {r[5]} | {r[6]} |");
        return 0;
    }

    private static string F(double value, int digits) => value.ToString("F" + digits, CultureInfo.InvariantCulture);

    internal static (double P50, double P99) Latency(SqliteConnection connection, string model)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT recommend($user, 20, $model)";
        var user = command.Parameters.Add("$user", SqliteType.Integer);
        command.Parameters.AddWithValue("$model", model);
        command.Prepare();
        var random = new Random(1);
        // Warm: 300 untimed calls, so the hot methods run the JIT's optimised tier (it recompiles a
        // method after 30 calls and a pause; with 20 the first few hundred timed calls ran tier-0 code).
        for (var i = 0; i < 300; i++)
        {
            user.Value = random.Next(29_858);
            command.ExecuteScalar();
        }
        var times = new List<double>();
        for (var i = 0; i < 500; i++)
        {
            user.Value = random.Next(29_858);
            var watch = Stopwatch.StartNew();
            command.ExecuteScalar();
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return (times[times.Count / 2], times[(int)(times.Count * 0.99)]);
    }

    internal static void Load(SqliteConnection connection, string path, string table)
    {
        using (var create = connection.CreateCommand())
        {
            create.CommandText = $"CREATE TABLE {table}(user_id INTEGER, item_id INTEGER)";
            create.ExecuteNonQuery();
        }
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = $"INSERT INTO {table} VALUES ($u, $i)";
        var u = insert.Parameters.Add("$u", SqliteType.Integer);
        var i = insert.Parameters.Add("$i", SqliteType.Integer);
        insert.Prepare();
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (var p = 1; p < parts.Length; p++)
            {
                u.Value = long.Parse(parts[0], CultureInfo.InvariantCulture);
                i.Value = long.Parse(parts[p], CultureInfo.InvariantCulture);
                insert.ExecuteNonQuery();
            }
        }
        transaction.Commit();
        using var index = connection.CreateCommand();
        index.CommandText = $"CREATE INDEX {table}_user ON {table}(user_id)";
        index.ExecuteNonQuery();
    }

    internal static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    /// <summary>../shared/data/lightgcn/gowalla beside the repository: the folder used when none is given.</summary>
    internal static string DefaultFolder() => SharedData.PathOf("lightgcn", "gowalla");
}
