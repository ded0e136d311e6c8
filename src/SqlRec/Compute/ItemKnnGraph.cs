using System.Numerics.Tensors;
using SqlRec.Evaluation;

namespace SqlRec.Compute;

/// <summary>How the nearest neighbours of an item-item graph are found.</summary>
internal enum KnnMethod
{
    /// <summary>Every pair: a blocked similarity product and an exact top-k per row.</summary>
    Exact,

    /// <summary>An inverted-file index: spherical k-means lists, each item searches its nearest lists only.</summary>
    Approximate,
}

/// <summary>
/// FREEDOM's frozen item-item graph (Zhou and Shen, ACM MM 2023, as in MMRec's code): per
/// modality, each item with a vector is linked to its <c>k</c> most cosine-similar items (itself
/// included, as <c>torch.topk</c> over the similarity matrix does) with weight 1, and the graph is
/// normalised as D^-1/2 A D^-1/2 with D the row degrees; modalities are then summed with their
/// weights. Items without a vector in a modality have an empty row there and are nobody's
/// neighbour. Built once before training. Ties in similarity go to the lower item index, so the
/// graph depends only on the vectors.
/// </summary>
internal static class ItemKnnGraph
{
    /// <summary>Largest number of items with vectors for which <c>knn</c> 'auto' computes every pair (see the benchmark in the README).</summary>
    public const int ExactLimit = 30_000;

    /// <summary>Similarity scores one exact block may hold (floats), to bound each thread's buffer.</summary>
    private const int BlockBudget = 4 << 20;

    /// <summary>The method <c>knn</c> 'auto' picks for a modality with <paramref name="count"/> vectors.</summary>
    public static KnnMethod Auto(int count) => count <= ExactLimit ? KnnMethod.Exact : KnnMethod.Approximate;

    /// <summary>
    /// The normalised kNN graph (items x items) of one modality.
    /// </summary>
    /// <param name="features">Item vectors, items x dim, row-major.</param>
    /// <param name="has">True for the items that have a vector; other rows are ignored.</param>
    /// <param name="dim">Vector length.</param>
    /// <param name="k">Neighbours per item (fewer when fewer items have vectors).</param>
    /// <param name="method">Exact or approximate search.</param>
    /// <param name="seed">Seeds the approximate index's k-means.</param>
    /// <param name="progress">Called with (done, total) as query blocks finish.</param>
    public static SparseMatrix Build(float[] features, bool[] has, int dim, int k, KnnMethod method, int seed, Action<int, int>? progress = null)
    {
        var items = has.Length;
        var rows = Enumerable.Range(0, items).Where(i => has[i]).ToArray();
        var unit = UnitRows(features, rows, dim);
        var neighbours = method == KnnMethod.Exact
            ? ExactNeighbours(unit, rows.Length, dim, k, progress)
            : ApproximateNeighbours(unit, rows.Length, dim, k, seed, progress);
        var kEffective = Math.Min(k, rows.Length);
        return Normalize(items, rows, neighbours, kEffective);
    }

    /// <summary>The vectors of <paramref name="rows"/> scaled to unit length (rows x dim).</summary>
    internal static float[] UnitRows(float[] features, int[] rows, int dim)
    {
        var unit = new float[(long)rows.Length * dim];
        Parallel.For(0, rows.Length, Parallelism.Options, r =>
        {
            var source = features.AsSpan((int)((long)rows[r] * dim), dim);
            var norm = TensorPrimitives.Norm(source);
            TensorPrimitives.Multiply(source, norm > 0 ? 1 / norm : 0, unit.AsSpan((int)((long)r * dim), dim));
        });
        return unit;
    }

    /// <summary>
    /// The exact <c>min(k, n)</c> most similar rows of every row of <paramref name="unit"/> (n x dim,
    /// unit length): row r's neighbours are at <c>[r * kEffective ..]</c>, best first, ties to the
    /// lower index. Blocks of query rows run in parallel; each block's similarities are one
    /// blocked matrix product (<see cref="DenseMath.MultiplyTransposedAdd"/>).
    /// </summary>
    internal static int[] ExactNeighbours(float[] unit, int n, int dim, int k, Action<int, int>? progress = null)
    {
        var kEffective = Math.Min(k, n);
        var result = new int[(long)n * kEffective];
        var block = Math.Clamp(BlockBudget / Math.Max(1, n), 1, 64);
        RunBlocks((n + block - 1) / block, () => new float[block * n], (b, scores) =>
        {
            var first = b * block;
            var count = Math.Min(block, n - first);
            var sims = scores.AsSpan(0, count * n);
            sims.Clear();
            DenseMath.MultiplyTransposedAdd(unit.AsSpan(first * dim, count * dim), count, unit, n, dim, sims);
            for (var q = 0; q < count; q++)
                TopK.Select(sims.Slice(q * n, n), kEffective, [], result.AsSpan((first + q) * kEffective, kEffective));
        }, progress);
        return result;
    }

    /// <summary>
    /// Runs <paramref name="body"/> over <paramref name="blocks"/> blocks in parallel, each thread
    /// with its own buffers, in chunks with a progress report between chunks on the calling
    /// thread (progress callbacks may touch the connection, which only the calling thread may).
    /// </summary>
    private static void RunBlocks<TLocal>(int blocks, Func<TLocal> buffers, Action<int, TLocal> body, Action<int, int>? progress)
    {
        var chunk = Math.Max(1, 16 * Environment.ProcessorCount);
        for (var start = 0; start < blocks; start += chunk)
        {
            var end = Math.Min(blocks, start + chunk);
            Parallel.For(start, end, Parallelism.Options, buffers, (b, _, local) =>
            {
                body(b, local);
                return local;
            }, _ => { });
            progress?.Invoke(end, blocks);
        }
    }

    /// <summary>
    /// Approximate neighbours with an inverted-file index: the rows are clustered by spherical
    /// k-means into about sqrt(n) lists (trained on a seeded sample), every row is filed under its
    /// nearest centroid, and each query compares itself exactly with the members of its
    /// <paramref name="probes"/> nearest lists only. Same output layout as <see cref="ExactNeighbours"/>;
    /// deterministic for a seed. Recall against the exact graph is measured in the tests and the benchmark.
    /// </summary>
    internal static int[] ApproximateNeighbours(float[] unit, int n, int dim, int k, int seed, Action<int, int>? progress = null, int lists = 0, int probes = 0)
    {
        var kEffective = Math.Min(k, n);
        if (lists <= 0) lists = Math.Clamp((int)Math.Round(Math.Sqrt(n)), 1, 4096);
        lists = Math.Min(lists, n);
        if (probes <= 0) probes = Math.Max(8, lists / 16);
        probes = Math.Min(probes, lists);
        var centroids = TrainCentroids(unit, n, dim, lists, seed);

        // File every row under its nearest centroid; each list's members ascend.
        var nearest = new int[n];
        ForEachCentroidBlock(unit, n, dim, centroids, lists, (first, count, sims) =>
        {
            for (var q = 0; q < count; q++) nearest[first + q] = ArgMax(sims.Slice(q * lists, lists));
        });
        var offsets = new int[lists + 1];
        foreach (var list in nearest) offsets[list + 1]++;
        for (var l = 0; l < lists; l++) offsets[l + 1] += offsets[l];
        var cursor = offsets[..^1].ToArray();
        var members = new int[n];
        for (var r = 0; r < n; r++) members[cursor[nearest[r]]++] = r;

        var result = new int[(long)n * kEffective];
        const int queryBlock = 64;
        RunBlocks((n + queryBlock - 1) / queryBlock, () => new ProbeBuffers(queryBlock, lists, probes, n), (b, buffers) =>
        {
            var first = b * queryBlock;
            var count = Math.Min(queryBlock, n - first);
            var centroidSims = buffers.CentroidSims.AsSpan(0, count * lists);
            centroidSims.Clear();
            DenseMath.MultiplyTransposedAdd(unit.AsSpan(first * dim, count * dim), count, centroids, lists, dim, centroidSims);
            for (var q = 0; q < count; q++)
            {
                var row = first + q;
                var probed = buffers.Probed.AsSpan(0, probes);
                TopK.Select(centroidSims.Slice(q * lists, lists), probes, [], probed);
                var candidates = buffers.Candidates;
                var total = 0;
                foreach (var list in probed)
                {
                    var span = members.AsSpan(offsets[list], offsets[list + 1] - offsets[list]);
                    span.CopyTo(candidates.AsSpan(total));
                    total += span.Length;
                }
                if (total < kEffective)
                {
                    // Lists too small to hold k rows (tiny or lopsided data): this row searches everything.
                    for (var c = 0; c < n; c++) candidates[c] = c;
                    total = n;
                }
                // Ascending candidates make ties go to the lower row index, as in the exact search.
                else Array.Sort(candidates, 0, total);
                var query = unit.AsSpan(row * dim, dim);
                var sims = buffers.CandidateSims.AsSpan(0, total);
                for (var c = 0; c < total; c++) sims[c] = TensorPrimitives.Dot(query, unit.AsSpan(candidates[c] * dim, dim));
                var target = result.AsSpan(row * kEffective, kEffective);
                TopK.Select(sims, kEffective, [], target);
                for (var j = 0; j < kEffective; j++) target[j] = candidates[target[j]];
            }
        }, progress);
        return result;
    }

    private sealed class ProbeBuffers(int block, int lists, int probes, int n)
    {
        public readonly float[] CentroidSims = new float[block * lists];
        public readonly int[] Probed = new int[probes];
        public readonly int[] Candidates = new int[n];
        public readonly float[] CandidateSims = new float[n];
    }

    /// <summary>Spherical k-means on a seeded sample of at most 256 rows per list: 10 rounds of assign and re-normalised means.</summary>
    private static float[] TrainCentroids(float[] unit, int n, int dim, int lists, int seed)
    {
        var random = new SplitMix64((ulong)seed ^ 0x6B6E6E5FUL);
        var order = Enumerable.Range(0, n).ToArray();
        var sampleSize = Math.Min(n, 256 * lists);
        for (var i = 0; i < sampleSize; i++)
        {
            var j = i + random.NextInt(n - i);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var sample = order[..sampleSize];
        Array.Sort(sample);
        var points = new float[(long)sampleSize * dim];
        for (var s = 0; s < sampleSize; s++) unit.AsSpan(sample[s] * dim, dim).CopyTo(points.AsSpan(s * dim, dim));
        // Start from the first `lists` rows of the shuffled order: distinct rows.
        var centroids = new float[lists * dim];
        var starts = order[..lists];
        for (var l = 0; l < lists; l++) unit.AsSpan(starts[l] * dim, dim).CopyTo(centroids.AsSpan(l * dim, dim));
        var assignment = new int[sampleSize];
        for (var round = 0; round < 10; round++)
        {
            ForEachCentroidBlock(points, sampleSize, dim, centroids, lists, (first, count, sims) =>
            {
                for (var q = 0; q < count; q++) assignment[first + q] = ArgMax(sims.Slice(q * lists, lists));
            });
            var sums = new float[lists * dim];
            var counts = new int[lists];
            for (var s = 0; s < sampleSize; s++)
            {
                var target = sums.AsSpan(assignment[s] * dim, dim);
                TensorPrimitives.Add(target, points.AsSpan(s * dim, dim), target);
                counts[assignment[s]]++;
            }
            for (var l = 0; l < lists; l++)
            {
                var sum = sums.AsSpan(l * dim, dim);
                var norm = TensorPrimitives.Norm(sum);
                // An empty list keeps its centroid.
                if (counts[l] > 0 && norm > 0) TensorPrimitives.Multiply(sum, 1 / norm, centroids.AsSpan(l * dim, dim));
            }
        }
        return centroids;
    }

    /// <summary>Runs <paramref name="onBlock"/>(first, count, similarities count x lists) over blocks of rows, in parallel.</summary>
    private static void ForEachCentroidBlock(float[] rows, int n, int dim, float[] centroids, int lists, Action<int, int, Span<float>> onBlock)
    {
        var block = Math.Clamp(BlockBudget / Math.Max(1, lists), 1, 256);
        Parallel.For(0, (n + block - 1) / block, Parallelism.Options, () => new float[block * lists], (b, _, buffer) =>
        {
            var first = b * block;
            var count = Math.Min(block, n - first);
            var sims = buffer.AsSpan(0, count * lists);
            sims.Clear();
            DenseMath.MultiplyTransposedAdd(rows.AsSpan(first * dim, count * dim), count, centroids, lists, dim, sims);
            onBlock(first, count, sims);
            return buffer;
        }, _ => { });
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>
    /// The graph from each row's neighbours (indices into <paramref name="rows"/>, <paramref name="k"/>
    /// per row): A[i, j] = 1 for each neighbour, then D^-1/2 A D^-1/2 with D the row degrees, as
    /// MMRec's compute_normalized_laplacian. Column indices ascend within each row.
    /// </summary>
    internal static SparseMatrix Normalize(int items, int[] rows, int[] neighbours, int k)
    {
        var degree = new int[items];
        foreach (var row in rows) degree[row] = k;
        var offsets = new int[items + 1];
        foreach (var row in rows) offsets[row + 1] = k;
        for (var i = 0; i < items; i++) offsets[i + 1] += offsets[i];
        var indices = new int[offsets[items]];
        var values = new float[indices.Length];
        for (var r = 0; r < rows.Length; r++)
        {
            var item = rows[r];
            var start = offsets[item];
            for (var j = 0; j < k; j++) indices[start + j] = rows[neighbours[r * k + j]];
            Array.Sort(indices, start, k);
            for (var j = 0; j < k; j++) values[start + j] = (float)(1 / Math.Sqrt((double)degree[item] * degree[indices[start + j]]));
        }
        return new SparseMatrix(items, items, offsets, indices, values);
    }

    /// <summary>The weighted sum of graphs of the same shape: S = sum_m w_m S_m (structures merged, values added).</summary>
    public static SparseMatrix Mix(IReadOnlyList<(SparseMatrix Graph, double Weight)> graphs)
    {
        var rows = graphs[0].Graph.Rows;
        var columns = graphs[0].Graph.Columns;
        var offsets = new int[rows + 1];
        var indices = new List<int>();
        var values = new List<float>();
        var merged = new SortedDictionary<int, double>();
        for (var row = 0; row < rows; row++)
        {
            merged.Clear();
            foreach (var (graph, weight) in graphs)
            {
                if (weight == 0) continue;
                var rowIndices = graph.RowIndices(row);
                var rowValues = graph.RowValues(row);
                for (var p = 0; p < rowIndices.Length; p++) merged[rowIndices[p]] = merged.GetValueOrDefault(rowIndices[p]) + weight * rowValues[p];
            }
            foreach (var (column, value) in merged)
            {
                indices.Add(column);
                values.Add((float)value);
            }
            offsets[row + 1] = indices.Count;
        }
        return new SparseMatrix(rows, columns, offsets, [.. indices], [.. values]);
    }
}
