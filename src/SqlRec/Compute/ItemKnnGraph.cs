using System.Numerics.Tensors;

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
    /// <summary>
    /// Largest number of items with vectors for which <c>knn</c> 'auto' computes every pair: the
    /// measured crossover (tests/SqlRec.Benchmarks/README.md), below which the approximate search
    /// is within noise of the exact one (its index and its larger share of pairs eat the saving) and
    /// above which it is faster (1.5x-2.3x at 2,000 items, 3x-4x at 5,000, about 10x at 60,000).
    /// </summary>
    public const int ExactLimit = 5_000;

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
    /// <param name="calibration">Approximate search only: called with its probes, its lists and the recall estimated on a sample (<see cref="Calibrate"/>).</param>
    public static SparseMatrix Build(float[] features, bool[] has, int dim, int k, KnnMethod method, int seed, Action<int, int>? progress = null,
        Action<Calibration>? calibration = null)
    {
        var items = has.Length;
        var rows = Enumerable.Range(0, items).Where(i => has[i]).ToArray();
        var unit = UnitRows(features, rows, dim);
        var neighbours = method == KnnMethod.Exact
            ? ExactNeighbours(unit, rows.Length, dim, k, progress)
            : ApproximateNeighbours(unit, rows.Length, dim, k, seed, progress, calibration: calibration);
        var kEffective = Math.Min(k, rows.Length);
        return Normalize(items, rows, neighbours, kEffective);
    }

    /// <summary>
    /// The vectors of <paramref name="rows"/> scaled to unit length (rows x dim), followed by zero
    /// rows up to a multiple of 4 rows (see <see cref="Similarities"/>).
    /// </summary>
    internal static float[] UnitRows(float[] features, int[] rows, int dim)
    {
        var unit = new float[(long)RoundUp4(rows.Length) * dim];
        Parallel.For(0, rows.Length, Parallelism.Options, r =>
        {
            var source = features.AsSpan((int)((long)rows[r] * dim), dim);
            var norm = TensorPrimitives.Norm(source);
            TensorPrimitives.Multiply(source, norm > 0 ? 1 / norm : 0, unit.AsSpan((int)((long)r * dim), dim));
        });
        return unit;
    }

    private static int RoundUp4(int count) => (count + 3) & ~3;

    /// <summary><paramref name="unit"/> itself when it has room for a multiple of 4 rows, else a copy that has.</summary>
    private static float[] WithPadding(float[] unit, int n, int dim)
    {
        var length = (long)RoundUp4(n) * dim;
        if (unit.Length >= length) return unit;
        var padded = new float[length];
        unit.AsSpan(0, n * dim).CopyTo(padded);
        return padded;
    }

    /// <summary>
    /// <c>sims</c> (rows x columns, row-major) = a (rows x dim) times b (columns x dim) transposed,
    /// with rows and columns multiples of 4. Then <see cref="DenseMath.MultiplyTransposedAdd"/>
    /// scores every pair in its 4 x 4 register block (no leftover rows, tiles of 128 columns), so a
    /// pair's score is bitwise the same whatever block, list or search computes it: the
    /// approximate search with every list probed returns exactly the exact neighbours, and neither
    /// depends on how rows are grouped. What the padding rows hold does not matter (their scores
    /// are never read and do not mix into the others).
    /// </summary>
    private static void Similarities(ReadOnlySpan<float> a, int rows, ReadOnlySpan<float> b, int columns, int dim, Span<float> sims)
    {
        System.Diagnostics.Debug.Assert(rows % 4 == 0 && columns % 4 == 0);
        sims = sims[..(rows * columns)];
        sims.Clear();
        DenseMath.MultiplyTransposedAdd(a[..(rows * dim)], rows, b[..(columns * dim)], columns, dim, sims);
    }

    /// <summary>
    /// The exact <c>min(k, n)</c> most similar rows of every row of <paramref name="unit"/> (n x dim,
    /// unit length): row r's neighbours are at <c>[r * kEffective ..]</c>, best first, ties to the
    /// lower index. Blocks of query rows run in parallel; each block's similarities are one
    /// blocked matrix product (<see cref="Similarities"/>).
    /// </summary>
    internal static int[] ExactNeighbours(float[] unit, int n, int dim, int k, Action<int, int>? progress = null)
    {
        unit = WithPadding(unit, n, dim);
        var kEffective = Math.Min(k, n);
        var result = new int[(long)n * kEffective];
        var columns = RoundUp4(n);
        var block = Math.Clamp(BlockBudget / columns / 4, 1, 16) * 4;
        RunBlocks((n + block - 1) / block, () => new float[block * columns], (b, scores) =>
        {
            var first = b * block;
            var count = Math.Min(block, n - first);
            Similarities(unit.AsSpan(first * dim), RoundUp4(count), unit, columns, dim, scores);
            for (var q = 0; q < count; q++)
                TopK.Select(scores.AsSpan(q * columns, n), kEffective, [], result.AsSpan((first + q) * kEffective, kEffective));
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
    /// An inverted-file index over n unit rows: spherical k-means centroids, each row filed under
    /// its nearest one, and each row's <see cref="Probes"/> nearest lists.
    /// </summary>
    internal sealed class InvertedLists
    {
        public required int Lists { get; init; }

        public required int Probes { get; init; }

        /// <summary>Unit centroids, <see cref="Lists"/> x dim and zero rows up to a multiple of 4.</summary>
        public required float[] Centroids { get; init; }

        /// <summary>List l's rows are <c>Members[Offsets[l] .. Offsets[l + 1]]</c>.</summary>
        public required int[] Offsets { get; init; }

        /// <summary>The rows in list order, ascending within each list.</summary>
        public required int[] Members { get; init; }

        /// <summary>Row r's <see cref="Probes"/> nearest lists at <c>[r * Probes ..]</c>, nearest first (the first is its own list).</summary>
        public required int[] Probed { get; init; }

        /// <summary>The members' vectors in list order, each list starting at a multiple of 4 rows (<see cref="VectorStart"/>) and padded with zero rows.</summary>
        public required float[] Vectors { get; init; }

        /// <summary>The row in <see cref="Vectors"/> where list l's first member is.</summary>
        public required int[] VectorStart { get; init; }

        public int Size(int list) => Offsets[list + 1] - Offsets[list];
    }

    /// <summary>
    /// The inverted-file index: about sqrt(n) lists (or <paramref name="lists"/>) of spherical
    /// k-means trained on a seeded sample, every row filed under its nearest centroid and
    /// remembering its <c>max(8, lists / 16)</c> (or <paramref name="probes"/>) nearest lists; with
    /// <paramref name="centroids"/> (an index's own, padded), k-means is skipped and those are used.
    /// </summary>
    internal static InvertedLists BuildLists(float[] unit, int n, int dim, int seed, int lists = 0, int probes = 0, float[]? centroids = null)
    {
        unit = WithPadding(unit, n, dim);
        lists = lists <= 0 ? DefaultLists(n) : Math.Min(lists, n);
        probes = probes <= 0 ? DefaultProbes(lists) : Math.Min(probes, lists);
        var centroidRows = RoundUp4(lists);
        if (centroids is null)
        {
            centroids = new float[centroidRows * dim];
            TrainCentroids(unit, n, dim, lists, seed).CopyTo(centroids, 0);
        }

        // Each row's nearest lists, nearest first; the nearest is where the row is filed.
        var probed = new int[(long)n * probes];
        const int block = 64;
        Parallel.For(0, (n + block - 1) / block, Parallelism.Options, () => new float[block * centroidRows], (b, _, sims) =>
        {
            var first = b * block;
            var count = Math.Min(block, n - first);
            Similarities(unit.AsSpan(first * dim), RoundUp4(count), centroids, centroidRows, dim, sims);
            for (var q = 0; q < count; q++)
                TopK.Select(sims.AsSpan(q * centroidRows, lists), probes, [], probed.AsSpan((first + q) * probes, probes));
            return sims;
        }, _ => { });

        var offsets = new int[lists + 1];
        for (var r = 0; r < n; r++) offsets[probed[r * probes] + 1]++;
        for (var l = 0; l < lists; l++) offsets[l + 1] += offsets[l];
        var cursor = offsets[..^1].ToArray();
        var members = new int[n];
        for (var r = 0; r < n; r++) members[cursor[probed[r * probes]]++] = r;

        // The vectors again in list order, so each list is one contiguous block of rows.
        var vectorStart = new int[lists];
        var vectorRows = 0;
        for (var l = 0; l < lists; l++)
        {
            vectorStart[l] = vectorRows;
            vectorRows += RoundUp4(offsets[l + 1] - offsets[l]);
        }
        var vectors = new float[(long)vectorRows * dim];
        Parallel.For(0, lists, Parallelism.Options, l =>
        {
            for (var p = offsets[l]; p < offsets[l + 1]; p++)
                unit.AsSpan(members[p] * dim, dim).CopyTo(vectors.AsSpan((vectorStart[l] + p - offsets[l]) * dim, dim));
        });
        return new InvertedLists
        {
            Lists = lists, Probes = probes, Centroids = centroids, Offsets = offsets, Members = members, Probed = probed,
            Vectors = vectors, VectorStart = vectorStart,
        };
    }

    /// <summary>
    /// Approximate neighbours with an inverted-file index (<see cref="BuildLists"/>): each query
    /// compares itself exactly with the members of its <paramref name="probes"/> nearest lists
    /// only, or with every row when those lists hold fewer than k rows. Same output layout and
    /// order as <see cref="ExactNeighbours"/>, and the same scores for the pairs it compares;
    /// deterministic for a seed. Recall against the exact graph is measured in the tests and the benchmark.
    /// </summary>
    internal static int[] ApproximateNeighbours(float[] unit, int n, int dim, int k, int seed, Action<int, int>? progress = null, int lists = 0, int probes = 0,
        Action<Calibration>? calibration = null)
    {
        unit = WithPadding(unit, n, dim);
        var index = BuildLists(unit, n, dim, seed, lists, probes);
        if (probes <= 0)
        {
            var (calibrated, result) = Calibrate(index, unit, n, dim, k, seed);
            index = calibrated;
            calibration?.Invoke(result);
        }
        return SearchLists(index, unit, n, dim, k, progress);
    }

    /// <summary>Recall of the exact neighbours the approximate search aims for, estimated on a sample of rows (<see cref="Calibrate"/>).</summary>
    public const double TargetRecall = 0.99;

    /// <summary>Rows the calibration checks against their exact neighbours.</summary>
    private const int CalibrationSample = 256;

    /// <summary>What <see cref="Calibrate"/> chose: probes per row out of the lists, and the recall@k it measured with them on the sample.</summary>
    internal readonly record struct Calibration(int Probes, int Lists, double EstimatedRecall);

    private static int DefaultLists(int n) => Math.Min(n, Math.Clamp((int)Math.Round(Math.Sqrt(n)), 1, 4096));

    private static int DefaultProbes(int lists) => Math.Min(lists, Math.Max(8, lists / 16));

    /// <summary>
    /// Chooses how many lists each row probes so that the search keeps <see cref="TargetRecall"/> of
    /// the exact neighbours, as measured on a seeded sample of rows: their exact top-k (against
    /// every row) against the top-k among the members of their p nearest lists, for p = the
    /// index's probes (the default max(8, lists / 16)), then doubling, at most 4 times. Vectors in
    /// clean clusters stop at the default; vectors that share many small components (text n-gram
    /// features, for example) take more. Returns the index with the chosen probes (its probed
    /// lists recomputed from the same centroids when they change) and the estimate.
    /// </summary>
    internal static (InvertedLists Index, Calibration Result) Calibrate(InvertedLists index, float[] unit, int n, int dim, int k, int seed)
    {
        var kEffective = Math.Min(k, n);
        var lists = index.Lists;
        var maxProbes = Math.Min(lists, 16 * index.Probes);
        var random = new SplitMix64((ulong)seed ^ 0x63616C6962UL);
        var sample = Enumerable.Range(0, n).ToArray();
        var size = Math.Min(n, CalibrationSample);
        for (var i = 0; i < size; i++)
        {
            var j = i + random.NextInt(n - i);
            (sample[i], sample[j]) = (sample[j], sample[i]);
        }
        sample = sample[..size];

        // The sample's exact neighbours (as sets) and nearest lists (nearest first).
        var exact = new HashSet<int>[size];
        var nearest = new int[size * maxProbes];
        Parallel.For(0, size, Parallelism.Options, () => new float[Math.Max(n, lists)], (q, _, scores) =>
        {
            var query = unit.AsSpan(sample[q] * dim, dim);
            for (var r = 0; r < n; r++) scores[r] = TensorPrimitives.Dot(query, unit.AsSpan(r * dim, dim));
            var top = new int[kEffective];
            TopK.Select(scores.AsSpan(0, n), kEffective, [], top);
            exact[q] = [.. top];
            for (var l = 0; l < lists; l++) scores[l] = TensorPrimitives.Dot(query, index.Centroids.AsSpan(l * dim, dim));
            TopK.Select(scores.AsSpan(0, lists), maxProbes, [], nearest.AsSpan(q * maxProbes, maxProbes));
            return scores;
        }, _ => { });

        double Recall(int probes)
        {
            var found = new int[size];
            Parallel.For(0, size, Parallelism.Options, q =>
            {
                var candidates = new List<int>();
                foreach (var list in nearest.AsSpan(q * maxProbes, probes)) candidates.AddRange(index.Members.AsSpan(index.Offsets[list], index.Size(list)));
                // Fewer than k rows in the probed lists: the search looks at every row (see SearchLists).
                if (candidates.Count < kEffective)
                {
                    found[q] = kEffective;
                    return;
                }
                candidates.Sort();
                var query = unit.AsSpan(sample[q] * dim, dim);
                var scores = new float[candidates.Count];
                for (var c = 0; c < scores.Length; c++) scores[c] = TensorPrimitives.Dot(query, unit.AsSpan(candidates[c] * dim, dim));
                var top = new int[kEffective];
                TopK.Select(scores, kEffective, [], top);
                foreach (var t in top) if (exact[q].Contains(candidates[t])) found[q]++;
            });
            return (double)found.Sum() / ((long)size * kEffective);
        }

        var chosen = index.Probes;
        var recall = Recall(chosen);
        while (recall < TargetRecall && chosen < maxProbes)
        {
            chosen = Math.Min(maxProbes, chosen * 2);
            recall = Recall(chosen);
        }
        if (chosen != index.Probes) index = BuildLists(unit, n, dim, seed, lists, chosen, index.Centroids);
        return (index, new Calibration(chosen, lists, recall));
    }

    /// <summary>Queries one list block scores at most (a multiple of 4).</summary>
    private const int ListQueryBlock = 128;

    /// <summary>List members one list block scores at most (a multiple of 4).</summary>
    private const int ListMemberBlock = 1024;

    /// <summary>
    /// The search of <see cref="ApproximateNeighbours"/> as dense blocks. Queries go in groups of
    /// consecutive rows in list order (so a group's queries probe much the same lists); a group
    /// walks the lists in order, and for each list it gathers the group's queries that probe it
    /// into one block, scores that block against the list's contiguous members with one matrix
    /// product (<see cref="Similarities"/>), and merges each query's scores into its running top-k.
    /// One thread owns a group, its top-k heaps and its output rows, and merges lists in a fixed
    /// order; as the order of the top-k is total (score, then lower row), the result does not
    /// depend on the thread count. Each thread's buffers are bounded by the group size, the list
    /// count and the block sizes.
    /// </summary>
    internal static int[] SearchLists(InvertedLists index, float[] unit, int n, int dim, int k, Action<int, int>? progress = null)
    {
        unit = WithPadding(unit, n, dim);
        var kEffective = Math.Min(k, n);
        var result = new int[(long)n * kEffective];
        // About ListQueryBlock / 2 queries per list block on average (a group of g queries puts g * probes / lists in each).
        var group = Math.Clamp(ListQueryBlock / 2 * index.Lists / index.Probes, 64, Math.Max(64, (1 << 20) / kEffective));
        RunBlocks((n + group - 1) / group, () => new SearchBuffers(group, kEffective, index.Lists, index.Probes, dim),
            (g, buffers) => SearchGroup(index, unit, dim, kEffective, g * group, Math.Min(group, n - g * group), buffers, result), progress);
        return result;
    }

    private sealed class SearchBuffers(int group, int k, int lists, int probes, int dim)
    {
        public readonly float[] HeapScores = new float[group * k];
        public readonly int[] HeapRows = new int[group * k];
        public readonly int[] HeapSizes = new int[group];
        public readonly int[] BucketStart = new int[lists + 1];
        public readonly int[] Next = new int[lists];
        public readonly int[] Buckets = new int[group * probes];
        public readonly int[] Everything = new int[group];
        public readonly int[] BlockQueries = new int[ListQueryBlock];
        public readonly float[] Queries = new float[ListQueryBlock * dim];
        public readonly float[] Scores = new float[ListQueryBlock * ListMemberBlock];
    }

    /// <summary>Finds the neighbours of the queries at list positions <c>first .. first + count</c> (see <see cref="SearchLists"/>).</summary>
    private static void SearchGroup(InvertedLists index, float[] unit, int dim, int k, int first, int count, SearchBuffers buffers, int[] result)
    {
        int lists = index.Lists, probes = index.Probes;
        var queries = index.Members.AsSpan(first, count);

        // Bucket the group's queries (positions in the group) by the lists they probe. Queries whose
        // lists hold fewer than k rows (tiny or lopsided data) search everything: they join every list's block.
        var bucketStart = buffers.BucketStart;
        Array.Clear(bucketStart);
        var everything = 0;
        for (var q = 0; q < count; q++)
        {
            var probed = index.Probed.AsSpan(queries[q] * probes, probes);
            var candidates = 0;
            foreach (var list in probed) candidates += index.Size(list);
            if (candidates < k) buffers.Everything[everything++] = q;
            else foreach (var list in probed) bucketStart[list + 1]++;
        }
        for (var l = 0; l < lists; l++) bucketStart[l + 1] += bucketStart[l];
        var next = buffers.Next;
        bucketStart.AsSpan(0, lists).CopyTo(next);
        for (int q = 0, e = 0; q < count; q++)
        {
            if (e < everything && buffers.Everything[e] == q)
            {
                e++;
                continue;
            }
            foreach (var list in index.Probed.AsSpan(queries[q] * probes, probes)) buffers.Buckets[next[list]++] = q;
        }

        var heapScores = buffers.HeapScores;
        var heapRows = buffers.HeapRows;
        var heapSizes = buffers.HeapSizes;
        Array.Clear(heapSizes, 0, count);
        var blockQueries = buffers.BlockQueries;
        var block = buffers.Queries;
        var scores = buffers.Scores;
        for (var list = 0; list < lists; list++)
        {
            var bucket = buffers.Buckets.AsSpan(bucketStart[list], bucketStart[list + 1] - bucketStart[list]);
            var size = index.Size(list);
            var total = bucket.Length + everything;
            if (total == 0 || size == 0) continue;
            var members = index.Members.AsSpan(index.Offsets[list], size);
            for (var start = 0; start < total; start += ListQueryBlock)
            {
                var blockCount = Math.Min(ListQueryBlock, total - start);
                for (var j = 0; j < blockCount; j++)
                {
                    var position = start + j;
                    var q = position < bucket.Length ? bucket[position] : buffers.Everything[position - bucket.Length];
                    blockQueries[j] = q;
                    unit.AsSpan(queries[q] * dim, dim).CopyTo(block.AsSpan(j * dim, dim));
                }
                var blockRows = RoundUp4(blockCount);
                for (var m = 0; m < size; m += ListMemberBlock)
                {
                    var memberCount = Math.Min(ListMemberBlock, size - m);
                    var columns = RoundUp4(memberCount);
                    Similarities(block, blockRows, index.Vectors.AsSpan((index.VectorStart[list] + m) * dim), columns, dim, scores);
                    var rows = members.Slice(m, memberCount);
                    for (var j = 0; j < blockCount; j++)
                    {
                        var q = blockQueries[j];
                        Offer(scores.AsSpan(j * columns, memberCount), rows, heapScores.AsSpan(q * k, k), heapRows.AsSpan(q * k, k), ref heapSizes[q]);
                    }
                }
            }
        }

        for (var q = 0; q < count; q++)
        {
            var heapScore = heapScores.AsSpan(q * k, k);
            var heapRow = heapRows.AsSpan(q * k, k);
            // Every query has at least k candidates (its lists, or everything), so its heap is full.
            for (var end = k - 1; end > 0; end--)
            {
                (heapScore[0], heapScore[end]) = (heapScore[end], heapScore[0]);
                (heapRow[0], heapRow[end]) = (heapRow[end], heapRow[0]);
                SiftDown(heapScore, heapRow, 0, end);
            }
            heapRow.CopyTo(result.AsSpan(queries[q] * k, k));
        }
    }

    /// <summary>
    /// Offers the rows <paramref name="rows"/> with <paramref name="scores"/> to a min-heap of the
    /// best k so far (the root is the worst kept), in <see cref="TopK"/>'s order: higher score
    /// first, ties to the lower row, NaN last.
    /// </summary>
    private static void Offer(ReadOnlySpan<float> scores, ReadOnlySpan<int> rows, Span<float> heapScores, Span<int> heapRows, ref int size)
    {
        var k = heapScores.Length;
        var i = 0;
        for (; i < scores.Length && size < k; i++)
        {
            heapScores[size] = scores[i];
            heapRows[size] = rows[i];
            var child = size++;
            while (child > 0)
            {
                var parent = (child - 1) / 2;
                if (!Better(heapScores[parent], heapRows[parent], heapScores[child], heapRows[child])) break;
                (heapScores[parent], heapScores[child]) = (heapScores[child], heapScores[parent]);
                (heapRows[parent], heapRows[child]) = (heapRows[child], heapRows[parent]);
                child = parent;
            }
        }
        var worst = heapScores[0];
        for (; i < scores.Length; i++)
        {
            var score = scores[i];
            // Most candidates lose to the worst kept at once (false for NaN, which takes the full comparison).
            if (score < worst || !Better(score, rows[i], worst, heapRows[0])) continue;
            heapScores[0] = score;
            heapRows[0] = rows[i];
            SiftDown(heapScores, heapRows, 0, k);
            worst = heapScores[0];
        }
    }

    /// <summary>True when (score a, row a) ranks before (score b, row b), as <see cref="TopK.Better"/>.</summary>
    private static bool Better(float scoreA, int rowA, float scoreB, int rowB)
    {
        if (float.IsNaN(scoreA)) return float.IsNaN(scoreB) && rowA < rowB;
        if (float.IsNaN(scoreB)) return true;
        return scoreA > scoreB || (scoreA == scoreB && rowA < rowB);
    }

    private static void SiftDown(Span<float> heapScores, Span<int> heapRows, int parent, int count)
    {
        while (true)
        {
            var worst = parent;
            var left = 2 * parent + 1;
            var right = left + 1;
            if (left < count && Better(heapScores[worst], heapRows[worst], heapScores[left], heapRows[left])) worst = left;
            if (right < count && Better(heapScores[worst], heapRows[worst], heapScores[right], heapRows[right])) worst = right;
            if (worst == parent) return;
            (heapScores[parent], heapScores[worst]) = (heapScores[worst], heapScores[parent]);
            (heapRows[parent], heapRows[worst]) = (heapRows[worst], heapRows[parent]);
            parent = worst;
        }
    }

    /// <summary>Spherical k-means on a seeded sample of at most 256 rows per list: up to 10 rounds of assign and re-normalised means, fewer when the assignment settles.</summary>
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
            var moved = round == 0;
            ForEachCentroidBlock(points, sampleSize, dim, centroids, lists, (first, count, sims) =>
            {
                for (var q = 0; q < count; q++)
                {
                    var nearest = ArgMax(sims.Slice(q * lists, lists));
                    if (assignment[first + q] == nearest) continue;
                    assignment[first + q] = nearest;
                    moved = true;
                }
            });
            // No point changed list: the means, and so every later round, would be the same.
            if (!moved) break;
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
