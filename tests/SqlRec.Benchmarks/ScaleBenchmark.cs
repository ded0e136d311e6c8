using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// How each kind's cost grows with the data:
/// <c>dotnet run -c Release --project tests/SqlRec.Benchmarks -- scale [sizes=1m,4m,16m] [kinds=popular,graph_filter,ease,lightgcn,freedom] [dir=/tmp/sqlrec-scale] [plots=folder] [steps=train,first,warm,eval] [skip=kind@size,...]</c>;
/// <c>scale kernels [size=4m] [width=288]</c> times the randomized SVD's dense kernels alone.
/// Data: <see cref="ScaleData"/> (Gowalla-fitted power laws; 1m = 30k users and 41k items, growing in
/// proportion to 16m = 500k users and 650k items), generated once per size into <c>dir</c>. For each
/// kind, a copy of the data file is trained in a child process, and every figure comes from a fresh
/// child process so peaks are the process's own (VmHWM, the peak resident set, from /proc/self/status;
/// the children run with a 10 GiB managed-heap limit):
/// <list type="bullet">
/// <item>build: wall time of <c>rec_train</c> (source read, build, writing the version) and the peak;</item>
/// <item>database: file size before and after the training (the model's share);</item>
/// <item>first answer: a new process opens the file and calls <c>recommend()</c> once - time from opening
/// the connection to the answer, and that process's peak - as SqlRec does it by default (a graph_filter
/// version pages in what the user needs, <c>SqlRecOptions.PagedServing</c>), then the p50 of that
/// process's next 20 calls (still paged for graph_filter); and, in another new process with paging
/// off, the first answer through a whole load of the version and its peak;</item>
/// <item>warm: <c>recommend(u, 20)</c> for 300 random users one at a time after the first, p50/p99, on
/// the version loaded whole (paging off);</item>
/// <item>evaluation: <c>rec_evaluate</c> against the 10,000 sampled users' held-out items (full ranking, @20).</item>
/// </list>
/// lightgcn (batch = interactions / 16, at most 1,000,000: each step propagates the whole graph) and freedom train 1 epoch and report the model's <c>seconds_per_epoch</c> (their build
/// column is the whole call); freedom's item vectors are generated (64 floats per item, around 256
/// random centres). ease is refused above its memory estimate, and the message is shown. Growth
/// exponents are log(cost ratio) / log(interaction ratio) between consecutive sizes, printed beside the
/// ideal. Not measured: the OS page cache going cold (the file was just written), concurrency, GPUs.
/// </summary>
public static class ScaleBenchmark
{
    private const string Source = "SELECT user_id, item_id FROM interactions";

    private static readonly string[] AllKinds = ["popular", "graph_filter", "ease", "lightgcn", "freedom"];

    private sealed record Result(string Size, long Rows, int Users, int Items, string Kind)
    {
        public double? BuildSeconds, BuildCpuSeconds, FirstCpuMs, BuildPeakMiB, DataMiB, ModelMiB, FirstMs, FirstPeakMiB, P50Ms, P99Ms, EvalSeconds, EpochSeconds, Recall;
        public double? NextP50Ms, WholeFirstMs, WholeFirstPeakMiB;
        public string? Refused;
    }

    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "child") return Child(args[1..]);
        if (args.Length > 0 && args[0] == "kernels") return Kernels(args[1..]);
        var sizes = Argument(args, "sizes", "1m,4m,16m").Split(',');
        var kinds = Argument(args, "kinds", string.Join(',', AllKinds)).Split(',');
        var folder = Argument(args, "dir", Path.Combine(Path.GetTempPath(), "sqlrec-scale"));
        var plots = Argument(args, "plots", folder);
        // steps=train skips the first answer, the warm calls and the evaluation (a quick look at builds); steps=train,first,warm skips the evaluation.
        var steps = Argument(args, "steps", "train,first,warm,eval").Split(',');
        // skip=freedom@4m,freedom@16m leaves out a kind at the sizes that do not fit the time at hand.
        var skip = Argument(args, "skip", "").Split(',');
        Directory.CreateDirectory(folder);
        Console.WriteLine($"scale benchmark: {Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB; data in {folder}");
        var results = new List<Result>();
        foreach (var size in sizes)
        {
            // Other work on the machine shows in the wall times; the CPU columns are this process's own.
            Console.WriteLine($"{size}: load average {File.ReadAllText("/proc/loadavg").Trim()}");
            var (rows, users, items) = ScaleData.Size(size);
            var data = Path.Combine(folder, $"data-{size}.db");
            if (!File.Exists(data))
            {
                var clock = Stopwatch.StartNew();
                var (train, test) = ScaleData.Create(data + ".part", rows, users, items);
                File.Move(data + ".part", data);
                Console.WriteLine($"{size}: generated {train:N0} training and {test:N0} test rows ({users:N0} users, {items:N0} items) in {clock.Elapsed.TotalSeconds:F0} s, {MiB(data):F0} MiB");
            }
            foreach (var kind in kinds.Where(k => !skip.Contains($"{k}@{size}")))
            {
                var result = new Result(size, rows, users, items, kind) { DataMiB = MiB(data) };
                results.Add(result);
                var db = Path.Combine(folder, $"{kind}-{size}.db");
                File.Copy(data, db, overwrite: true);
                try
                {
                    var train = RunChild("train", db, kind, rows);
                    if (train.TryGetValue("refused", out var refused))
                    {
                        result.Refused = refused.GetString();
                        Console.WriteLine($"{size} {kind}: refused: {result.Refused}");
                        continue;
                    }
                    result.BuildSeconds = train["seconds"].GetDouble();
                    result.BuildCpuSeconds = train["cpu_seconds"].GetDouble();
                    result.BuildPeakMiB = train["peak_mib"].GetDouble();
                    Console.WriteLine($"{size} {kind}: build stages start at (s): {train["stages"].GetString()}");
                    if (train.TryGetValue("seconds_per_epoch", out var epoch)) result.EpochSeconds = epoch.GetDouble();
                    result.ModelMiB = MiB(db) - result.DataMiB;
                    if (!steps.Contains("first"))
                    {
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{size} {kind}: build {result.BuildSeconds:F1} s ({result.BuildCpuSeconds:F1} s CPU), peak {result.BuildPeakMiB:F0} MiB, model {result.ModelMiB:F0} MiB"));
                        continue;
                    }
                    var first = RunChild("first", db, kind);
                    result.FirstMs = first["ms"].GetDouble();
                    result.FirstCpuMs = first["cpu_ms"].GetDouble();
                    result.FirstPeakMiB = first["peak_mib"].GetDouble();
                    result.NextP50Ms = first["next_p50_ms"].GetDouble();
                    var whole = RunChild("firstwhole", db, kind);
                    result.WholeFirstMs = whole["ms"].GetDouble();
                    result.WholeFirstPeakMiB = whole["peak_mib"].GetDouble();
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{size} {kind}: first answer {result.FirstMs:F0} ms ({result.FirstPeakMiB:F0} MiB), next 20 calls p50 {result.NextP50Ms:F1} ms; through a whole load {result.WholeFirstMs:F0} ms ({result.WholeFirstPeakMiB:F0} MiB)"));
                    if (!steps.Contains("warm")) continue;
                    var serve = RunChild(steps.Contains("eval") ? "serve" : "warm", db, kind);
                    result.P50Ms = serve["p50_ms"].GetDouble();
                    result.P99Ms = serve["p99_ms"].GetDouble();
                    if (serve.TryGetValue("eval_seconds", out var evaluation))
                    {
                        result.EvalSeconds = evaluation.GetDouble();
                        result.Recall = serve["recall"].GetDouble();
                    }
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{size} {kind}: build {result.BuildSeconds:F1} s ({result.BuildCpuSeconds:F1} s CPU), peak {result.BuildPeakMiB:F0} MiB, model {result.ModelMiB:F0} MiB, first answer {result.FirstMs:F0} ms ({result.FirstCpuMs:F0} ms CPU, {result.FirstPeakMiB:F0} MiB), warm p50 {result.P50Ms:F2} ms p99 {result.P99Ms:F2} ms, evaluation {F(result.EvalSeconds, "F1")} s (recall@20 {F(result.Recall, "F4")})"));
                }
                catch (InvalidOperationException failed)
                {
                    result.Refused = failed.Message;
                    Console.WriteLine($"{size} {kind}: failed: {failed.Message}");
                }
                finally
                {
                    File.Delete(db);
                    File.Delete(db + "-wal");
                    File.Delete(db + "-shm");
                }
            }
        }
        Print(results);
        WriteCsvAndPlots(results, folder, plots);
        return 0;
    }

    private static string Argument(string[] args, string name, string fallback) =>
        args.FirstOrDefault(a => a.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..] ?? fallback;

    private static double MiB(string path) =>
        new[] { path, path + "-wal" }.Where(File.Exists).Sum(p => new FileInfo(p).Length) / (1024.0 * 1024);

    /// <summary>Runs one step in a fresh process (this program, <c>scale child ...</c>) and reads the JSON line it prints last.</summary>
    private static Dictionary<string, JsonElement> RunChild(string step, string db, string kind, long rows = 0)
    {
        var host = Environment.ProcessPath!;
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") start.ArgumentList.Add(typeof(ScaleBenchmark).Assembly.Location);
        foreach (var a in new[] { "scale", "child", step, db, kind, rows.ToString(CultureInfo.InvariantCulture) }) start.ArgumentList.Add(a);
        // A hard limit on the managed heap: a child that would pass 10 GiB fails instead of taking the machine.
        start.Environment["DOTNET_GCHeapHardLimit"] = "0x280000000";
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{'));
        if (process.ExitCode != 0 || last is null)
            throw new InvalidOperationException($"{step} exited with {process.ExitCode}: {Tail(errors.Result + output)}");
        return JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(last)!;
    }

    private static string Tail(string text) => text.Length > 600 ? text[^600..].ReplaceLineEndings(" ") : text.ReplaceLineEndings(" ");

    /// <summary>LightGCN's batch at a size: about 16 steps an epoch, at most the option's limit of 1,000,000.</summary>
    private static long Batch(long rows) => Math.Min(1_000_000, Math.Max(2048, rows / 16));

    private static string Options(string kind, long rows) => kind switch
    {
        // Each LightGCN step propagates the whole graph (as the official code does), so at a fixed batch an
        // epoch costs nnz^2 / batch; the batch grows with the data (about 16 steps an epoch) so an epoch is O(nnz).
        "lightgcn" => $"json_object('model','lightgcn','source','{Source}','epochs',1,'batch',{Batch(rows)},'lr',0.01,'device','cpu')",
        "freedom" => $"json_object('model','freedom','source','{Source}','epochs',1,'device','cpu','modalities',json_array('SELECT item_id, v FROM item_vectors'))",
        // The linear filter alone: no singular vectors, so recommend() costs what the user's row reaches, not items x components.
        "graph_filter_linear" => $"json_object('model','graph_filter','source','{Source}','components',0)",
        _ => $"json_object('model','{kind}','source','{Source}')",
    };

    /// <summary>The child's steps; each prints one JSON line with its figures and its peak resident set.</summary>
    private static int Child(string[] args)
    {
        var (step, path, kind) = (args[0], args[1], args[2]);
        var figures = new Dictionary<string, object>();
        var clock = Stopwatch.StartNew();
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        // The first answer as SqlRec gives it by default (paged where the kind can); every other step on the version loaded whole.
        var paged = step == "first";
        // Where a build's time goes: the seconds at which each stage (reading, training, saving) starts, printed to stderr.
        var stages = new List<string>();
        var stage = "";
        connection.UseSqlRec(new SqlRecOptions
        {
            PagedServing = paged,
            Progress = p =>
            {
                // Each step of a training stage counts (the graph filter's SVD reports 2 x power iterations + 3 steps), up to 40.
                var label = p.Stage == "training" && p.Total is { } total ? $"training {p.Done}/{total}" : p.Stage;
                if (label == stage || stages.Count >= 40) return;
                stage = label;
                stages.Add(string.Create(CultureInfo.InvariantCulture, $"{label} {clock.Elapsed.TotalSeconds:F1}"));
            },
        });
        switch (step)
        {
            case "train":
                if (kind == "freedom") ItemVectors(connection);
                clock.Restart();
                var trainCpu = Process.GetCurrentProcess().TotalProcessorTime;
                try
                {
                    Scalar(connection, $"SELECT rec_train('{kind}', {Options(kind, long.Parse(args[3], CultureInfo.InvariantCulture))})");
                }
                catch (SqliteException refused) when (kind == "ease")
                {
                    figures["refused"] = refused.Message;
                    break;
                }
                figures["seconds"] = clock.Elapsed.TotalSeconds;
                figures["cpu_seconds"] = (Process.GetCurrentProcess().TotalProcessorTime - trainCpu).TotalSeconds;
                figures["stages"] = string.Join(", ", stages);
                var metrics = JsonDocument.Parse((string)Scalar(connection, $"SELECT metrics FROM rec_models WHERE name = '{kind}'")!).RootElement;
                if (metrics.TryGetProperty("seconds_per_epoch", out var epoch)) figures["seconds_per_epoch"] = epoch.GetDouble();
                break;
            case "first":
            case "firstwhole":
            {
                // The connection is open; the first call reads the version from the file (what the user needs, or all of it).
                var users = Users(connection, "SELECT DISTINCT user_id FROM interactions LIMIT 21");
                clock.Restart();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                Scalar(connection, $"SELECT recommend({users[0]}, 20, '{kind}')");
                figures["ms"] = clock.Elapsed.TotalMilliseconds;
                figures["cpu_ms"] = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
                figures["peak_mib"] = PeakResidentMiB();
                if (step == "firstwhole") break;
                var times = Timed(connection, kind, users.Skip(1));
                figures["next_p50_ms"] = times[times.Count / 2];
                Console.WriteLine(JsonSerializer.Serialize(figures));
                return 0;
            }
            case "serve":
            case "warm":
            {
                var users = Users(connection, "SELECT DISTINCT user_id FROM interactions ORDER BY random() LIMIT 301");
                Scalar(connection, $"SELECT recommend({users[0]}, 20, '{kind}')");
                var times = Timed(connection, kind, users.Skip(1));
                figures["p50_ms"] = times[times.Count / 2];
                figures["p99_ms"] = times[(int)(times.Count * 0.99)];
                if (step == "warm") break;
                clock.Restart();
                var report = (string)Scalar(connection, $"SELECT rec_evaluate('{kind}', json_object('test', 'SELECT user_id, item_id FROM test', 'k', 20))")!;
                figures["eval_seconds"] = clock.Elapsed.TotalSeconds;
                figures["recall"] = JsonDocument.Parse(report).RootElement.GetProperty("metrics").GetProperty("recall@20").GetDouble();
                break;
            }
            default:
                throw new ArgumentException($"unknown step '{step}'");
        }
        figures["peak_mib"] = PeakResidentMiB();
        Console.WriteLine(JsonSerializer.Serialize(figures));
        return 0;
    }

    private static List<long> Users(SqliteConnection connection, string sql)
    {
        var users = new List<long>();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        while (reader.Read()) users.Add(reader.GetInt64(0));
        return users;
    }

    /// <summary>Each user's <c>recommend(u, 20)</c> wall time in ms, sorted.</summary>
    private static List<double> Timed(SqliteConnection connection, string kind, IEnumerable<long> users)
    {
        var times = new List<double>();
        var clock = new Stopwatch();
        foreach (var user in users)
        {
            clock.Restart();
            Scalar(connection, $"SELECT recommend({user}, 20, '{kind}')");
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times;
    }

    /// <summary>
    /// The randomized SVD's kernels alone at one size (<c>scale kernels [size=4m] [width=288]</c>): on the
    /// item side's n x width block, the Gram matrix, the multiplication by a width x width matrix, and a
    /// whole orthonormalisation; and one sparse product with generated rows of the size's density.
    /// </summary>
    private static int Kernels(string[] args)
    {
        var (rows, users, items) = ScaleData.Size(Argument(args, "size", "4m"));
        var width = int.Parse(Argument(args, "width", "288"), CultureInfo.InvariantCulture);
        var y = new float[(long)items * width];
        Compute.DenseMath.FillGaussian(y, 1);
        var small = new float[width * width];
        Compute.DenseMath.FillGaussian(small, 2);
        var output = new float[y.Length];
        Time("Gram", () => Compute.DenseMath.Gram(y, items, width));
        Time("MultiplyRight", () => Compute.DenseMath.MultiplyRight(y, items, width, small, width, output));
        Time("Orthonormalize", () => Compute.DenseMath.Orthonormalize(y, items, width));
        var perUser = (int)(rows / users);
        var random = new Random(3);
        var offsets = new int[users + 1];
        var indices = new int[(long)users * perUser];
        for (var u = 0; u < users; u++)
        {
            offsets[u + 1] = (u + 1) * perUser;
            for (var p = 0; p < perUser; p++) indices[u * perUser + p] = random.Next(items);
        }
        var matrix = new Compute.SparseMatrix(users, items, offsets, indices, Enumerable.Repeat(1f, indices.Length).ToArray());
        var product = new float[(long)users * width];
        Time("MultiplyDense (users x items)", () => matrix.MultiplyDense(y, width, product));
        return 0;

        void Time(string what, Action action)
        {
            var clock = Stopwatch.StartNew();
            action();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {clock.Elapsed.TotalSeconds:F2} s ({items:N0} x {width})"));
        }
    }

    /// <summary>Item vectors for freedom: 64 floats per item around one of 256 random centres (items sharing a centre look alike).</summary>
    private static void ItemVectors(SqliteConnection connection)
    {
        const int dim = 64, centres = 256;
        var random = new Random(11);
        var centre = new float[centres * dim];
        for (var i = 0; i < centre.Length; i++) centre[i] = (float)(random.NextDouble() * 2 - 1);
        Scalar(connection, "CREATE TABLE item_vectors(item_id INTEGER PRIMARY KEY, v BLOB)");
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        var items = new List<long>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT DISTINCT item_id FROM interactions";
            using var reader = command.ExecuteReader();
            while (reader.Read()) items.Add(reader.GetInt64(0));
        }
        insert.CommandText = "INSERT INTO item_vectors VALUES ($i, $v)";
        var id = insert.Parameters.Add("$i", SqliteType.Integer);
        var vector = insert.Parameters.Add("$v", SqliteType.Blob);
        var values = new float[dim];
        foreach (var item in items)
        {
            var c = random.Next(centres);
            for (var d = 0; d < dim; d++) values[d] = centre[c * dim + d] + (float)(random.NextDouble() - 0.5);
            id.Value = item;
            vector.Value = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    private static double PeakResidentMiB()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return double.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
        }
        return double.NaN;
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    /// <summary>The ideal growth of each figure in the number of interactions (items and users grow in proportion to it).</summary>
    private static readonly (string Figure, Func<Result, double?> Value, Func<string, string> Ideal)[] Figures =
    [
        ("build s", r => r.BuildSeconds, kind => kind switch
        {
            "popular" => "1 (O(nnz))",
            "graph_filter" => "1 (O(nnz x c + items x c^2))",
            "graph_filter_linear" => "1 (O(nnz))",
            "lightgcn" or "freedom" => "1 (O(nnz x dim) per epoch)",
            _ => "2 (O(items^2))",
        }),
        ("build CPU s", r => r.BuildCpuSeconds, kind => kind switch
        {
            "popular" => "1 (O(nnz))",
            "graph_filter" => "1 (O(nnz x c + items x c^2))",
            "graph_filter_linear" => "1 (O(nnz))",
            _ => "1 (O(nnz x dim) per epoch)",
        }),
        ("s per epoch", r => r.EpochSeconds, _ => "1 (O(nnz x dim))"),
        ("build peak MiB", r => r.BuildPeakMiB, kind => kind == "graph_filter" ? "1 (O(nnz + (users + items) x c))" : kind == "lightgcn" || kind == "freedom" ? "1 (O(nnz + (users + items) x dim))" : "1 (O(nnz))"),
        ("model MiB", r => r.ModelMiB, kind => kind == "graph_filter" ? "1 (O(nnz + items x c))" : kind == "lightgcn" || kind == "freedom" ? "1 (O(nnz + (users + items) x dim))" : "1 (O(nnz + users + items))"),
        ("first answer ms", r => r.FirstMs, kind => kind switch
        {
            "popular" => "1 as built (id maps + seen items: O(nnz)); 0 if paged",
            "graph_filter" => "below 1 (paged: the rows the user's two hops reach, per-item lengths O(items), a few hundred vector rows)",
            "graph_filter_linear" => "below 1 (paged: the rows the user's two hops reach, offsets O(users + items))",
            _ => "1 (O(nnz + (users + items) x dim))",
        }),
        ("first answer CPU ms", r => r.FirstCpuMs, kind => kind switch
        {
            "popular" => "1 as built (O(nnz)); 0 if paged",
            "graph_filter" => "below 1 (paged, as the wall time)",
            "graph_filter_linear" => "below 1 (paged, as the wall time)",
            _ => "1 (O(nnz + (users + items) x dim))",
        }),
        ("first answer peak MiB", r => r.FirstPeakMiB, kind => kind == "popular" ? "1 as built (O(nnz)); 0 if paged" : kind is "graph_filter" or "graph_filter_linear" ? "below 1 (paged: O(users + items) offsets and lengths)" : "1 (the whole model)"),
        ("first answer, whole load ms", r => r.WholeFirstMs, kind => kind == "graph_filter" ? "1 (the live filter needs R and every item row: O(nnz + items x c))" : "1 (the whole model)"),
        ("recommend p50 ms", r => r.P50Ms, kind => kind switch
        {
            "popular" => "0 (O(k))",
            "graph_filter" => "0-1 (O(items) floats of bound, the row's reach, int8 rows of the bound's survivors)",
            "graph_filter_linear" => "1-2 (the row's reach: its items' users' items)",
            _ => "1 (O(items x dim))",
        }),
        ("evaluation s", r => r.EvalSeconds, kind => kind == "popular" ? "0 (O(10k users x k))" : "1 (O(10k users x items x c))"),
    ];

    private static void Print(List<Result> results)
    {
        var table = new StringBuilder();
        table.AppendLine();
        table.AppendLine("| size | users | items | kind | build s | build CPU s | s/epoch | build peak MiB | data MiB | model MiB | first answer ms | first answer CPU ms | first answer peak MiB | next 20 calls p50 ms | first answer, whole load ms | whole load peak MiB | recommend p50 ms | p99 ms | eval 10k users s | recall@20 |");
        table.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            if (r.Refused is not null)
            {
                table.AppendLine(CultureInfo.InvariantCulture, $"| {r.Size} | {r.Users:N0} | {r.Items:N0} | {r.Kind} | refused: {r.Refused} |||||||||||||||| ");
                continue;
            }
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Size} | {r.Users:N0} | {r.Items:N0} | {r.Kind} | {r.BuildSeconds:F1} | {r.BuildCpuSeconds:F1} | {F(r.EpochSeconds, "F1")} | {r.BuildPeakMiB:F0} | {r.DataMiB:F0} | {r.ModelMiB:F0} | {r.FirstMs:F0} | {r.FirstCpuMs:F0} | {r.FirstPeakMiB:F0} | {F(r.NextP50Ms, "F1")} | {F(r.WholeFirstMs, "F0")} | {F(r.WholeFirstPeakMiB, "F0")} | {F(r.P50Ms, "F2")} | {F(r.P99Ms, "F2")} | {F(r.EvalSeconds, "F1")} | {F(r.Recall, "F4")} |"));
        }
        table.AppendLine();
        table.AppendLine("Growth exponents, log(cost ratio) / log(interaction ratio), between consecutive sizes:");
        table.AppendLine();
        table.AppendLine("| kind | figure | sizes | exponent | ideal |");
        table.AppendLine("|---|---|---|---|---|");
        foreach (var group in results.Where(r => r.Refused is null).GroupBy(r => r.Kind))
        {
            var runs = group.OrderBy(r => r.Rows).ToList();
            foreach (var (figure, value, ideal) in Figures)
            {
                for (var i = 1; i < runs.Count; i++)
                {
                    if (value(runs[i - 1]) is not { } a || value(runs[i]) is not { } b || a <= 0 || b <= 0) continue;
                    var exponent = Math.Log(b / a) / Math.Log((double)runs[i].Rows / runs[i - 1].Rows);
                    table.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key} | {figure} | {runs[i - 1].Size} -> {runs[i].Size} | {exponent:F2} | {ideal(group.Key)} |");
                }
            }
        }
        Console.WriteLine(table);
    }

    private static string F(double? value, string format) => value?.ToString(format, CultureInfo.InvariantCulture) ?? "";

    /// <summary>Writes scale.csv and, with /usr/bin/python3 and matplotlib, scale-time.png and scale-memory.png (log-log against interactions).</summary>
    private static void WriteCsvAndPlots(List<Result> results, string folder, string plots)
    {
        var csv = Path.Combine(folder, "scale.csv");
        var lines = new List<string> { "size,rows,users,items,kind,build_s,build_cpu_s,epoch_s,build_peak_mib,model_mib,first_ms,first_cpu_ms,first_peak_mib,p50_ms,p99_ms,eval_s,next_p50_ms,whole_first_ms,whole_first_peak_mib" };
        foreach (var r in results.Where(r => r.Refused is null))
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{r.Size},{r.Rows},{r.Users},{r.Items},{r.Kind},{r.BuildSeconds},{r.BuildCpuSeconds},{r.EpochSeconds},{r.BuildPeakMiB},{r.ModelMiB},{r.FirstMs},{r.FirstCpuMs},{r.FirstPeakMiB},{r.P50Ms},{r.P99Ms},{r.EvalSeconds},{r.NextP50Ms},{r.WholeFirstMs},{r.WholeFirstPeakMiB}"));
        }
        File.WriteAllLines(csv, lines);
        Console.WriteLine($"figures: {csv}");
        const string python = "/usr/bin/python3";
        if (!File.Exists(python))
        {
            Console.WriteLine("no plots: /usr/bin/python3 is missing");
            return;
        }
        Directory.CreateDirectory(plots);
        var script = Path.Combine(folder, "scale_plots.py");
        File.WriteAllText(script, PlotScript);
        var start = new ProcessStartInfo(python) { UseShellExecute = false, RedirectStandardError = true };
        foreach (var a in new[] { script, csv, plots }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Console.WriteLine(process.ExitCode == 0
            ? $"plots: {Path.Combine(plots, "scale-time.png")}, {Path.Combine(plots, "scale-memory.png")}"
            : $"no plots (apt-get install -y python3-matplotlib): {Tail(errors)}");
    }

    private const string PlotScript = """
        import csv, sys, os
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        rows = list(csv.DictReader(open(sys.argv[1])))
        out = sys.argv[2]
        kinds = sorted({r["kind"] for r in rows})
        # One colour per kind in every panel (a kind missing from a panel must not shift the others).
        colours = dict(zip(kinds, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
        def plot(name, panels):
            fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
            for ax, (column, title) in zip(axes, panels):
                for kind in kinds:
                    pts = [(int(r["rows"]), float(r[column])) for r in rows if r["kind"] == kind and r.get(column) not in (None, "", "None")]
                    if pts:
                        xs, ys = zip(*sorted(pts))
                        ax.plot(xs, ys, marker="o", label=kind, color=colours[kind])
                if rows:
                    xs = sorted({int(r["rows"]) for r in rows})
                    ax.plot(xs, [x / xs[0] for x in xs], linestyle=":", color="grey", label="slope 1 (from 1)")
                ax.set_xscale("log"); ax.set_yscale("log"); ax.set_xlabel("interactions"); ax.set_title(title); ax.grid(True, which="both", alpha=0.3)
            axes[0].legend(fontsize=8)
            fig.tight_layout()
            fig.savefig(os.path.join(out, name), dpi=90)
        plot("scale-time.png", [("build_cpu_s", "build CPU s"), ("first_cpu_ms", "first recommend() CPU ms, fresh process (paged where it can)"), ("whole_first_ms", "first recommend() ms through a whole load"), ("p50_ms", "recommend() p50 ms, warm"), ("eval_s", "evaluation of 10k users s")])
        plot("scale-memory.png", [("build_peak_mib", "build peak RSS MiB"), ("first_peak_mib", "first recommend() peak RSS MiB (paged where it can)"), ("whole_first_peak_mib", "first recommend() peak RSS MiB, whole load"), ("model_mib", "database growth MiB")])
        """;
}
