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
        var sizes = args.Length > 0 ? args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [5000, 15000, 30000, 60000];
        const int dim = 384, k = 10;
        Measure(Vectors(2000, dim, 1, noise), 2000, dim, k); // JIT and thread pool warm-up
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"kNN graph, k {k}, {dim} dimensions, clustered random vectors (noise x{noise}), {Environment.ProcessorCount} cores"));
        Console.WriteLine();
        Console.WriteLine("| items | exact s | approximate s | of which index s | exact / approximate | pairs scored | approximate recall@10 of the exact neighbours |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
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
                $"| {n:N0} | {exact:F3} | {approximate:F3} | {index:F3} | {exact / approximate:F1}x | {pairs:P1} | {recall:F4} |"));
        }
        return 0;
    }

    private static (double Exact, double Approximate, double Index, double Pairs, double Recall) Measure(float[] vectors, int n, int dim, int k)
    {
        var unit = ItemKnnGraph.UnitRows(vectors, Enumerable.Range(0, n).ToArray(), dim);
        var clock = Stopwatch.StartNew();
        var exact = ItemKnnGraph.ExactNeighbours(unit, n, dim, k);
        var exactSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        // What ApproximateNeighbours does, in its two steps.
        var index = ItemKnnGraph.BuildLists(unit, n, dim, seed: 1);
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
