using System.Numerics;
using System.Numerics.Tensors;
using SqlRec.Compute;

namespace SqlRec.Models;

/// <summary>
/// The graph filter applied to one user's row (see <see cref="GraphFilterKind"/>). With
/// <c>normalizeLinear</c> false the linear part uses the raw matrix, r R^T R: item co-occurrence
/// counts, which is exactly GTE's propagation (Cai et al., CIKM 2023) with its default 3 layers
/// once seen items are masked (U_3 = R R^T R + 3R).
/// </summary>
internal sealed class GraphFilter : IUserScorer, IShortlistScorer, IBatchScorer
{
    private readonly SparseMatrix _raw;
    private readonly float[]? _expand;
    // Degrees stay in double: a weighted degree can be near float32's limit, and alpha times it past it.
    private readonly double[] _itemDegree;
    private readonly int _components;
    private readonly float _alpha;

    // The expansion rows in int8 with one scale per item: a quarter of the bytes to stream when
    // recommend() only needs the top k (exact scores are computed for the shortlist).
    private readonly sbyte[]? _quantized;
    private readonly float[]? _scales;
    private readonly float[]? _magnitudes;

    // The Euclidean length of each expansion row: |p . e_j| <= |p| |e_j| bounds an item's ideal part
    // from one float, which on power-law data rules out almost every item before any row is read.
    private readonly float[]? _norms;

    private readonly SparseMatrix _hop;
    private readonly SparseMatrix _hopTransposed;

    // BSPM's sharpening (Choi et al., SIGIR 2023): the filtered row y is carried along dy/dt = -y P
    // (P the linear part's item-item matrix) for _sharpenTime in _sharpenSteps RK4 steps; 0 = off.
    private readonly double _sharpenTime;
    private readonly int _sharpenSteps;

    // foldInPlace: the vectors are this filter's to keep (read from a file for this load), so the
    // expansion rows are folded into them in place and a large catalogue does not hold the singular
    // vectors and their folded copy at once (at 650k items x 256 components, 666 MB each).
    public GraphFilter(SparseMatrix raw, float[]? vectors, int components, float alpha, bool normalizeLinear = true,
        double sharpenTime = 0, int sharpenSteps = 1, bool foldInPlace = false)
    {
        _raw = raw;
        _sharpenTime = sharpenTime;
        _sharpenSteps = sharpenTime > 0 ? Math.Max(1, sharpenSteps) : 0;
        _components = components;
        _alpha = alpha;
        var itemDegree = raw.ColumnSums();
        _itemDegree = itemDegree;
        if (vectors is not null && components > 0 && alpha > 0)
        {
            // The expansion side of the ideal filter, alpha * D^1/2 V, folded once so scoring is a plain dot product per item.
            _expand = foldInPlace ? vectors : new float[vectors.Length];
            for (var j = 0; j < raw.Columns; j++)
                FoldRow(vectors.AsSpan(j * components, components), alpha, itemDegree[j], _expand.AsSpan(j * components, components));
        }
        if (_expand is not null)
        {
            (_quantized, _scales, _magnitudes, _norms) = Quantize(_expand, raw.Columns, components);
        }
        Normalized = raw.NormalizeSymmetric();
        NormalizedTransposed = Normalized.Transpose();
        (_hop, _hopTransposed) = normalizeLinear ? (Normalized, NormalizedTransposed) : (raw, raw.Transpose());
    }

    /// <summary>
    /// Item j's expansion row alpha d_j^1/2 V_j from its singular vector row (in place when both
    /// spans are one): the one arithmetic for it, which the paged scorer
    /// (<see cref="PagedGraphFilter"/>) shares so its scores are this filter's to the bit.
    /// </summary>
    internal static void FoldRow(ReadOnlySpan<float> vector, float alpha, double degree, Span<float> into) =>
        TensorPrimitives.Multiply(vector, (float)(alpha * Math.Sqrt(degree)), into);

    /// <summary>R~ = D_u^-1/2 R D_i^-1/2 (users x items).</summary>
    public SparseMatrix Normalized { get; }

    /// <summary>R~ transposed (items x users).</summary>
    public SparseMatrix NormalizedTransposed { get; }

    /// <summary>The training matrix R (binary, or the summed weights), users x items.</summary>
    public SparseMatrix Raw => _raw;

    /// <summary>Rank of the ideal filter: the singular vectors kept (0 for the linear filter alone).</summary>
    public int Components => _expand is null ? 0 : _components;

    /// <summary>
    /// The right singular vectors V (items x <see cref="Components"/>) the filter was built from,
    /// recovered from the folded expansion rows alpha d_i^1/2 V_i so the model need not keep both;
    /// an item of degree 0 has a zero row, as its column of R~ is zero. Null without an ideal filter.
    /// </summary>
    public float[]? RightSingularVectors()
    {
        if (_expand is null) return null;
        var k = _components;
        var vectors = new float[_expand.Length];
        for (var j = 0; j < _raw.Columns; j++)
        {
            var degree = _itemDegree[j];
            if (degree > 0) TensorPrimitives.Multiply(_expand.AsSpan(j * k, k), (float)(1 / (_alpha * Math.Sqrt(degree))), vectors.AsSpan(j * k, k));
        }
        return vectors;
    }

    public void Score(int user, Span<float> scores) => ScoreRow(_raw.RowIndices(user), _raw.RowValues(user), scores);

    /// <summary>Scores an arbitrary row (item indices and weights), e.g. a user's current interactions.</summary>
    public void ScoreRow(ReadOnlySpan<int> items, ReadOnlySpan<float> weights, Span<float> scores)
    {
        ScoreLinear(items, weights, scores);
        ScoreIdeal(items, weights, scores);
        if (_sharpenSteps > 0) Sharpen(scores[.._raw.Columns], 1);
    }

    /// <summary>
    /// Each row of <paramref name="rows"/> as int8 times its scale (largest magnitude / 127), and each
    /// quantized row's sum of magnitudes and each float row's Euclidean length. Rows are independent, so blocks of them run on all cores
    /// (at 650k x 256 this is a large share of a first recommend()).
    /// </summary>
    private static (sbyte[] Quantized, float[] Scales, float[] Magnitudes, float[] Norms) Quantize(float[] rows, int count, int width)
    {
        var quantized = new sbyte[rows.Length];
        var scales = new float[count];
        var magnitudes = new float[count];
        var norms = new float[count];
        var chunk = Parallelism.ChunkSize(count);
        Parallel.For(0, (count + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            var end = Math.Min(count, (block + 1) * chunk);
            for (var j = block * chunk; j < end; j++)
            {
                var row = rows.AsSpan(j * width, width);
                norms[j] = TensorPrimitives.Norm(row);
                var largest = Math.Abs(TensorPrimitives.MaxMagnitude(row));
                if (!(largest > 0)) continue;
                var scale = largest / 127f;
                scales[j] = scale;
                var total = 0;
                for (var c = 0; c < width; c++)
                {
                    var value = (sbyte)Math.Clamp(MathF.Round(row[c] / scale), -127, 127);
                    quantized[j * width + c] = value;
                    total += Math.Abs(value);
                }
                magnitudes[j] = total;
            }
        });
        return (quantized, scales, magnitudes, norms);
    }

    /// <summary>
    /// The top-k path of recommend(), in three tiers, each ruling items out before the next reads
    /// more: (1) the linear part exactly, and a floor: the k-th best exact score among the items the
    /// linear part ranks highest (any k exact scores put a floor under the k-th best); (2) for every
    /// item, the bound |p| |e_j| on its ideal part (Cauchy-Schwarz, with slack for float rounding):
    /// an item whose linear score plus that bound is below the floor is out without reading its row;
    /// (3) for the rest, the ideal part from the int8 rows with a bound on its error (half a
    /// quantization step per component times |p|_1), then exactly - the same arithmetic as
    /// <see cref="ScoreRow"/> - for every item whose upper bound reaches the k-th best lower bound.
    /// An item ruled out gets its upper bound, which is below the k-th exact score. So the selection
    /// and the scores shown are those of the exact path. Sharpening needs every exact score and
    /// takes the exact path.
    /// </summary>
    public void ScoreRowForTop(ReadOnlySpan<int> items, ReadOnlySpan<float> weights, int k, ReadOnlySpan<int> excludedSorted, Span<float> scores)
    {
        var itemCount = _raw.Columns;
        if (_expand is null || _sharpenSteps > 0 || k >= itemCount / 4)
        {
            ScoreRow(items, weights, scores);
            return;
        }
        scores = scores[..itemCount];
        var pool = System.Buffers.ArrayPool<float>.Shared;
        var lower = pool.Rent(itemCount);
        var linear = pool.Rent(itemCount);
        ScoreLinear(items, weights, linear.AsSpan(0, itemCount));
        var projection = Project(items, weights);
        var width = _components;
        var floor = Floor(linear.AsSpan(0, itemCount), projection, k, excludedSorted);
        // |p| |e_j| with room for the rounding of both lengths and of the exact dot product (each
        // within width x 2^-24 of its value), doubled.
        var normBound = TensorPrimitives.Norm(projection) * (1 + (3 * width + 16) * 1.2e-7f);
        // Half a quantization step per component, plus room for the float rounding of the exact
        // dot product (at most width x 2^-24 of the sum of |e_c p_c|, and |e_c| <= 127 steps).
        var reach = (0.51f + width * 8e-6f) * TensorPrimitives.SumOfMagnitudes(projection);
        // Tier 2: one float per item, in one vector pass that writes every item's upper bound into
        // the scores and lists the items whose bound reaches the floor; the rest are never read again.
        var upper = scores;
        var shortlist = Reachable(linear.AsSpan(0, itemCount), _norms, normBound * (1 + 1e-6f), floor, upper);
        // Tier 3: the int8 rows of the survivors, split over the cores when they are many.
        // With AVX2 the projection goes to int16 too (step pStep): q . p^ is then exact integer
        // arithmetic, 16 products an instruction, and the error bound gains s_j * pStep/2 * |q_j|_1.
        var integer = System.Runtime.Intrinsics.X86.Avx2.IsSupported && width % 16 == 0;
        var pStep = integer ? TensorPrimitives.MaxMagnitude(projection) is var m && m != 0 ? Math.Abs(m) / 32767f : 1f : 0f;
        var pq = integer ? new short[width] : [];
        for (var c = 0; c < pq.Length; c++) pq[c] = (short)Math.Clamp(MathF.Round(projection[c] / pStep), -32767, 32767);
        var survivorUpper = new float[shortlist.Length];
        var chunk = (long)shortlist.Length * width < 4_000_000 || Environment.ProcessorCount == 1 ? Math.Max(1, shortlist.Length) : Parallelism.ChunkSize(shortlist.Length);
        Parallel.For(0, (shortlist.Length + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            var end = Math.Min(shortlist.Length, (block + 1) * chunk);
            for (var n = block * chunk; n < end; n++)
            {
                var j = shortlist[n];
                var scale = _scales![j];
                float product, error;
                if (integer)
                {
                    product = scale * pStep * QuantizedDotInt16(_quantized.AsSpan(j * width, width), pq);
                    error = scale * (reach + 0.51f * pStep * _magnitudes![j]);
                }
                else
                {
                    product = scale * QuantizedDot(_quantized.AsSpan(j * width, width), projection);
                    error = scale * reach;
                }
                var estimate = linear[j] + product;
                // The additions round too, relative to the terms.
                error += 1e-6f * (Math.Abs(linear[j]) + Math.Abs(product));
                lower[j] = estimate - error;
                survivorUpper[n] = estimate + error;
            }
        });
        for (var n = 0; n < shortlist.Length; n++) upper[shortlist[n]] = Math.Min(upper[shortlist[n]], survivorUpper[n]);
        var best = new int[k];
        var found = TopK.SelectAmong(lower.AsSpan(0, itemCount), shortlist, k, excludedSorted, best);
        var threshold = Math.Max(floor, found < k ? float.NegativeInfinity : lower[best[found - 1]]);
        // Every item has its upper bound in the scores; only a survivor can reach the threshold (the
        // others are below the floor), and those that do get their exact score.
        foreach (var j in shortlist)
            if (upper[j] >= threshold) upper[j] = linear[j] + TensorPrimitives.Dot(_expand.AsSpan(j * width, width), projection);
        pool.Return(lower);
        pool.Return(linear);
    }

    /// <summary>
    /// Tier 2 of <see cref="ScoreRowForTop"/>, one vector pass: each item's upper bound
    /// linear_j + |p| |e_j| + 1e-6 |linear_j| (<paramref name="scale"/> = |p| with its slack, times
    /// the stored length |e_j|) into <paramref name="upper"/>, and the items whose bound reaches
    /// <paramref name="floor"/>, ascending. The paged scorer shares it.
    /// </summary>
    internal static int[] Reachable(ReadOnlySpan<float> linear, ReadOnlySpan<float> norms, float scale, float floor, Span<float> upper)
    {
        var found = new List<int>();
        var n = linear.Length;
        var j = 0;
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            ref var l = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(linear);
            ref var e = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(norms);
            ref var u = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(upper);
            var s = System.Runtime.Intrinsics.Vector256.Create(scale);
            var epsilon = System.Runtime.Intrinsics.Vector256.Create(1e-6f);
            var threshold = System.Runtime.Intrinsics.Vector256.Create(floor);
            for (; j + 8 <= n; j += 8)
            {
                var value = System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref l, (nuint)j);
                var bound = System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref e, (nuint)j) * s;
                bound = System.Runtime.Intrinsics.Vector256.Abs(value) * epsilon + bound;
                bound += value;
                System.Runtime.Intrinsics.Vector256.StoreUnsafe(bound, ref u, (nuint)j);
                var mask = System.Runtime.Intrinsics.Vector256.ExtractMostSignificantBits(System.Runtime.Intrinsics.Vector256.GreaterThanOrEqual(bound, threshold));
                while (mask != 0)
                {
                    found.Add(j + System.Numerics.BitOperations.TrailingZeroCount(mask));
                    mask &= mask - 1;
                }
            }
        }
        for (; j < n; j++)
        {
            var bound = norms[j] * scale;
            bound = Math.Abs(linear[j]) * 1e-6f + bound;
            bound += linear[j];
            upper[j] = bound;
            if (bound >= floor) found.Add(j);
        }
        return [.. found];
    }

    /// <summary>
    /// A floor under the k-th best exact score: the k-th best exact score (<see cref="ScoreRow"/>'s
    /// arithmetic) of the 2k (at least 32) unexcluded items with the best linear scores, which on
    /// real data are mostly the top k themselves; minus infinity when fewer than k items are left.
    /// </summary>
    private float Floor(ReadOnlySpan<float> linear, float[] projection, int k, ReadOnlySpan<int> excludedSorted)
    {
        var width = _components;
        var candidates = new int[Math.Min(linear.Length, Math.Max(2 * k, 32))];
        var found = TopK.Select(linear, candidates.Length, excludedSorted, candidates);
        if (found < k) return float.NegativeInfinity;
        var exact = new float[found];
        for (var c = 0; c < found; c++) exact[c] = linear[candidates[c]] + TensorPrimitives.Dot(_expand!.AsSpan(candidates[c] * width, width), projection);
        exact.AsSpan().Sort();
        return exact[found - k];
    }

    public void ScoreUserForTop(int user, int k, ReadOnlySpan<int> excludedSorted, Span<float> scores) =>
        ScoreRowForTop(_raw.RowIndices(user), _raw.RowValues(user), k, excludedSorted, scores);

    /// <summary>q . p for an int8 row q and an int16 p, with AVX2's 16-bit multiply-add (exact: at most 2048 x 127 x 32767 fits in int32 lanes).</summary>
    private static unsafe int QuantizedDotInt16(ReadOnlySpan<sbyte> q, ReadOnlySpan<short> p)
    {
        var sum = System.Runtime.Intrinsics.Vector256<int>.Zero;
        fixed (sbyte* qp = q)
        fixed (short* pp = p)
        {
            for (var i = 0; i < q.Length; i += 16)
            {
                var wide = System.Runtime.Intrinsics.X86.Avx2.ConvertToVector256Int16(qp + i);
                var products = System.Runtime.Intrinsics.X86.Avx2.MultiplyAddAdjacent(wide, System.Runtime.Intrinsics.Vector256.Load(pp + i));
                sum = System.Runtime.Intrinsics.X86.Avx2.Add(sum, products);
            }
        }
        return System.Runtime.Intrinsics.Vector256.Sum(sum);
    }

    /// <summary>q . p for an int8 row q, widened to float a vector at a time.</summary>
    private static float QuantizedDot(ReadOnlySpan<sbyte> q, ReadOnlySpan<float> p)
    {
        var lanes = Vector<sbyte>.Count;
        var sum = Vector<float>.Zero;
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var floats = Vector<float>.Count;
            for (; i + lanes <= q.Length; i += lanes)
            {
                Vector.Widen(new Vector<sbyte>(q[i..]), out var low, out var high);
                Vector.Widen(low, out var a, out var b);
                Vector.Widen(high, out var c, out var d);
                sum += Vector.ConvertToSingle(a) * new Vector<float>(p[i..]);
                sum += Vector.ConvertToSingle(b) * new Vector<float>(p[(i + floats)..]);
                sum += Vector.ConvertToSingle(c) * new Vector<float>(p[(i + 2 * floats)..]);
                sum += Vector.ConvertToSingle(d) * new Vector<float>(p[(i + 3 * floats)..]);
            }
        }
        var total = Vector.Sum(sum);
        for (; i < q.Length; i++) total += q[i] * p[i];
        return total;
    }

    /// <summary>
    /// The linear part's per-user sums, per thread, kept all zero between calls (each call resets
    /// the entries it touched), so a call costs what the row reaches, not the number of users.
    /// </summary>
    [ThreadStatic] private static double[]? _hopSums;
    [ThreadStatic] private static bool[]? _hopTouched;

    private void ScoreLinear(ReadOnlySpan<int> items, ReadOnlySpan<float> weights, Span<float> scores)
    {
        scores.Clear();
        // Linear filter r R~^T R~, as two sparse hops: items -> users (a = r R~^T), then users -> items.
        // The hop sums in double: with 'normalization' 'none' it is a sum of products of two weights.
        if (_hopSums is null || _hopSums.Length < _hop.Rows) (_hopSums, _hopTouched) = (new double[_hop.Rows], new bool[_hop.Rows]);
        var hop = _hopSums;
        var marked = _hopTouched!;
        var touched = new List<int>();
        try
        {
            for (var n = 0; n < items.Length; n++)
            {
                var item = items[n];
                var weight = weights[n];
                var users = _hopTransposed.RowIndices(item);
                var values = _hopTransposed.RowValues(item);
                for (var p = 0; p < users.Length; p++)
                {
                    // Marked apart from the sum: a zero weight leaves the sum at 0, and the user must still be counted once.
                    if (!marked[users[p]])
                    {
                        marked[users[p]] = true;
                        touched.Add(users[p]);
                    }
                    hop[users[p]] += (double)weight * values[p];
                }
            }
            foreach (var user in touched)
            {
                var weight = hop[user];
                var columns = _hop.RowIndices(user);
                var values = _hop.RowValues(user);
                for (var p = 0; p < columns.Length; p++) scores[columns[p]] += (float)(weight * values[p]);
            }
        }
        finally
        {
            foreach (var user in touched)
            {
                hop[user] = 0;
                marked[user] = false;
            }
        }
    }

    private void ScoreIdeal(ReadOnlySpan<int> items, ReadOnlySpan<float> weights, Span<float> scores)
    {
        if (_expand is null) return;
        // Ideal low-pass r D^-1/2 V V^T D^1/2: project the row on the top singular directions, then expand.
        var projection = Project(items, weights);
        var itemCount = scores.Length;
        var k = _components;
        if ((long)itemCount * k < 4_000_000 || Environment.ProcessorCount == 1)
        {
            Expand(projection, scores, 0, itemCount);
            return;
        }
        // A large catalogue streams tens of MB per user: split one call across cores to cut latency.
        var output = scores.ToArray();
        var chunk = Parallelism.ChunkSize(itemCount);
        Parallel.For(0, (itemCount + chunk - 1) / chunk, Parallelism.Options,
            block => Expand(projection, output, block * chunk, Math.Min(itemCount, (block + 1) * chunk)));
        output.CopyTo(scores);
    }

    /// <summary>
    /// r D^-1/2 V, computed from the stored expansion rows alpha d_i^1/2 V_i (so V itself need not be
    /// kept): d_i^-1/2 V_i = expand_i / (alpha d_i).
    /// </summary>
    private float[] Project(ReadOnlySpan<int> items, ReadOnlySpan<float> weights)
    {
        var k = _components;
        var projection = new float[k];
        for (var n = 0; n < items.Length; n++)
        {
            var degree = _itemDegree[items[n]];
            if (degree <= 0) continue;
            TensorPrimitives.MultiplyAdd(_expand.AsSpan(items[n] * k, k), (float)(weights[n] / (_alpha * degree)), projection, projection);
        }
        return projection;
    }

    private void Expand(float[] projection, Span<float> scores, int from, int to)
    {
        var k = _components;
        for (var j = from; j < to; j++) scores[j] += TensorPrimitives.Dot(_expand.AsSpan(j * k, k), projection);
    }

    private void Expand(float[] projection, float[] scores, int from, int to) => Expand(projection, scores.AsSpan(), from, to);

    /// <summary>
    /// Scores a block of users into <paramref name="scores"/> (users.Length rows of one score per
    /// item). The linear part runs per user; the ideal part is a blocked matrix product, so each
    /// item's vector is read once per block instead of once per user.
    /// </summary>
    public void ScoreBatch(ReadOnlySpan<int> users, Span<float> scores)
    {
        var items = _raw.Columns;
        for (var b = 0; b < users.Length; b++)
        {
            var row = scores.Slice(b * items, items);
            // Linear part only: the ideal part is added for the whole block below.
            ScoreLinear(_raw.RowIndices(users[b]), _raw.RowValues(users[b]), row);
        }
        if (_expand is not null)
        {
            var k = _components;
            var projections = new float[users.Length * k];
            for (var b = 0; b < users.Length; b++) Project(_raw.RowIndices(users[b]), _raw.RowValues(users[b])).CopyTo(projections, b * k);
            DenseMath.MultiplyTransposedAdd(projections, users.Length, _expand, items, k, scores);
        }
        if (_sharpenSteps > 0) Sharpen(scores[..(users.Length * items)], users.Length);
    }

    /// <summary>Sharpening's work buffers, per thread: item-major blocks of several users.</summary>
    [ThreadStatic] private static float[][]? _buffers;

    /// <summary>
    /// BSPM's sharpening of <paramref name="rows"/> filtered rows (row-major, one score per item):
    /// dy/dt = -y P integrated over <c>sharpen_time</c> in <c>sharpen_steps</c> classic RK4 steps,
    /// each four products with P = H^T H (H the linear part's normalised matrix), done as two sparse
    /// hops through the users. The rows are turned item-major so each stored entry of H moves a
    /// whole block of users with vector instructions.
    /// </summary>
    private void Sharpen(Span<float> scores, int rows)
    {
        var items = _raw.Columns;
        // One row (recommend()) goes with plain loops; blocks are padded to whole vectors.
        var width = rows == 1 ? 1 : (rows + Vector<float>.Count - 1) / Vector<float>.Count * Vector<float>.Count;
        var itemLength = items * width;
        var userLength = _hop.Rows * width;
        var buffers = _buffers;
        if (buffers is null || buffers[0].Length < itemLength || buffers[4].Length < userLength)
            _buffers = buffers = [new float[itemLength], new float[itemLength], new float[itemLength], new float[itemLength], new float[userLength]];
        var y = buffers[0].AsSpan(0, itemLength);
        var sum = buffers[1].AsSpan(0, itemLength);
        var stage = buffers[2].AsSpan(0, itemLength);
        var product = buffers[3].AsSpan(0, itemLength);
        var hop = buffers[4].AsSpan(0, userLength);
        y.Clear();
        for (var b = 0; b < rows; b++)
            for (var j = 0; j < items; j++) y[j * width + b] = scores[b * items + j];
        var h = (float)(_sharpenTime / _sharpenSteps);
        if (width > 1)
        {
            // Blocks: the RK4 sums are folded into each product's item half, so no stage is streamed twice.
            for (var step = 0; step < _sharpenSteps; step++)
            {
                FusedProduct(y, hop, width, y, sum, stage, -h / 6, -h / 2, initSum: true, writeStage: true);
                FusedProduct(stage, hop, width, y, sum, stage, -h / 3, -h / 2, initSum: false, writeStage: true);
                FusedProduct(stage, hop, width, y, sum, stage, -h / 3, -h, initSum: false, writeStage: true);
                FusedProduct(stage, hop, width, y, sum, stage, -h / 6, 0, initSum: false, writeStage: false);
                var next = sum;
                sum = y;
                y = next;
            }
            for (var b = 0; b < rows; b++)
                for (var j = 0; j < items; j++) scores[b * items + j] = y[j * width + b];
            return;
        }
        for (var step = 0; step < _sharpenSteps; step++)
        {
            // k_s = -(stage_s) P; y' = y + h/6 (k1 + 2 k2 + 2 k3 + k4), with the sign folded into the weights.
            MultiplyByFilter(y, product, hop, width);
            y.CopyTo(sum);
            TensorPrimitives.MultiplyAdd(product, -h / 6, sum, sum);
            TensorPrimitives.MultiplyAdd(product, -h / 2, y, stage);
            MultiplyByFilter(stage, product, hop, width);
            TensorPrimitives.MultiplyAdd(product, -h / 3, sum, sum);
            TensorPrimitives.MultiplyAdd(product, -h / 2, y, stage);
            MultiplyByFilter(stage, product, hop, width);
            TensorPrimitives.MultiplyAdd(product, -h / 3, sum, sum);
            TensorPrimitives.MultiplyAdd(product, -h, y, stage);
            MultiplyByFilter(stage, product, hop, width);
            TensorPrimitives.MultiplyAdd(product, -h / 6, sum, sum);
            sum.CopyTo(y);
        }
        for (var b = 0; b < rows; b++)
            for (var j = 0; j < items; j++) scores[b * items + j] = y[j * width + b];
    }

    /// <summary>
    /// output = input P for item-major blocks <paramref name="width"/> users wide: input H^T into
    /// the users (<paramref name="hop"/>), then H back into the items. Both halves gather - each
    /// user's hop row sums the input rows of its items, each item's output row the hop rows of its
    /// users - so every row is written once from a small accumulator, and the reads are the only
    /// scattered accesses.
    /// </summary>
    private void MultiplyByFilter(ReadOnlySpan<float> input, Span<float> output, Span<float> hop, int width)
    {
        if (width == 1)
        {
            MultiplyByFilter(input, output, hop);
            return;
        }
        var userCount = _hop.Rows;
        for (var u = 0; u < userCount; u++) Gather(input, width, _hop.RowIndices(u), _hop.RowValues(u), hop.Slice(u * width, width));
        var itemCount = _hopTransposed.Rows;
        for (var i = 0; i < itemCount; i++) Gather(hop, width, _hopTransposed.RowIndices(i), _hopTransposed.RowValues(i), output.Slice(i * width, width));
    }

    /// <summary>
    /// target = sum over p of values[p] * rows[indices[p]] (rows <paramref name="width"/> floats
    /// each, a whole number of vectors). Up to eight vectors wide the sums stay in registers for
    /// the whole row; wider blocks go a vector group at a time.
    /// </summary>
    private static void Gather(ReadOnlySpan<float> rows, int width, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> target)
    {
        var lanes = Vector<float>.Count;
        var vectors = width / lanes;
        var source = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector<float>>(rows);
        var output = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector<float>>(target);
        for (var group = 0; group < vectors; group += 8)
        {
            var count = Math.Min(8, vectors - group);
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (var p = 0; p < indices.Length; p++)
            {
                var scale = new Vector<float>(values[p]);
                var row = source.Slice(indices[p] * vectors + group, count);
                switch (count)
                {
                    case 8: a7 += row[7] * scale; goto case 7;
                    case 7: a6 += row[6] * scale; goto case 6;
                    case 6: a5 += row[5] * scale; goto case 5;
                    case 5: a4 += row[4] * scale; goto case 4;
                    case 4: a3 += row[3] * scale; goto case 3;
                    case 3: a2 += row[2] * scale; goto case 2;
                    case 2: a1 += row[1] * scale; goto default;
                    default: a0 += row[0] * scale; break;
                }
            }
            var into = output.Slice(group, count);
            into[0] = a0;
            if (count > 1) into[1] = a1;
            if (count > 2) into[2] = a2;
            if (count > 3) into[3] = a3;
            if (count > 4) into[4] = a4;
            if (count > 5) into[5] = a5;
            if (count > 6) into[6] = a6;
            if (count > 7) into[7] = a7;
        }
    }

    /// <summary>
    /// One RK4 stage for a block: k = -(input P) is never stored; as each item's row of input P
    /// comes out of the gather, sum (= y + ... when <paramref name="initSum"/>) gains
    /// <paramref name="sumCoefficient"/> times it and the next stage becomes y plus
    /// <paramref name="stageCoefficient"/> times it. <paramref name="input"/> may be
    /// <paramref name="stage"/>: it is read whole into the users before any item is written.
    /// </summary>
    private void FusedProduct(ReadOnlySpan<float> input, Span<float> hop, int width, ReadOnlySpan<float> y, Span<float> sum, Span<float> stage,
        float sumCoefficient, float stageCoefficient, bool initSum, bool writeStage)
    {
        var userCount = _hop.Rows;
        for (var u = 0; u < userCount; u++) Gather(input, width, _hop.RowIndices(u), _hop.RowValues(u), hop.Slice(u * width, width));
        Span<float> row = stackalloc float[width];
        var rowVectors = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector<float>>(row);
        var yVectors = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector<float>>(y);
        var sumVectors = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector<float>>(sum);
        var stageVectors = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector<float>>(stage);
        var perRow = rowVectors.Length;
        var toSum = new Vector<float>(sumCoefficient);
        var toStage = new Vector<float>(stageCoefficient);
        var itemCount = _hopTransposed.Rows;
        for (var i = 0; i < itemCount; i++)
        {
            Gather(hop, width, _hopTransposed.RowIndices(i), _hopTransposed.RowValues(i), row);
            var at = i * perRow;
            for (var v = 0; v < perRow; v++)
            {
                var product = rowVectors[v];
                var current = yVectors[at + v];
                sumVectors[at + v] = (initSum ? current : sumVectors[at + v]) + product * toSum;
                if (writeStage) stageVectors[at + v] = current + product * toStage;
            }
        }
    }

    /// <summary>
    /// output = input P for one row, gathering as the blocked form does; each half is split over
    /// the cores (every user's and item's sum is its own, so the chunks share nothing).
    /// </summary>
    private void MultiplyByFilter(ReadOnlySpan<float> input, Span<float> output, Span<float> hop)
    {
        var pool = System.Buffers.ArrayPool<float>.Shared;
        var inputArray = pool.Rent(input.Length);
        var hopArray = pool.Rent(_hop.Rows);
        var outputArray = pool.Rent(_hopTransposed.Rows);
        input.CopyTo(inputArray);
        GatherRows(_hop, inputArray, hopArray);
        GatherRows(_hopTransposed, hopArray, outputArray);
        hopArray.AsSpan(0, _hop.Rows).CopyTo(hop);
        outputArray.AsSpan(0, _hopTransposed.Rows).CopyTo(output);
        pool.Return(inputArray);
        pool.Return(hopArray);
        pool.Return(outputArray);
    }

    /// <summary>target[r] = sum over the stored entries (r, c) of <paramref name="matrix"/> of value * source[c], in chunks over the cores.</summary>
    private static void GatherRows(SparseMatrix matrix, float[] source, float[] target)
    {
        var rows = matrix.Rows;
        var chunk = Environment.ProcessorCount == 1 ? rows : Parallelism.ChunkSize(rows);
        Parallel.For(0, (rows + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            var end = Math.Min(rows, (block + 1) * chunk);
            for (var r = block * chunk; r < end; r++)
            {
                var columns = matrix.RowIndices(r);
                var values = matrix.RowValues(r);
                var sum = 0f;
                for (var p = 0; p < columns.Length; p++) sum += source[columns[p]] * values[p];
                target[r] = sum;
            }
        });
    }
}
