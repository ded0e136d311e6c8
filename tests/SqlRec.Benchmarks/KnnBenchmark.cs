using System.Diagnostics;
using System.Globalization;
using SqlRec.Compute;

namespace SqlRec.Benchmarks;

/// <summary>
/// FREEDOM's item-item kNN graph, exact against approximate, on generated clustered vectors of a
/// sentence model's width (384): build time of each (the approximate one's index, k-means and
/// each row's probed lists, separately), the share of pairs the approximate search scores and its
/// recall of the exact neighbours, for growing catalogues. This is what <see cref="ItemKnnGraph.ExactLimit"/>
/// (the catalogue size up to which <c>knn</c> 'auto' stays exact) is read from. CPU, one process,
/// warm (a small run first); it does not measure real embeddings, whose clusters are less clean.
/// </summary>
public static class KnnBenchmark
{
    /// <summary>
    /// Runs it; arguments: item counts (default 5000 15000 30000 60000), and <c>--noise x</c> to
    /// scale the noise around the centres (default 1; larger makes the clusters overlap more).
    /// </summary>
    public static int Run(string[] args)
    {
        var noise = 1.0;
        var at = Array.IndexOf(args, "--noise");
        if (at >= 0)
        {
            noise = double.Parse(args[at + 1], CultureInfo.InvariantCulture);
            args = [.. args[..at], .. args[(at + 2)..]];
        }
        if (args.Length > 0 && args[0] == "--gowalla") return RunGowalla(args.Length > 1 ? args[1] : GowallaBenchmark.DefaultFolder());
        if (args.Length > 0 && args[0] == "--ml100k") return RunMovieLens(args.Length > 1 ? args[1] : SharedData.PathOf("ml-100k"));
        var sizes = args.Length > 0 ? args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [5000, 15000, 30000, 60000];
        const int dim = 384, k = 10;
        Measure(Vectors(2000, dim, 1, noise), 2000, dim, k); // JIT and thread pool warm-up
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"kNN graph, k {k}, {dim} dimensions, clustered random vectors (noise x{noise}), {Environment.ProcessorCount} cores"));
        Console.WriteLine();
        Console.WriteLine("| items | exact s | approximate s | of which index and calibration s | probes (estimated recall) | exact / approximate | pairs scored | approximate recall@10 of the exact neighbours |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var n in sizes)
        {
            // Small catalogues take milliseconds: the median of several runs (each exact, then approximate).
            var vectors = Vectors(n, dim, n, noise);
            var runs = Enumerable.Range(0, Math.Clamp(20_000 / n, 1, 9)).Select(_ => Measure(vectors, n, dim, k)).ToArray();
            double Median(Func<(double Exact, double Approximate, double Index, double Pairs, double Recall), double> of) =>
                runs.Select(of).Order().ElementAt(runs.Length / 2);
            var (exact, approximate, index) = (Median(r => r.Exact), Median(r => r.Approximate), Median(r => r.Index));
            var (_, _, _, pairs, recall) = runs[0];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {n:N0} | {exact:F3} | {approximate:F3} | {index:F3} | {Probes()} | {exact / approximate:F1}x | {pairs:P1} | {recall:F4} |"));
        }
        return 0;
    }

    /// <summary>
    /// The same comparison on real item vectors: the 40,981 Gowalla items' spectral embeddings (the
    /// top 64 singular vectors of the normalised training graph, LightGCN's spectral start), whose
    /// neighbourhoods are those of a real catalogue rather than generated clusters.
    /// </summary>
    private static int RunGowalla(string folder)
    {
        var path = Path.Combine(folder, "train.txt");
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"Gowalla train.txt not found in '{folder}'.");
            return 2;
        }
        var rows = File.ReadLines(path).Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray())
            .Where(parts => parts.Length > 1).ToList();
        var users = rows.Max(r => r[0]) + 1;
        var items = rows.Max(r => r[1..].Max()) + 1;
        var byUser = new int[users][];
        foreach (var r in rows) byUser[r[0]] = [.. r[1..].Distinct().Order()];
        var offsets = new int[users + 1];
        for (var u = 0; u < users; u++) offsets[u + 1] = offsets[u] + (byUser[u]?.Length ?? 0);
        var columns = byUser.SelectMany(r => r ?? []).ToArray();
        var graph = new SparseMatrix(users, items, offsets, columns, Enumerable.Repeat(1f, columns.Length).ToArray()).NormalizeSymmetric();
        const int dim = 64, k = 10;
        var (userVectors, itemVectors) = (new float[users * dim], new float[items * dim]);
        SpectralInit.Fill(graph, graph.Transpose(), dim, seed: 1, rms: 0.1f, userVectors, itemVectors);
        Measure(Vectors(2000, dim, 1, 1), 2000, dim, k); // warm-up
        var (exact, approximate, index, pairs, recall) = Measure(itemVectors, items, dim, k);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"kNN graph, k {k}, Gowalla's {items:N0} items, {dim}-dimensional spectral embeddings, {Environment.ProcessorCount} cores"));
        Console.WriteLine();
        Console.WriteLine("| items | exact s | approximate s | of which index and calibration s | probes (estimated recall) | exact / approximate | pairs scored | approximate recall@10 of the exact neighbours |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {items:N0} | {exact:F3} | {approximate:F3} | {index:F3} | {Probes()} | {exact / approximate:F1}x | {pairs:P1} | {recall:F4} |"));
        return 0;
    }

    /// <summary>
    /// The same comparison on real text vectors at FREEDOM's own scale: ML-100K's 1,682 titles and
    /// genres through the built-in <c>hash</c> embedder (512 dimensions), the benchmark's item text,
    /// with the approximate search forced (<c>knn</c> 'auto' keeps this catalogue exact).
    /// </summary>
    private static int RunMovieLens(string folder)
    {
        var path = Path.Combine(folder, "u.item");
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"MovieLens u.item not found in '{folder}'.");
            return 2;
        }
        string[] genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
            "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"];
        var texts = File.ReadLines(path, System.Text.Encoding.Latin1).Select(line => line.Split('|')).Where(f => f.Length >= 24)
            .Select(f => f[1] + " " + string.Join(' ', genres.Where((_, g) => f[5 + g] == "1"))).ToList();
        var embedder = SqlRec.Embeddings.HashEmbedder.BuiltIn;
        var dim = embedder.Dimension;
        var vectors = new float[texts.Count * dim];
        embedder.Embed("knn", "hash", texts, vectors);
        const int k = 10;
        Measure(vectors, texts.Count, dim, k); // warm-up
        var runs = Enumerable.Range(0, 9).Select(_ => Measure(vectors, texts.Count, dim, k)).ToArray();
        double Median(Func<(double Exact, double Approximate, double Index, double Pairs, double Recall), double> of) => runs.Select(of).Order().ElementAt(runs.Length / 2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"kNN graph, k {k}, ML-100K's {texts.Count:N0} titles + genres through 'hash' ({dim} dimensions), median of {runs.Length} runs, {Environment.ProcessorCount} cores"));
        Console.WriteLine();
        Console.WriteLine("| items | exact s | approximate s | of which index and calibration s | probes (estimated recall) | exact / approximate | pairs scored | approximate recall@10 of the exact neighbours |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {texts.Count:N0} | {Median(r => r.Exact):F3} | {Median(r => r.Approximate):F3} | {Median(r => r.Index):F3} | {Probes()} | {Median(r => r.Exact) / Median(r => r.Approximate):F1}x | {runs[0].Pairs:P1} | {runs[0].Recall:F4} |"));
        return 0;
    }

    /// <summary>The calibration of the last <see cref="Measure"/>: probes chosen and the recall estimated on its sample.</summary>
    private static ItemKnnGraph.Calibration LastCalibration;

    private static string Probes() => string.Create(CultureInfo.InvariantCulture,
        $"{LastCalibration.Probes} of {LastCalibration.Lists} (est. {LastCalibration.EstimatedRecall:F3})");

    private static (double Exact, double Approximate, double Index, double Pairs, double Recall) Measure(float[] vectors, int n, int dim, int k)
    {
        var unit = ItemKnnGraph.UnitRows(vectors, Enumerable.Range(0, n).ToArray(), dim);
        var clock = Stopwatch.StartNew();
        var exact = ItemKnnGraph.ExactNeighbours(unit, n, dim, k);
        var exactSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        // What ApproximateNeighbours does, in its steps: the index, its recall calibration, the search.
        var (index, calibration) = ItemKnnGraph.Calibrate(ItemKnnGraph.BuildLists(unit, n, dim, seed: 1), unit, n, dim, k, seed: 1);
        LastCalibration = calibration;
        var indexSeconds = clock.Elapsed.TotalSeconds;
        var approximate = ItemKnnGraph.SearchLists(index, unit, n, dim, k);
        var approximateSeconds = clock.Elapsed.TotalSeconds;
        long scored = 0;
        for (var q = 0; q < n; q++)
            foreach (var list in index.Probed.AsSpan(q * index.Probes, index.Probes)) scored += index.Size(list);
        long found = 0;
        for (var q = 0; q < n; q++)
        {
            var truth = exact.AsSpan(q * k, k).ToArray().ToHashSet();
            foreach (var neighbour in approximate.AsSpan(q * k, k)) if (truth.Contains(neighbour)) found++;
        }
        return (exactSeconds, approximateSeconds, indexSeconds, (double)scored / ((long)n * n), (double)found / ((long)n * k));
    }

    /// <summary>
    /// n vectors around n / 50 random centres (uniform in [-1, 1] per dimension) with uniform noise
    /// in [-noise / 2, noise / 2] (by default half a centre's spread), as topics of a catalogue.
    /// </summary>
    private static float[] Vectors(int n, int dim, int seed, double noise)
    {
        var random = new Random(seed);
        var clusters = Math.Max(1, n / 50);
        var centres = new float[clusters * dim];
        for (var i = 0; i < centres.Length; i++) centres[i] = (float)(random.NextDouble() * 2 - 1);
        var vectors = new float[n * dim];
        for (var r = 0; r < n; r++)
        {
            var c = random.Next(clusters);
            for (var d = 0; d < dim; d++) vectors[r * dim + d] = centres[c * dim + d] + (float)((random.NextDouble() - 0.5) * noise);
        }
        return vectors;
    }
}
