using System.Globalization;
using System.Numerics.Tensors;
using SqlRec.Compute;

namespace SqlRec.Models;

/// <summary>
/// What paged serving keeps of a stored graph_filter version between calls: its parameters and the
/// arrays with one value per user or item (offsets, row lengths), a few MB even at a million items.
/// The arrays one row at a time is enough of (the singular vectors, the seen items, who has each
/// item) stay in the file: <see cref="PagedGraphFilter"/> reads what one user needs. Immutable.
/// </summary>
internal sealed class PagedGraphFilterState : IPagedModel
{
    private PagedGraphFilterState(int users, int items, float alpha, int components, bool normalize, int[] seenOffsets, int[] itemOffsets, float[]? norms,
        bool live)
    {
        ScoresLiveRows = live;
        Users = users;
        Items = items;
        Alpha = alpha;
        Components = components;
        Normalize = normalize;
        SeenOffsets = seenOffsets;
        ItemOffsets = itemOffsets;
        Norms = norms;
    }

    /// <inheritdoc />
    public bool ScoresLiveRows { get; }

    /// <summary>A whole load reads the singular vectors and the seen items (and builds their normalised copies).</summary>
    public double WholeLoadBytes => 4.0 * ((double)Items * Components + 3.0 * SeenOffsets[^1]);

    /// <inheritdoc />
    public IPagedCall Begin(IPagedArrays pages) => new PagedGraphFilter(pages, this);

    /// <summary>Users of the version.</summary>
    public int Users { get; }

    /// <summary>Items of the version.</summary>
    public int Items { get; }

    /// <summary>Weight of the ideal filter.</summary>
    public float Alpha { get; }

    /// <summary>Rank of the ideal filter (0: linear only).</summary>
    public int Components { get; }

    /// <summary>True when the linear part uses the symmetric normalisation.</summary>
    public bool Normalize { get; }

    /// <summary>Where each user's training items start in <c>seen_items</c> (users + 1).</summary>
    public int[] SeenOffsets { get; }

    /// <summary>Where each item's users start in <c>paged_item_users</c> (items + 1).</summary>
    public int[] ItemOffsets { get; }

    /// <summary>Each item's expansion row length; null without an ideal filter.</summary>
    public float[]? Norms { get; }

    /// <summary>
    /// True when the version was written with the arrays paged serving reads: a graph_filter with
    /// binary weighting and no sharpening, trained since paged serving exists.
    /// </summary>
    public static bool Supports(IPagedArrays pages, GraphFilterKind.Options options) =>
        !options.UseWeights && options.SharpenTime == 0 && pages.Has(GraphFilterKind.PagedItemOffsets);

    /// <summary>
    /// Reads and checks the parameters and the per-user and per-item arrays of a version of
    /// <paramref name="users"/> users and <paramref name="items"/> items: offsets from 0, never
    /// decreasing, both ending at the number of training pairs; lengths finite and not negative.
    /// Throws <see cref="StoredDataDamage"/>.
    /// </summary>
    public static PagedGraphFilterState Read(IPagedArrays pages, int users, int items, GraphFilterKind.Options options)
    {
        var parameters = pages.ReadWhole<float>(GraphFilterKind.Parameters, null);
        var components = GraphFilterKind.CheckParameters(parameters, options);
        var seenOffsets = PagedSeenItems.ReadOffsets(pages, ArrayNames.SeenOffsets, users, "one per user, plus one");
        var itemOffsets = PagedSeenItems.ReadOffsets(pages, GraphFilterKind.PagedItemOffsets, items, "one per item, plus one");
        if (itemOffsets[^1] != seenOffsets[^1])
            throw Errors.Damaged(Errors.DamagedArrayValue(GraphFilterKind.PagedItemOffsets, items, N(itemOffsets[^1]), $"{N(seenOffsets[^1])}, where '{ArrayNames.SeenOffsets}' ends"));
        float[]? norms = null;
        if (components > 0 && parameters[0] > 0)
        {
            norms = pages.ReadWhole<float>(GraphFilterKind.PagedNorms, items);
            for (var j = 0; j < norms.Length; j++)
            {
                if (!float.IsFinite(norms[j])) throw Errors.Damaged(Errors.DamagedArrayNotFinite(GraphFilterKind.PagedNorms, j, norms[j]));
                if (norms[j] < 0) throw Errors.Damaged(Errors.DamagedArrayValue(GraphFilterKind.PagedNorms, j, Errors.DescribeFloat(norms[j]), "a length of at least 0"));
            }
        }
        return new PagedGraphFilterState(users, items, parameters[0], components, parameters.Length < 3 || parameters[2] != 0, seenOffsets, itemOffsets, norms,
            options.Live);
    }

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// graph_filter's top-k for one user, reading from the file only what that user needs (see
/// <see cref="GraphFilter.ScoreRowForTop"/> for the method): the rows of the users who share one of
/// the user's items (the linear part's two hops), the singular vector rows of the user's items
/// (the projection), of the floor's candidates and of the items that survive the bound |p| |e_j|;
/// no other item's row is read. The arithmetic is <see cref="GraphFilter"/>'s, in the same order,
/// so the items and scores are those of the loaded model to the bit (tested). Every part read is
/// checked (<see cref="IPagedArrays"/>), and every index and vector row it gives before use.
/// One instance serves one call. Throws <see cref="StoredDataDamage"/>.
/// </summary>
internal sealed class PagedGraphFilter : IPagedCall
{
    private readonly PagedGraphFilterState _state;
    private readonly PagedSeenItems _seenBy;
    private readonly IPagedArray<int> _seen;
    private readonly IPagedArray<int> _itemUsers;
    private readonly IPagedArray<float>? _vectors;
    private readonly int _users;
    private readonly int _items;

    /// <summary>Opens the version's paged arrays.</summary>
    public PagedGraphFilter(IPagedArrays pages, PagedGraphFilterState state)
    {
        _state = state;
        _users = state.Users;
        _items = state.Items;
        _seenBy = new PagedSeenItems(pages, state.SeenOffsets, _items);
        _seen = pages.Open<int>(ArrayNames.SeenItems, state.SeenOffsets[^1]);
        _itemUsers = pages.Open<int>(GraphFilterKind.PagedItemUsers, state.ItemOffsets[^1]);
        if (state.Components > 0 && state.Alpha > 0) _vectors = pages.Open<float>(GraphFilterKind.Vectors, (long)_items * state.Components);
    }

    /// <summary>Parts of the large arrays read so far (for the benchmark's report).</summary>
    public int PartsRead => _seenBy.PartsRead + _seen.PartsRead + _itemUsers.PartsRead + (_vectors?.PartsRead ?? 0);

    /// <inheritdoc />
    public int[] SeenBy(int user) => _seenBy.Of(user);

    /// <inheritdoc />
    public void ScoreForTop(int[] row, int k, int[] excludedSorted, float[] scores) =>
        ScoreRowForTop(row, [.. Enumerable.Repeat(1f, row.Length)], k, excludedSorted, scores);

    /// <summary>
    /// Scores the row for its top <paramref name="k"/> into <paramref name="scores"/> (one per item):
    /// exact scores for every item that can reach the top k, an upper bound below the k-th best
    /// for the rest - so the top k and its scores are <see cref="GraphFilter.ScoreRowForTop"/>'s.
    /// <paramref name="k"/> must be below a quarter of the items (the loaded model scores all of
    /// them beyond that; serving loads it whole then).
    /// </summary>
    public void ScoreRowForTop(ReadOnlySpan<int> items, ReadOnlySpan<float> weights, int k, ReadOnlySpan<int> excludedSorted, Span<float> scores)
    {
        scores = scores[.._items];
        ScoreLinear(items, weights, scores);
        if (_vectors is null) return;
        var width = _state.Components;
        var projection = Project(items, weights);
        var row = new float[width];
        var floor = Floor(scores, projection, k, excludedSorted, row);
        // Tier 2 of GraphFilter.ScoreRowForTop, on the stored lengths: every item's upper bound into the scores.
        var normBound = TensorPrimitives.Norm(projection) * (1 + (3 * width + 16) * 1.2e-7f);
        var linear = scores.ToArray();
        var survivors = GraphFilter.Reachable(linear, _state.Norms, normBound * (1 + 1e-6f), floor, scores);
        // Every survivor is scored exactly (the loaded model's int8 tier only spares memory bandwidth);
        // the rest keep their bound, which is below the floor.
        foreach (var j in survivors)
            scores[j] = linear[j] + TensorPrimitives.Dot(ExpansionRow(j, row), projection);
    }

    /// <summary>GraphFilter.ScoreLinear: r H^T H as two sparse hops through the users, H the normalised (or raw) training matrix.</summary>
    private void ScoreLinear(ReadOnlySpan<int> items, ReadOnlySpan<float> weights, Span<float> scores)
    {
        scores.Clear();
        var hop = new double[_users];
        var marked = new bool[_users];
        var touched = new List<int>();
        var buffer = new int[64];
        for (var n = 0; n < items.Length; n++)
        {
            var item = items[n];
            var weight = weights[n];
            var users = Slice(_itemUsers, _state.ItemOffsets[item], _state.ItemOffsets[item + 1], ref buffer, GraphFilterKind.PagedItemUsers, _users);
            for (var p = 0; p < users.Length; p++)
            {
                var user = users[p];
                if (!marked[user])
                {
                    marked[user] = true;
                    touched.Add(user);
                }
                hop[user] += (double)weight * Value(user, item);
            }
        }
        foreach (var user in touched)
        {
            var weight = hop[user];
            var columns = Slice(_seen, _state.SeenOffsets[user], _state.SeenOffsets[user + 1], ref buffer, ArrayNames.SeenItems, _items);
            for (var p = 0; p < columns.Length; p++) scores[columns[p]] += (float)(weight * Value(user, columns[p]));
        }
    }

    /// <summary>An entry of the linear part's matrix: 1 / sqrt(d_u d_i) (SparseMatrix.NormalizeSymmetric's arithmetic), or 1 unnormalised.</summary>
    private float Value(int user, int item)
    {
        if (!_state.Normalize) return 1f;
        var userDegree = (double)(_state.SeenOffsets[user + 1] - _state.SeenOffsets[user]);
        return (float)(1f * InverseSqrt(userDegree) * InverseSqrt(Degree(item)));
    }

    private static double InverseSqrt(double d) => d > 0 ? 1 / Math.Sqrt(d) : 0;

    /// <summary>An item's degree: its number of training users (binary weighting).</summary>
    private double Degree(int item) => _state.ItemOffsets[item + 1] - _state.ItemOffsets[item];

    /// <summary>Elements from..to of an index array, checked below <paramref name="count"/>, in a buffer grown as needed.</summary>
    private static ReadOnlySpan<int> Slice(IPagedArray<int> array, int from, int to, ref int[] buffer, string name, int count)
    {
        var length = to - from;
        if (buffer.Length < length) buffer = new int[Math.Max(length, buffer.Length * 2)];
        var span = buffer.AsSpan(0, length);
        array.Read(from, span);
        for (var p = 0; p < span.Length; p++)
        {
            if ((uint)span[p] >= (uint)count) throw Errors.Damaged(Errors.DamagedArrayIndex(name, from + p, span[p], $"0..{(count - 1).ToString(CultureInfo.InvariantCulture)}"));
        }
        return span;
    }

    /// <summary>GraphFilter.Project: r D^-1/2 V from the expansion rows.</summary>
    private float[] Project(ReadOnlySpan<int> items, ReadOnlySpan<float> weights)
    {
        var k = _state.Components;
        var projection = new float[k];
        var row = new float[k];
        for (var n = 0; n < items.Length; n++)
        {
            var degree = Degree(items[n]);
            if (degree <= 0) continue;
            TensorPrimitives.MultiplyAdd(ExpansionRow(items[n], row), (float)(weights[n] / (_state.Alpha * degree)), projection, projection);
        }
        return projection;
    }

    /// <summary>GraphFilter.Floor: the k-th best exact score among the 2k (at least 32) best by the linear part.</summary>
    private float Floor(ReadOnlySpan<float> linear, float[] projection, int k, ReadOnlySpan<int> excludedSorted, float[] row)
    {
        var candidates = new int[Math.Min(linear.Length, Math.Max(2 * k, 32))];
        var found = TopK.Select(linear, candidates.Length, excludedSorted, candidates);
        if (found < k) return float.NegativeInfinity;
        var exact = new float[found];
        for (var c = 0; c < found; c++) exact[c] = linear[candidates[c]] + TensorPrimitives.Dot(ExpansionRow(candidates[c], row), projection);
        exact.AsSpan().Sort();
        return exact[found - k];
    }

    /// <summary>Item j's expansion row alpha d_j^1/2 V_j, read and checked finite, folded into <paramref name="row"/>.</summary>
    private float[] ExpansionRow(int item, float[] row)
    {
        _vectors!.Read((long)item * row.Length, row);
        var bad = VectorBlob.IndexOfNonFinite(row);
        if (bad >= 0) throw Errors.Damaged(Errors.DamagedArrayNotFinite(GraphFilterKind.Vectors, (long)item * row.Length + bad, row[bad]));
        GraphFilter.FoldRow(row, _state.Alpha, Degree(item), row);
        return row;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _seenBy.Dispose();
        _seen.Dispose();
        _itemUsers.Dispose();
        _vectors?.Dispose();
    }
}
