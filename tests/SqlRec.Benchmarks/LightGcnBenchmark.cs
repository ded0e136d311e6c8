using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SqlRec.Compute;

namespace SqlRec.Benchmarks;

/// <summary>
/// LightGCN's compute figures on the Gowalla split (29,858 users, 40,981 items, 810,128 training
/// pairs), scripted (one process, one run, every figure next to its same-run baseline):
/// <list type="bullet">
/// <item>memory bandwidth of this machine: a multithreaded triad over arrays far larger than the caches (the baseline for propagation);</item>
/// <item>graph build: CSR from the pairs, symmetric normalisation, transpose, E0 and the backend's buffers (the trainer's constructor);</item>
/// <item>propagation alone: one <c>Forward()</c> (L hops of both sparse products and the layer mean), with the bytes it touches and GB/s;</item>
/// <item>one epoch at the paper's settings (dim 64, 3 layers, batch 2048, 1 negative) and at batch 32768;</item>
/// <item>through SQL on an in-memory database: <c>rec_train</c> of a short lightgcn model, <c>recommend(user, 20)</c>
/// p50/p99 for one user at a time (warm), <c>rec_evaluate</c> of all users (full ranking), and scoring all users with one SELECT.</item>
/// </list>
/// Usage: <c>lightgcn [data folder] [--device cpu|ilgpu-cpu|cuda|opencl|auto] [--no-baseline] [--parts bandwidth,build,propagate,relabel,phases,epoch32768,epoch2048,sql]</c>.
/// The baseline is <see cref="PreviousLightGcnTrainer"/>, the managed trainer before the compute backends, run in the same process.
/// Not measured: cold starts (JIT, model load), concurrency between callers, and a GPU unless one is present.
/// </summary>
public static class LightGcnBenchmark
{
    private const int Dim = 64;
    private const int Layers = 3;

    public static int Run(string[] args)
    {
        var folder = GowallaBenchmark.DefaultFolder();
        var parts = new HashSet<string>(["bandwidth", "build", "propagate", "epoch32768", "epoch2048", "sql"]);
        var deviceName = "cpu";
        var baseline = true;
        for (var a = 0; a < args.Length; a++)
        {
            if (args[a] == "--parts") parts = new HashSet<string>(args[++a].Split(','));
            else if (args[a] == "--device") deviceName = args[++a];
            else if (args[a] == "--no-baseline") baseline = false;
            else folder = args[a];
        }
        if (!File.Exists(Path.Combine(folder, "train.txt")))
        {
            Console.Error.WriteLine($"Gowalla files not found in '{folder}'; pass the folder holding train.txt and test.txt.");
            return 2;
        }
        var device = ComputeDevices.Machine.Resolve("bench", deviceName);
        // ILGPU's CPU accelerator is far too slow for whole epochs on Gowalla: it times a few steps and says so.
        var slow = device.Ilgpu is { Kind: IlgpuKind.Cpu };
        Console.WriteLine($"{Environment.ProcessorCount} cores, {(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512" : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2" : "no wide SIMD")}; " +
            $"device '{deviceName}' -> {device.Description}; baseline: the previous managed trainer{(baseline ? "" : " (skipped)")}");

        double bandwidth = double.NaN;
        if (parts.Contains("bandwidth") || parts.Contains("propagate"))
        {
            bandwidth = MemoryBandwidth();
            Console.WriteLine($"memory bandwidth (triad a = b + s c, 3 x 256 MB, all cores, best of 5): {bandwidth:F1} GB/s");
        }

        var (users, items, offsets, columns) = ReadPairs(Path.Combine(folder, "train.txt"));
        Console.WriteLine($"train.txt: {users:N0} users, {items:N0} items, {columns.Length:N0} pairs");

        var build = Stopwatch.StartNew();
        using var trainer = new LightGcnTrainer(users, items, offsets, columns, Dim, Layers, seed: 42, device);
        var buildSeconds = build.Elapsed.TotalSeconds;
        if (parts.Contains("build"))
        {
            var previousBuild = Stopwatch.StartNew();
            _ = new PreviousLightGcnTrainer(users, items, offsets, columns, Dim, Layers, seed: 42);
            Console.WriteLine($"graph build (normalise, transpose, E0, device buffers and kernels): {buildSeconds:F2} s; previous trainer (no backend) {previousBuild.Elapsed.TotalSeconds:F2} s");
        }

        double forwardSeconds = double.NaN;
        if (parts.Contains("propagate"))
        {
            var bytes = PropagationBytes(users, items, columns.Length, Dim, Layers);
            forwardSeconds = slow ? TimeOnce(() => Propagate(trainer)) : Time(() => Propagate(trainer), 10);
            Console.WriteLine($"propagation (F = mean of E0 and {Layers} hops both ways), {(slow ? "one run" : "mean of 10")}: {forwardSeconds * 1000:F1} ms; " +
                $"{bytes / 1e6:F0} MB touched -> {bytes / forwardSeconds / 1e9:F1} GB/s = {bytes / forwardSeconds / 1e9 / bandwidth:F2} x the triad bandwidth");
            if (baseline)
            {
                var previous = new PreviousLightGcnTrainer(users, items, offsets, columns, Dim, Layers, seed: 42);
                var previousSeconds = Time(previous.Forward, 5);
                Console.WriteLine($"  previous trainer: {previousSeconds * 1000:F1} ms ({bytes / previousSeconds / 1e9:F1} GB/s); now {previousSeconds / forwardSeconds:F1}x faster");
            }
        }

        if (parts.Contains("relabel"))
        {
            // Experiment: the same graph with users and items renumbered by descending degree, so the
            // hot rows share pages and cache sets. Alternates the two, three rounds, same process.
            var (relabelledOffsets, relabelledColumns) = RelabelByDegree(users, items, offsets, columns);
            using var relabelled = new LightGcnTrainer(users, items, relabelledOffsets, relabelledColumns, Dim, Layers, seed: 42, device);
            for (var round = 0; round < 3; round++)
            {
                var original = Time(() => Propagate(trainer), 5);
                var sorted = Time(() => Propagate(relabelled), 5);
                Console.WriteLine($"  relabelled by degree: {sorted * 1000:F1} ms against {original * 1000:F1} ms ({original / sorted:F2}x)");
            }
        }

        if (parts.Contains("phases"))
        {
            // Where one training step's time goes, phase by phase (mean of 10 steps after 2 warm-up steps).
            foreach (var batch in new[] { 2048, 32768 })
            {
                using var phased = new LightGcnTrainer(users, items, offsets, columns, Dim, Layers, seed: 42, device);
                var prepared = new BprBatch(users, items, batch, 1);
                var names = new[] { "sample", "prepare", "forward (last hop on the batch)", "BPR + scatter", "backward + L2", "Adam" };
                var seconds = new double[names.Length];
                for (var step = 0; step < 12; step++)
                {
                    var clocks = new double[names.Length];
                    var watch = Stopwatch.StartNew();
                    void Lap(int phase)
                    {
                        (phased.Backend as IlgpuBackend)?.Synchronize();
                        clocks[phase] = watch.Elapsed.TotalSeconds;
                        watch.Restart();
                    }
                    phased.Sample(prepared.Users, prepared.Positives, prepared.Negatives);
                    Lap(0);
                    prepared.Prepare(batch);
                    Lap(1);
                    phased.Backend.ForwardForBatch(prepared);
                    Lap(2);
                    phased.Backend.Bpr(prepared, 1e-4);
                    Lap(3);
                    phased.Backend.Backward(prepared, 1e-4);
                    Lap(4);
                    phased.Backend.Adam(1e-3f, 1f);
                    Lap(5);
                    if (step >= 2) for (var p = 0; p < names.Length; p++) seconds[p] += clocks[p] / 10;
                }
                Console.WriteLine($"step at batch {batch}: total {seconds.Sum() * 1000:F1} ms = " +
                    string.Join(", ", names.Select((n, p) => $"{n} {seconds[p] * 1000:F1}")));
            }
        }

        foreach (var batch in new[] { 32768, 2048 })
        {
            if (!parts.Contains("epoch" + batch)) continue;
            var steps = (columns.Length + batch - 1) / batch;
            using var epochTrainer = new LightGcnTrainer(users, items, offsets, columns, Dim, Layers, seed: 42, device);
            if (slow)
            {
                // One step, extrapolated to the epoch (the loop is the same every step).
                const int few = 1;
                var partial = Stopwatch.StartNew();
                var done = 0;
                try
                {
                    epochTrainer.Epoch(batch, 1, 0.001, 1e-4, (d, _) => { done = d; if (d == few) throw new OperationCanceledException(); });
                }
                catch (OperationCanceledException)
                {
                }
                var perStep = partial.Elapsed.TotalSeconds / done;
                Console.WriteLine($"epoch at batch {batch} ({steps} Adam steps): {done} steps timed, {perStep * 1000:F0} ms per step -> about {perStep * steps:F0} s per epoch (extrapolated)");
                continue;
            }
            var watch = Stopwatch.StartNew();
            var loss = epochTrainer.Epoch(batch, 1, 0.001, 1e-4, null);
            var seconds = watch.Elapsed.TotalSeconds;
            var line = $"epoch at batch {batch} ({steps} Adam steps): {seconds:F2} s ({seconds / steps * 1000:F1} ms per step), loss {loss:F4}";
            if (baseline)
            {
                var previous = new PreviousLightGcnTrainer(users, items, offsets, columns, Dim, Layers, seed: 42);
                var previousWatch = Stopwatch.StartNew();
                var previousLoss = previous.Epoch(batch, 1, 0.001, 1e-4, null);
                var previousSeconds = previousWatch.Elapsed.TotalSeconds;
                line += $"; previous trainer {previousSeconds:F2} s (loss {previousLoss:F4}), now {previousSeconds / seconds:F1}x faster";
            }
            Console.WriteLine(line);
        }

        if (parts.Contains("sql")) Sql(folder, deviceName);
        return 0;
    }

    private static void Propagate(LightGcnTrainer trainer)
    {
        trainer.Backend.Forward();
        (trainer.Backend as IlgpuBackend)?.Synchronize();
    }

    private static double TimeOnce(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>Mean seconds of <paramref name="repeats"/> runs after one warm-up run (JIT, kernel compilation).</summary>
    private static double Time(Action action, int repeats)
    {
        action();
        var watch = Stopwatch.StartNew();
        for (var r = 0; r < repeats; r++) action();
        return watch.Elapsed.TotalSeconds / repeats;
    }

    /// <summary>
    /// Bytes one Forward touches, counted once each: per hop and direction the CSR (offsets,
    /// indices, values), one gathered dense row per non-zero, the output rows written, and the
    /// layer sum read and written; plus E0 read and F written. Gathered rows are counted every
    /// time (most hit the caches, which is why the figure can exceed DRAM bandwidth).
    /// </summary>
    internal static double PropagationBytes(int users, int items, int pairs, int dim, int layers)
    {
        double rowBytes = dim * sizeof(float);
        double perHop = 2.0 * (pairs * 8.0) + (users + items + 2) * 4.0 // CSR both ways
            + 2.0 * pairs * rowBytes                                    // gathered rows
            + (users + items) * rowBytes * 3;                          // output written, sum read and written
        return layers * perHop + 2.0 * (users + items) * rowBytes;
    }

    /// <summary>Best-of-5 triad a[i] = b[i] + s * c[i] over 64M floats per array, split over all cores; bytes = 12 per element.</summary>
    private static double MemoryBandwidth()
    {
        const int n = 64 << 20;
        var a = new float[n];
        var b = new float[n];
        var c = new float[n];
        Array.Fill(b, 1f);
        Array.Fill(c, 2f);
        var best = double.MaxValue;
        var chunk = n / (Environment.ProcessorCount * 4);
        for (var trial = 0; trial < 5; trial++)
        {
            var watch = Stopwatch.StartNew();
            Parallel.For(0, (n + chunk - 1) / chunk, block =>
            {
                var start = block * chunk;
                var length = Math.Min(n, start + chunk) - start;
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(c.AsSpan(start, length), 3f, b.AsSpan(start, length), a.AsSpan(start, length));
            });
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        GC.KeepAlive(a);
        return 12.0 * n / best / 1e9;
    }

    /// <summary>The same bipartite graph with users and items renumbered by descending degree (ties by old index).</summary>
    internal static (int[] Offsets, int[] Columns) RelabelByDegree(int users, int items, int[] offsets, int[] columns)
    {
        var itemDegree = new int[items];
        foreach (var item in columns) itemDegree[item]++;
        var userOrder = Enumerable.Range(0, users).OrderByDescending(u => offsets[u + 1] - offsets[u]).ThenBy(u => u).ToArray();
        var itemOrder = Enumerable.Range(0, items).OrderByDescending(i => itemDegree[i]).ThenBy(i => i).ToArray();
        var newItem = new int[items];
        for (var n = 0; n < items; n++) newItem[itemOrder[n]] = n;
        var newOffsets = new int[users + 1];
        var newColumns = new int[columns.Length];
        for (var n = 0; n < users; n++)
        {
            var u = userOrder[n];
            var row = columns[offsets[u]..offsets[u + 1]].Select(i => newItem[i]).Order().ToArray();
            row.CopyTo(newColumns, newOffsets[n]);
            newOffsets[n + 1] = newOffsets[n] + row.Length;
        }
        return (newOffsets, newColumns);
    }

    internal static (int Users, int Items, int[] Offsets, int[] Columns) ReadPairs(string path)
    {
        var rows = new List<int[]>();
        var maxItem = -1;
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0) continue;
            var user = int.Parse(parts[0], CultureInfo.InvariantCulture);
            while (rows.Count <= user) rows.Add([]);
            var own = parts.Skip(1).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).Distinct().Order().ToArray();
            rows[user] = own;
            if (own.Length > 0) maxItem = Math.Max(maxItem, own[^1]);
        }
        var offsets = new int[rows.Count + 1];
        for (var u = 0; u < rows.Count; u++) offsets[u + 1] = offsets[u] + rows[u].Length;
        var columns = new int[offsets[^1]];
        for (var u = 0; u < rows.Count; u++) rows[u].CopyTo(columns, offsets[u]);
        return (rows.Count, maxItem + 1, offsets, columns);
    }

    /// <summary>Serving and evaluation through SQL on a lightgcn model trained for 2 epochs (latency does not depend on quality).</summary>
    private static void Sql(string folder, string device)
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        connection.UseSqlRec();
        GowallaBenchmark.Load(connection, Path.Combine(folder, "train.txt"), "train");
        GowallaBenchmark.Load(connection, Path.Combine(folder, "test.txt"), "test");
        GowallaBenchmark.Scalar(connection, "SELECT rec_train('popular', json_object('model','popular','source','SELECT user_id, item_id FROM train'))");
        var train = Stopwatch.StartNew();
        GowallaBenchmark.Scalar(connection, $"SELECT rec_train('lgcn', json_object('model','lightgcn','source','SELECT user_id, item_id FROM train', 'batch', 32768, 'lr', 0.01, 'epochs', 2, 'device', '{device}'))");
        Console.WriteLine($"rec_train lightgcn (2 epochs at batch 32768, device '{device}', through SQL): {train.Elapsed.TotalSeconds:F1} s");
        foreach (var model in new[] { "popular", "lgcn" })
        {
            var (p50, p99) = GowallaBenchmark.Latency(connection, model);
            var evaluation = Stopwatch.StartNew();
            var report = JsonDocument.Parse((string)GowallaBenchmark.Scalar(connection,
                $"SELECT rec_evaluate('{model}', json_object('test','SELECT user_id, item_id FROM test','k',json_array(20)))")!).RootElement;
            var evalSeconds = evaluation.Elapsed.TotalSeconds;
            var scoring = Stopwatch.StartNew();
            var scored = GowallaBenchmark.Scalar(connection, $"SELECT count(recommend(user_id, 20, '{model}')) FROM (SELECT DISTINCT user_id FROM train)");
            var scoreSeconds = scoring.Elapsed.TotalSeconds;
            Console.WriteLine($"{model}: recommend(user, 20) p50 {p50:F3} ms, p99 {p99:F3} ms; rec_evaluate all users {evalSeconds:F1} s " +
                $"(recall@20 {report.GetProperty("metrics").GetProperty("recall@20").GetDouble():F4}); scoring all {scored} users with one SELECT {scoreSeconds:F1} s");
        }
    }
}
