using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// The loadable extension against the .NET library on the Gowalla split, same run, same database
/// file, CPU: the extension as published by <c>dotnet publish native/extension -c Release -r
/// &lt;rid&gt; -o artifacts/extension</c> (NativeAOT), in Debian's system <c>python3</c> and <c>sqlite3</c>
/// shell; the library in this process through Microsoft.Data.Sqlite.
/// <list type="bullet">
/// <item>load time of the extension (<c>load_extension</c> in Python, first call) and file sizes;</item>
/// <item><c>recommend(user, 20, model)</c> p50/p99 over the same 500 random users, one call at a
/// time, warm, for a graph_filter and a LightGCN model trained once by the library (the same
/// stored models serve both);</item>
/// <item><c>rec_train</c> of graph_filter and <c>rec_evaluate</c> of all users, and LightGCN's
/// seconds per epoch (managed SIMD path; under NativeAOT the vector width is fixed when the
/// extension is compiled).</item>
/// </list>
/// Not measured: cold processes beyond the one load; concurrency; a GPU.
/// </summary>
public static class ExtensionBenchmark
{
    private const string LightGcnOptions = "'batch', 131072, 'lr', 0.02, 'epochs', 3, 'seed', 42";

    public static int Run(string[] args)
    {
        var folder = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || args[i - 1] != "--extension")).FirstOrDefault()
            ?? GowallaBenchmark.DefaultFolder();
        var extension = ValueOf(args, "--extension") ?? Path.Combine(RepositoryRoot(), "artifacts", "extension");
        var library = Path.Combine(extension, OperatingSystem.IsMacOS() ? "sqlrec.dylib" : OperatingSystem.IsWindows() ? "sqlrec.dll" : "sqlrec.so");
        if (!File.Exists(library))
        {
            Console.Error.WriteLine($"no extension at '{library}'; build it with: dotnet publish native/extension -c Release -r <rid> -o artifacts/extension");
            return 2;
        }
        if (!File.Exists(Path.Combine(folder, "train.txt")))
        {
            Console.Error.WriteLine($"Gowalla files not found in '{folder}'; pass the folder holding train.txt and test.txt.");
            return 2;
        }
        var python = "/usr/bin/python3";
        var database = Path.Combine(Directory.CreateTempSubdirectory("sqlrec-ext-bench-").FullName, "gowalla.db");
        Console.WriteLine($"{Environment.ProcessorCount} cores; extension {library}");
        foreach (var file in Directory.GetFiles(extension).Where(f => !f.EndsWith(".dbg", StringComparison.Ordinal)).Order())
            Console.WriteLine($"  {Path.GetFileName(file)}: {new FileInfo(file).Length / 1048576.0:F1} MiB");

        // The library: load, train the two served models, time them.
        var shuffled = Enumerable.Range(0, 29_858).ToArray();
        new Random(1).Shuffle(shuffled);
        var users = shuffled[..520];
        var measured = new Dictionary<string, double>();
        using (var connection = new SqliteConnection($"Data Source={database}"))
        {
            connection.Open();
            connection.UseSqlRec();
            GowallaBenchmark.Load(connection, Path.Combine(folder, "train.txt"), "train");
            GowallaBenchmark.Load(connection, Path.Combine(folder, "test.txt"), "test");
            measured["gf build"] = Time(() => GowallaBenchmark.Scalar(connection, "SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train'))"));
            measured["gf evaluate"] = Time(() => GowallaBenchmark.Scalar(connection, "SELECT rec_evaluate('gf', json_object('test','SELECT user_id, item_id FROM test','k',20))"));
            GowallaBenchmark.Scalar(connection, $"SELECT rec_train('lg', json_object('model','lightgcn','source','SELECT user_id, item_id FROM train', {LightGcnOptions}))");
            measured["lg epoch"] = double.Parse((string)GowallaBenchmark.Scalar(connection, "SELECT metrics ->> 'seconds_per_epoch' FROM rec_models WHERE name = 'lg'")!.ToString()!, CultureInfo.InvariantCulture);
            foreach (var model in new[] { "gf", "lg" })
            {
                var (p50, p99, mean) = Latency(connection, model, users);
                measured[$"{model} p50"] = p50;
                measured[$"{model} p99"] = p99;
                measured[$"{model} mean"] = mean;
            }
        }

        // The extension in Python, same file, same users: the build the loader picks on this CPU,
        // and on x86-64 Linux also the portable x86-64-v2 build (SQLREC_CPU), to show what the level is worth.
        var script = Path.Combine(Path.GetDirectoryName(database)!, "bench.py");
        File.WriteAllText(script, PythonScript);
        var levels = File.Exists(Path.Combine(extension, "sqlrec-x86-64-v2.so")) ? new[] { "", "x86-64-v2" } : new[] { "" };
        var runs = new List<JsonElement>();
        foreach (var level in levels)
        {
            var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { script, library, database, string.Join(",", users), LightGcnOptions }) start.ArgumentList.Add(a);
            if (level.Length > 0) start.Environment["SQLREC_CPU"] = level;
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                Console.Error.WriteLine($"python failed ({process.ExitCode}):\n{output.Result}\n{error.Result}");
                return 1;
            }
            runs.Add(JsonDocument.Parse(output.Result.Trim().Split('\n')[^1]).RootElement);
        }
        var shell = ShellMean(library, database, users);

        Console.WriteLine($"extension load (python load_extension, first in the process): {runs[0].GetProperty("load").GetDouble() * 1000:F1} ms");
        Console.WriteLine();
        var header = "| | .NET library |" + string.Concat(runs.Select(r => $" extension ({r.GetProperty("build").GetString()}) in python3 | ratio |"));
        Console.WriteLine(header);
        Console.WriteLine("|---|---|" + string.Concat(runs.Select(_ => "---|---|")));
        void Row(string name, string key, string format) =>
            Console.WriteLine($"| {name} | {measured[key].ToString(format, CultureInfo.InvariantCulture)} |" +
                string.Concat(runs.Select(r => $" {r.GetProperty(key).GetDouble().ToString(format, CultureInfo.InvariantCulture)} | {r.GetProperty(key).GetDouble() / measured[key]:F2}x |")));
        foreach (var model in new[] { "gf", "lg" })
            foreach (var q in new[] { "p50", "p99", "mean" })
                Row($"`recommend()` {(model == "gf" ? "graph_filter" : "lightgcn")} {q} ms", $"{model} {q}", "F3");
        Row("graph_filter build s", "gf build", "F2");
        Row("graph_filter evaluate all users s", "gf evaluate", "F2");
        Row("lightgcn s per epoch (batch 131072)", "lg epoch", "F2");
        Console.WriteLine();
        Console.WriteLine($"sqlite3 shell (`.timer on`, one statement over the {users.Length - 20} users, mean per call): " +
            $"graph_filter {shell["gf mean"]:F3} ms ({shell["gf mean"] / measured["gf mean"]:F2}x), lightgcn {shell["lg mean"]:F3} ms ({shell["lg mean"] / measured["lg mean"]:F2}x)");
        Console.WriteLine("recall@20 of the same split: library " + runs[0].GetProperty("recall library").GetDouble().ToString("F4", CultureInfo.InvariantCulture) +
            string.Concat(runs.Select(r => $", extension ({r.GetProperty("build").GetString()}) {r.GetProperty("recall").GetDouble():F4}")));
        return 0;
    }

    private const string PythonScript = """
        import json, sqlite3, sys, time
        lib, db, users, lgcn = sys.argv[1], sys.argv[2], [int(u) for u in sys.argv[3].split(',')], sys.argv[4]
        out = {}
        c = sqlite3.connect(db)
        c.enable_load_extension(True)
        t = time.perf_counter(); c.load_extension(lib); out['load'] = time.perf_counter() - t
        def latency(model):
            for u in users[:20]: c.execute("SELECT recommend(?, 20, ?)", (u, model)).fetchone()
            times = []
            for u in users[20:]:
                t = time.perf_counter(); c.execute("SELECT recommend(?, 20, ?)", (u, model)).fetchone(); times.append((time.perf_counter() - t) * 1000)
            mean = sum(times) / len(times)
            times.sort()
            return times[len(times) // 2], times[int(len(times) * 0.99)], mean
        out['build'] = next((l.split()[-1].rsplit('/', 1)[-1] for l in open('/proc/self/maps') if 'sqlrec' in l and 'x86-64' in l), lib.rsplit('/', 1)[-1]) if sys.platform.startswith('linux') else lib.rsplit('/', 1)[-1]
        for model in ['gf', 'lg']:
            out[model + ' p50'], out[model + ' p99'], out[model + ' mean'] = latency(model)
        t = time.perf_counter(); c.execute("SELECT rec_train('gf_ext', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train'))").fetchone(); out['gf build'] = time.perf_counter() - t
        t = time.perf_counter(); r = c.execute("SELECT rec_evaluate('gf_ext', json_object('test','SELECT user_id, item_id FROM test','k',20))").fetchone()[0]; out['gf evaluate'] = time.perf_counter() - t
        out['recall'] = json.loads(r)['metrics']['recall@20']
        out['recall library'] = json.loads(c.execute("SELECT rec_evaluate('gf', json_object('test','SELECT user_id, item_id FROM test','k',20))").fetchone()[0])['metrics']['recall@20']
        c.execute("SELECT rec_train('lg_ext', json_object('model','lightgcn','source','SELECT user_id, item_id FROM train', " + lgcn + "))").fetchone()
        out['lg epoch'] = float(c.execute("SELECT metrics ->> 'seconds_per_epoch' FROM rec_models WHERE name = 'lg_ext'").fetchone()[0])
        c.commit(); c.close()
        print(json.dumps(out))
        """;

    /// <summary>
    /// recommend() in the sqlite3 shell: its timer has a resolution of a millisecond, so one
    /// statement calls it for every user and the time is divided by their number (a mean, not a p50).
    /// </summary>
    private static Dictionary<string, double> ShellMean(string library, string database, int[] users)
    {
        var result = new Dictionary<string, double>();
        var measuredUsers = users[20..];
        foreach (var model in new[] { "gf", "lg" })
        {
            var input = new System.Text.StringBuilder($".load '{library}'\n.output /dev/null\n");
            input.Append(CultureInfo.InvariantCulture, $"SELECT count(recommend(value, 20, '{model}')) FROM json_each('[{string.Join(",", users[..20])}]');\n");
            input.Append(".timer on\n");
            input.Append(CultureInfo.InvariantCulture, $"SELECT count(recommend(value, 20, '{model}')) FROM json_each('[{string.Join(",", measuredUsers)}]');\n");
            var start = new ProcessStartInfo("/usr/bin/sqlite3", $"-batch \"{database}\"") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            process.StandardInput.Write(input.ToString());
            process.StandardInput.Close();
            process.WaitForExit();
            // With .output /dev/null the timer line still goes to the terminal stream: stdout.
            var line = (output.Result + error.Result).Split('\n').FirstOrDefault(l => l.StartsWith("Run Time: real ", StringComparison.Ordinal));
            result[$"{model} mean"] = line is null ? double.NaN
                : double.Parse(line["Run Time: real ".Length..].Split(' ')[0], CultureInfo.InvariantCulture) * 1000 / measuredUsers.Length;
        }
        return result;
    }

    private static (double P50, double P99, double Mean) Latency(SqliteConnection connection, string model, int[] users)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT recommend($user, 20, $model)";
        var user = command.Parameters.Add("$user", SqliteType.Integer);
        command.Parameters.AddWithValue("$model", model);
        command.Prepare();
        foreach (var u in users[..20])
        {
            user.Value = u;
            command.ExecuteScalar();
        }
        var times = new List<double>();
        foreach (var u in users[20..])
        {
            user.Value = u;
            var watch = Stopwatch.StartNew();
            command.ExecuteScalar();
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        var mean = times.Average();
        times.Sort();
        return (times[times.Count / 2], times[(int)(times.Count * 0.99)], mean);
    }

    private static double Time(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalSeconds;
    }

    private static string? ValueOf(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory != null && !File.Exists(Path.Combine(directory.FullName, "SqlRec.sln"))) directory = directory.Parent;
        return directory?.FullName ?? Environment.CurrentDirectory;
    }
}
