using System.Buffers;
using System.Numerics.Tensors;
using SqlRec.Compute;

namespace SqlRec.Vectors;

/// <summary>
/// Which rows a search may return: the candidates (ascending dense indices; null for every row)
/// minus the exclusions (ascending). A search always fills k rows when that many remain.
/// </summary>
internal sealed record ItemFilter(int[]? Candidates, int[] Excluded)
{
    /// <summary>Every row may be returned.</summary>
    public static readonly ItemFilter None = new(null, []);

    /// <summary>True when nothing is restricted.</summary>
    public bool IsEmpty => Candidates is null && Excluded.Length == 0;

    /// <summary>This filter with more rows excluded (ascending, may overlap the existing ones).</summary>
    public ItemFilter Excluding(ReadOnlySpan<int> moreSorted) =>
        moreSorted.Length == 0 ? this : this with { Excluded = MergeSorted(Excluded, moreSorted) };

    /// <summary>The union of two ascending index lists, ascending and distinct.</summary>
    public static int[] MergeSorted(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        var merged = new List<int>(a.Length + b.Length);
        int i = 0, j = 0;
        while (i < a.Length || j < b.Length)
        {
            var next = j >= b.Length || (i < a.Length && a[i] <= b[j]) ? a[i++] : b[j++];
            if (merged.Count == 0 || merged[^1] != next) merged.Add(next);
        }
        return [.. merged];
    }

    /// <summary>How many rows of a set of <paramref name="count"/> may be returned.</summary>
    public int Remaining(int count)
    {
        if (Candidates is null) return count - Excluded.Length;
        var left = 0;
        foreach (var c in Candidates)
        {
            if (Excluded.AsSpan().BinarySearch(c) < 0) left++;
        }
        return left;
    }
}

/// <summary>One search request: the query, how many rows, the metric and the first pass.</summary>
/// <param name="Query">The query vector (the set's length).</param>
/// <param name="K">Rows wanted.</param>
/// <param name="Metric">How vectors compare.</param>
/// <param name="Quantize">The first pass: exact, int8 or bit.</param>
/// <param name="Rescore">With quantization: the shortlist is <c>K * Rescore</c> rows, re-scored exactly.</param>
internal sealed record SearchRequest(float[] Query, int K, VectorMetric Metric, Quantization Quantize = Quantization.None, int Rescore = 10);

/// <summary>One result row.</summary>
/// <param name="Index">Row of the set.</param>
/// <param name="Score">Higher is closer: the inner product, the cosine similarity, or minus the L2 distance.</param>
/// <param name="Distance">Lower is closer: minus the inner product (pgvector's <c>&lt;#&gt;</c>), 1 - cosine (vec0's cosine distance), or the L2 distance (vec0's l2).</param>
/// <remarks>
/// The float32 values for vectors in the safe range; computed in double from the vectors as given
/// when the search had to scale them (an inner product of two vectors near 3e38 is past float32,
/// and is reported as the double it is).
/// </remarks>
internal readonly record struct SearchHit(int Index, double Score, double Distance);

/// <summary>
/// SqlRec's exact k-nearest-neighbour search over a <see cref="VectorSet"/>: every candidate is
/// scored (SIMD, four rows per pass, large sets split across cores) and the best k are selected
/// with <see cref="TopK.SelectAmong"/>, so filters never shorten the result and k has no ceiling
/// beyond the set's size. With quantization a first pass over int8 codes or sign bits picks
/// <c>k * rescore</c> rows and only those are scored exactly. Vectors whose components lie outside
/// 2^-40..2^40 (where float32 squares, norms and inner products overflow or underflow: NULL cosines,
/// infinite distances) are searched scaled by powers of two, which leaves every order as it is,
/// and their scores and distances are reported in double precision.
/// </summary>
internal static class VectorSearch
{
    /// <summary>Below this many multiply-adds a scan stays on one core.</summary>
    private const long ParallelThreshold = 4_000_000;

    /// <summary>Searches; results best first, ties by row (= id order).</summary>
    public static SearchHit[] Search(VectorSet set, SearchRequest request, ItemFilter filter)
    {
        if (request.Query.Length != set.Dimensions) throw new ArgumentException("query length differs from the set's dimensions");
        var given = set;
        (set, var scale) = set.ForSearch(request.Metric);
        var (query, squaredScale) = PrepareQuery(request.Query, request.Metric, scale);
        var asGiven = ReferenceEquals(set, given) && ReferenceEquals(query, request.Query);
        var scores = ArrayPool<float>.Shared.Rent(set.Count);
        try
        {
            int[] top;
            int count;
            if (request.Quantize == Quantization.None)
            {
                ScoreExact(set, query, request.Metric, filter.Candidates, scores, squaredScale);
                top = new int[Math.Min(request.K, set.Count)];
                count = TopK.SelectAmong(scores.AsSpan(0, set.Count), filter.Candidates, request.K, filter.Excluded, top);
            }
            else
            {
                ScoreApproximate(set, query, request.Metric, request.Quantize, filter.Candidates, scores, squaredScale);
                var shortlist = new int[(int)Math.Min(set.Count, (long)request.K * request.Rescore)];
                var found = TopK.SelectAmong(scores.AsSpan(0, set.Count), filter.Candidates, shortlist.Length, filter.Excluded, shortlist);
                // Re-score the shortlist exactly, in row order so ties break as in the exact path.
                var rows = shortlist[..found];
                Array.Sort(rows);
                ScoreExact(set, query, request.Metric, rows, scores, squaredScale);
                top = new int[Math.Min(request.K, found)];
                count = TopK.SelectAmong(scores.AsSpan(0, set.Count), rows, request.K, [], top);
            }
            var hits = new SearchHit[count];
            for (var i = 0; i < count; i++)
                hits[i] = asGiven ? Hit(set, query, request.Metric, top[i], scores[top[i]]) : HitInDouble(given, request.Query, request.Metric, top[i]);
            return hits;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scores);
        }
    }

    /// <summary>
    /// The query as the search uses it, and the factor t the set's squared lengths are multiplied by
    /// for l2. A query in the safe range is used as it is (the usual case). Otherwise: for cosine,
    /// its unit vector (computed in double); for dot, a copy scaled by a power of two (the order of
    /// q.x does not change); for l2 it must share the set's scale <paramref name="setScale"/>, and
    /// when that leaves it too large it is scaled by a further power of two t, the squared lengths
    /// with it, so the ranking score t (2 q.x - |x|^2) keeps its order.
    /// </summary>
    internal static (float[] Query, float SquaredScale) PrepareQuery(float[] query, VectorMetric metric, double setScale)
    {
        var max = VectorSet.MaxMagnitude(query);
        switch (metric)
        {
            case VectorMetric.Cosine:
                var squared = TensorPrimitives.Dot(query, query);
                var safe = squared == 0
                    ? max == 0
                    : VectorSet.InSafeRange(max) && squared >= MathF.ScaleB(1, -VectorSet.SafeSquaredExponent) && squared <= MathF.ScaleB(1, VectorSet.SafeSquaredExponent);
                if (safe) return (query, 1);
                var length = Math.Sqrt(query.Sum(v => (double)v * v));
                return (Array.ConvertAll(query, v => (float)(v / length)), 1);
            case VectorMetric.Dot:
                return VectorSet.InSafeRange(max) ? (query, 1) : (Scaled(query, Math.ScaleB(1.0, -MathF.ILogB(max))), 1);
            default:
                var shared = max * setScale;
                var further = shared <= Math.ScaleB(1.0, VectorSet.SafeExponent) ? 1.0 : Math.ScaleB(1.0, -Math.ILogB(shared));
                return (setScale * further == 1 ? query : Scaled(query, setScale * further), (float)further);
        }

        static float[] Scaled(float[] values, double factor) => Array.ConvertAll(values, v => (float)(v * factor));
    }

    /// <summary>
    /// The ranking score of each candidate row (all rows when <paramref name="rows"/> is null):
    /// the inner product for dot, q.x / |x| for cosine (|q| is the same for every row), and
    /// 2 q.x - t |x|^2 for l2 (|q - x|^2 minus the constant |q|^2, negated; t is
    /// <paramref name="squaredScale"/>, 1 unless <see cref="PrepareQuery"/> scaled the query further).
    /// </summary>
    internal static void ScoreExact(VectorSet set, ReadOnlySpan<float> query, VectorMetric metric, int[]? rows, Span<float> scores, float squaredScale = 1)
    {
        // Scoring a quarter of the rows one by one costs about what the blocked scan of all rows does.
        if (rows is not null && (long)rows.Length * 4 >= set.Count) rows = null;
        if (rows is null) DotAll(set, query, scores);
        else
        {
            foreach (var r in rows) scores[r] = TensorPrimitives.Dot(query, set.Row(r));
        }
        switch (metric)
        {
            case VectorMetric.Cosine:
                var inverse = set.InverseNorms;
                if (rows is null) TensorPrimitives.Multiply(scores[..set.Count], inverse, scores);
                else foreach (var r in rows) scores[r] *= inverse[r];
                break;
            case VectorMetric.L2:
                var squared = set.SquaredNorms;
                if (rows is null)
                {
                    TensorPrimitives.Multiply(scores[..set.Count], 2f, scores);
                    if (squaredScale == 1) TensorPrimitives.Subtract(scores[..set.Count], squared, scores);
                    else TensorPrimitives.MultiplyAdd(squared, -squaredScale, scores[..set.Count], scores);
                }
                else foreach (var r in rows) scores[r] = 2 * scores[r] - squared[r] * squaredScale;
                break;
        }
    }

    /// <summary>q . x for every row: four rows per pass (<see cref="DenseMath.Dot4"/>), large sets split across cores.</summary>
    private static void DotAll(VectorSet set, ReadOnlySpan<float> query, Span<float> scores)
    {
        var n = set.Count;
        if ((long)n * set.Dimensions < ParallelThreshold || Environment.ProcessorCount == 1)
        {
            DotRange(set, query, scores, 0, n);
            return;
        }
        var q = query.ToArray();
        var output = ArrayPool<float>.Shared.Rent(n);
        try
        {
            // Chunks of whole multiples of 4 rows keep every chunk on the four-row kernel.
            var chunk = (Parallelism.ChunkSize(n) + 3) & ~3;
            Parallel.For(0, (n + chunk - 1) / chunk, Parallelism.Options,
                block => DotRange(set, q, output, block * chunk, Math.Min(n, (block + 1) * chunk)));
            output.AsSpan(0, n).CopyTo(scores);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(output);
        }
    }

    private static void DotRange(VectorSet set, ReadOnlySpan<float> query, Span<float> scores, int from, int to)
    {
        var d = set.Dimensions;
        var data = set.Data.AsSpan();
        var i = from;
        for (; i + 4 <= to; i += 4) DenseMath.Dot4(query, data.Slice(i * d, 4 * d), scores.Slice(i, 4));
        for (; i < to; i++) scores[i] = TensorPrimitives.Dot(query, data.Slice(i * d, d));
    }

    /// <summary>
    /// First-pass scores in the ranking score's units: from int8 codes, approximate inner
    /// products; from sign bits, minus the Hamming distance (cosine) or the inner product estimated
    /// from the angle the Hamming distance implies (dot, l2).
    /// </summary>
    private static void ScoreApproximate(VectorSet set, float[] query, VectorMetric metric, Quantization quantize, int[]? rows, float[] scores, float squaredScale)
    {
        var normalized = metric == VectorMetric.Cosine;
        var n = set.Count;
        var prepared = query;
        if (normalized)
        {
            var norm = MathF.Sqrt(TensorPrimitives.Dot(query, query));
            prepared = new float[query.Length];
            if (norm > 0) TensorPrimitives.Multiply(query, 1 / norm, prepared);
        }
        Action<int> score;
        if (quantize == Quantization.Int8)
        {
            var codes = set.Int8(normalized);
            var (q, factor) = codes.EncodeQuery(prepared);
            var squared = metric == VectorMetric.L2 ? set.SquaredNorms : null;
            score = r =>
            {
                var dot = factor * codes.Dot(q, r);
                scores[r] = squared is null ? dot : 2 * dot - squared[r] * squaredScale;
            };
        }
        else
        {
            var bits = set.Bits(normalized);
            var q = bits.EncodeQuery(prepared);
            if (normalized) score = r => scores[r] = -bits.Hamming(q, r);
            else
            {
                // Signs alone lose the lengths that inner products and distances depend on: estimate
                // q.x as |q| |x| cos(pi h / d) with the exact stored |x|.
                var squared = set.SquaredNorms;
                var queryNorm = MathF.Sqrt(TensorPrimitives.Dot(query, query));
                var perBit = MathF.PI / set.Dimensions;
                score = r =>
                {
                    var dot = queryNorm * MathF.Sqrt(squared[r]) * MathF.Cos(perBit * bits.Hamming(q, r));
                    scores[r] = metric == VectorMetric.L2 ? 2 * dot - squared[r] * squaredScale : dot;
                };
            }
        }
        if (rows is not null)
        {
            foreach (var r in rows) score(r);
            return;
        }
        if ((long)n * set.Dimensions < 4 * ParallelThreshold || Environment.ProcessorCount == 1)
        {
            for (var r = 0; r < n; r++) score(r);
            return;
        }
        var chunk = Parallelism.ChunkSize(n);
        Parallel.For(0, (n + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            var end = Math.Min(n, (block + 1) * chunk);
            for (var r = block * chunk; r < end; r++) score(r);
        });
    }

    /// <summary>
    /// The reported score and distance of a row of a search that had to scale its numbers: from the
    /// vectors as given, in double (the plain reference's arithmetic).
    /// </summary>
    private static SearchHit HitInDouble(VectorSet set, ReadOnlySpan<float> query, VectorMetric metric, int row)
    {
        var vector = set.Row(row);
        double dot = 0, queryNorm = 0, rowNorm = 0, distance = 0;
        for (var j = 0; j < vector.Length; j++)
        {
            double q = query[j], x = vector[j];
            dot += q * x;
            queryNorm += q * q;
            rowNorm += x * x;
            distance += (q - x) * (q - x);
        }
        switch (metric)
        {
            case VectorMetric.Dot:
                return new SearchHit(row, dot, -dot);
            case VectorMetric.Cosine:
                var cosine = queryNorm == 0 || rowNorm == 0 ? 0 : dot / (Math.Sqrt(queryNorm) * Math.Sqrt(rowNorm));
                return new SearchHit(row, cosine, 1 - cosine);
            default:
                return new SearchHit(row, -Math.Sqrt(distance), Math.Sqrt(distance));
        }
    }

    /// <summary>The reported score and distance of a returned row (exact float32).</summary>
    private static SearchHit Hit(VectorSet set, ReadOnlySpan<float> query, VectorMetric metric, int row, float rankingScore)
    {
        switch (metric)
        {
            case VectorMetric.Dot:
                return new SearchHit(row, rankingScore, -rankingScore);
            case VectorMetric.Cosine:
                var queryNorm = MathF.Sqrt(TensorPrimitives.Dot(query, query));
                var cosine = queryNorm > 0 ? rankingScore / queryNorm : 0f;
                return new SearchHit(row, cosine, 1 - cosine);
            default:
                // Reported from the difference itself, not the expansion used for ranking, to keep full precision.
                var distance = TensorPrimitives.Distance(query, set.Row(row));
                return new SearchHit(row, -distance, distance);
        }
    }
}
