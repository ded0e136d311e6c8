using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// Every kind side by side on MovieLens, with a plain numpy EASE written here as the reference:
/// <c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- accuracy [ml-100k|ml-1m|folder] [seeds=1,2,3] [kinds=...] [lambdas=...]</c>.
/// <para>
/// Protocol (the usual one for EASE on MovieLens): ratings &gt;= 4 are the positives; for each seed
/// every user's positives are split at random, 20% held out (round(0.2 n), at least 1 and at most
/// n - 1; users with fewer than 2 keep everything); each kind trains through SQL on the 80% and
/// <c>rec_evaluate</c> ranks every item for every test user (full ranking, training items
/// excluded) and reports recall and ndcg @20. Figures are means over seeds with the standard error
/// over seeds (sd / sqrt(seeds)). The numpy reference reads the same split from CSV files, builds
/// X densely, computes EASE with <c>np.linalg.inv</c> in double for each lambda, and scores with
/// the same metric definitions (a test item unknown to training counts in |test|).
/// </para>
/// </summary>
public static class AccuracyBenchmark
{
    private const string Python = "/usr/bin/python3";

    public static int Run(string[] args)
    {
        var dataArg = args.FirstOrDefault(a => !a.Contains('=')) ?? "ml-1m";
        var folder = Directory.Exists(dataArg) ? dataArg : SharedData.PathOf(dataArg);
        var positives = ReadPositives(folder);
        if (positives is null)
        {
            Console.Error.WriteLine($"no MovieLens ratings in '{folder}' (u.data or ratings.dat); pass ml-100k, ml-1m or a folder.");
            return 2;
        }
        var seeds = Setting(args, "seeds", "1,2,3").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var lambdas = Setting(args, "lambdas", "100,200,500,1000").Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var kinds = Setting(args, "kinds", "popular,graph_filter,ease,numpy,auto").Split(',');
        var lightGcn = Setting(args, "lightgcn", "'dim', 64, 'layers', 3, 'init', 'spectral', 'batch', 4096, 'lr', 0.01, 'epochs', 300, 'validation_ratio', 0.1, 'eval_every', 10, 'patience', 4");
        Console.WriteLine($"{Path.GetFileName(Path.GetFullPath(folder))}: {positives.Count:N0} positives (rating >= 4), {positives.Select(p => p.User).Distinct().Count():N0} users, " +
            $"{positives.Select(p => p.Item).Distinct().Count():N0} items; seeds {string.Join(",", seeds)}; {Environment.ProcessorCount} cores");

        var configurations = new List<(string Name, string Options)>();
        foreach (var kind in kinds)
        {
            switch (kind)
            {
                case "popular": configurations.Add(("popular", "'model', 'popular'")); break;
                case "graph_filter": configurations.Add(("graph_filter", "'model', 'graph_filter'")); break;
                case "graph_filter_linear": configurations.Add(("graph_filter components 0", "'model', 'graph_filter', 'components', 0")); break;
                case "lightgcn": configurations.Add(("lightgcn", $"'model', 'lightgcn', {lightGcn}")); break;
                case "bspm": configurations.Add(("graph_filter bspm", "'model', 'graph_filter', 'components', 448, 'alpha', 0.2, 'sharpen_time', 2.5")); break;
                case "auto": configurations.Add(("auto (default budget)", "'model', 'auto'")); break;
                case "ease":
                    foreach (var lambda in lambdas) configurations.Add(($"ease lambda {lambda}", $"'model', 'ease', 'lambda', {lambda.ToString(CultureInfo.InvariantCulture)}"));
                    break;
            }
        }
        var results = new Dictionary<string, List<(double Recall, double Ndcg, double Seconds)>>();
        var directory = Directory.CreateTempSubdirectory("sqlrec-accuracy-");
        try
        {
            foreach (var seed in seeds)
            {
                var (train, test) = Split(positives, seed);
                var dbPath = Path.Combine(directory.FullName, $"seed{seed}.db");
                using (var connection = new SqliteConnection($"Data Source={dbPath};Pooling=False"))
                {
                    connection.Open();
                    connection.UseSqlRec();
                    Load(connection, "train", train);
                    Load(connection, "test", test);
                    foreach (var (name, options) in configurations)
                    {
                        var clock = Stopwatch.StartNew();
                        Scalar(connection, $"SELECT rec_train('m', json_object({options}, 'source', 'SELECT user_id, item_id FROM train'))");
                        var report = JsonDocument.Parse((string)Scalar(connection, "SELECT rec_evaluate('m', json_object('test', 'SELECT user_id, item_id FROM test', 'k', 20))")!);
                        clock.Stop();
                        var metrics = report.RootElement.GetProperty("metrics");
                        if (name.StartsWith("auto", StringComparison.Ordinal))
                            Console.WriteLine($"  seed {seed} auto chose {Scalar(connection, "SELECT metrics -> '$.auto.chosen' FROM rec_models WHERE name = 'm'")}");
                        Add(name, metrics.GetProperty("recall@20").GetDouble(), metrics.GetProperty("ndcg@20").GetDouble(), clock.Elapsed.TotalSeconds);
                        Console.WriteLine($"  seed {seed} {name,-28} recall@20 {metrics.GetProperty("recall@20").GetDouble():F4} ndcg@20 {metrics.GetProperty("ndcg@20").GetDouble():F4} ({clock.Elapsed.TotalSeconds:F1} s train + evaluate)");
                        Scalar(connection, "SELECT rec_drop('m')");
                    }
                }
                if (kinds.Contains("numpy"))
                {
                    var trainCsv = Path.Combine(directory.FullName, "train.csv");
                    var testCsv = Path.Combine(directory.FullName, "test.csv");
                    File.WriteAllLines(trainCsv, train.Select(p => $"{p.User},{p.Item}"));
                    File.WriteAllLines(testCsv, test.Select(p => $"{p.User},{p.Item}"));
                    foreach (var (lambda, recall, ndcg, seconds) in NumpyEase(directory.FullName, trainCsv, testCsv, lambdas))
                    {
                        Add($"numpy ease lambda {lambda}", recall, ndcg, seconds);
                        Console.WriteLine($"  seed {seed} {"numpy ease lambda " + lambda,-28} recall@20 {recall:F4} ndcg@20 {ndcg:F4} ({seconds:F1} s)");
                    }
                }
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }

        Console.WriteLine();
        Console.WriteLine($"| model | recall@20 | ndcg@20 | seconds (train + evaluate) |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var (name, runs) in results)
            Console.WriteLine($"| {name} | {Mean(runs.Select(r => r.Recall))} | {Mean(runs.Select(r => r.Ndcg))} | {runs.Average(r => r.Seconds):F1} |");
        return 0;

        void Add(string name, double recall, double ndcg, double seconds)
        {
            if (!results.TryGetValue(name, out var list)) results[name] = list = [];
            list.Add((recall, ndcg, seconds));
        }
    }

    /// <summary>Mean ± standard error over seeds.</summary>
    private static string Mean(IEnumerable<double> values)
    {
        var list = values.ToList();
        var mean = list.Average();
        if (list.Count < 2) return mean.ToString("F4", CultureInfo.InvariantCulture);
        var sd = Math.Sqrt(list.Sum(v => (v - mean) * (v - mean)) / (list.Count - 1));
        return $"{mean.ToString("F4", CultureInfo.InvariantCulture)} ± {(sd / Math.Sqrt(list.Count)).ToString("F4", CultureInfo.InvariantCulture)}";
    }

    private static string Setting(string[] args, string name, string fallback) =>
        args.FirstOrDefault(a => a.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..] ?? fallback;

    /// <summary>(user, item) pairs with rating &gt;= 4 from u.data (tab-separated) or ratings.dat (:: separated), distinct.</summary>
    internal static List<(long User, long Item)>? ReadPositives(string folder)
    {
        var (file, separator) = File.Exists(Path.Combine(folder, "u.data")) ? (Path.Combine(folder, "u.data"), "\t")
            : File.Exists(Path.Combine(folder, "ratings.dat")) ? (Path.Combine(folder, "ratings.dat"), "::") : (null, null);
        if (file is null) return null;
        var pairs = new HashSet<(long, long)>();
        var list = new List<(long, long)>();
        foreach (var line in File.ReadLines(file))
        {
            var parts = line.Split(separator);
            if (parts.Length < 3 || double.Parse(parts[2], CultureInfo.InvariantCulture) < 4) continue;
            var pair = (long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
            if (pairs.Add(pair)) list.Add(pair);
        }
        return list;
    }

    /// <summary>Per user, round(0.2 n) positives held out at random (at least 1, at most n - 1), seeded.</summary>
    internal static (List<(long User, long Item)> Train, List<(long User, long Item)> Test) Split(List<(long User, long Item)> positives, int seed)
    {
        var random = new Random(seed);
        var train = new List<(long, long)>();
        var test = new List<(long, long)>();
        foreach (var user in positives.GroupBy(p => p.User).OrderBy(g => g.Key))
        {
            var items = user.Select(p => p.Item).Order().ToArray();
            random.Shuffle(items);
            var held = items.Length < 2 ? 0 : Math.Clamp((int)Math.Round(0.2 * items.Length, MidpointRounding.AwayFromZero), 1, items.Length - 1);
            for (var i = 0; i < items.Length; i++) (i < held ? test : train).Add((user.Key, items[i]));
        }
        return (train, test);
    }

    private static void Load(SqliteConnection connection, string table, List<(long User, long Item)> pairs)
    {
        Execute(connection, $"CREATE TABLE {table}(user_id INTEGER, item_id INTEGER)");
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.CommandText = $"INSERT INTO {table} VALUES ($u, $i)";
        var u = insert.Parameters.Add("$u", SqliteType.Integer);
        var i = insert.Parameters.Add("$i", SqliteType.Integer);
        foreach (var (user, item) in pairs)
        {
            u.Value = user;
            i.Value = item;
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
        Execute(connection, $"CREATE INDEX {table}_user ON {table}(user_id)");
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    /// <summary>The reference: Steck's EASE in numpy (float64), the same metrics, one line per lambda.</summary>
    private static IEnumerable<(double Lambda, double Recall, double Ndcg, double Seconds)> NumpyEase(string folder, string train, string test, double[] lambdas)
    {
        var script = Path.Combine(folder, "ease.py");
        File.WriteAllText(script, """
            import sys, time, numpy as np
            train = np.loadtxt(sys.argv[1], delimiter=',', dtype=np.int64)
            test = np.loadtxt(sys.argv[2], delimiter=',', dtype=np.int64)
            users, uidx = np.unique(train[:, 0], return_inverse=True)
            items, iidx = np.unique(train[:, 1], return_inverse=True)
            X = np.zeros((len(users), len(items)))
            X[uidx, iidx] = 1.0
            G = X.T @ X
            held = {}
            for u, i in test:
                held.setdefault(int(u), set()).add(int(i))
            upos = {int(u): k for k, u in enumerate(users)}
            discounts = 1.0 / np.log2(np.arange(2, 22))
            for lam in map(float, sys.argv[3].split(',')):
                start = time.time()
                P = np.linalg.inv(G + lam * np.eye(len(items)))
                B = P / (-np.diag(P))
                np.fill_diagonal(B, 0.0)
                S = X @ B
                S[X > 0] = -np.inf
                recall = ndcg = 0.0
                n = 0
                for u, truth in held.items():
                    if u not in upos: continue
                    s = S[upos[u]]
                    top = np.argsort(-s, kind='stable')[:20]
                    hits = np.array([int(items[t]) in truth for t in top])
                    recall += hits.sum() / len(truth)
                    ndcg += (hits * discounts).sum() / discounts[:min(len(truth), 20)].sum()
                    n += 1
                print(f"{lam} {recall / n} {ndcg / n} {time.time() - start}", flush=True)
            """);
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { script, train, test, string.Join(",", lambdas.Select(l => l.ToString(CultureInfo.InvariantCulture))) }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"numpy reference failed (needs python3-numpy): {errors}");
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            yield return (f[0], f[1], f[2], f[3]);
        }
    }
}
