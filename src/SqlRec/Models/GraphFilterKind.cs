using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using SqlRec.Compute;
using SqlRec.Data;

namespace SqlRec.Models;

/// <summary>
/// <c>graph_filter</c>: learning-less graph collaborative filtering (GF-CF, Shen et al., CIKM 2021).
/// With R the user-item matrix and R~ = D_u^-1/2 R D_i^-1/2 its symmetric normalisation, a user's
/// row r is scored by a linear low-pass filter on the item-item graph, r R~^T R~, plus
/// <c>alpha</c> times an ideal low-pass filter r D_i^-1/2 V V^T D_i^1/2 built from the top
/// <c>components</c> right singular vectors V of R~ (randomized truncated SVD). No training loop:
/// the build is one SVD, and scoring applies the filter to the user's current row, so new
/// interactions count at once.
/// </summary>
internal sealed class GraphFilterKind : IModelKind
{
    /// <summary>Options of the graph filter.</summary>
    internal sealed record Options(int Components, double Alpha, int PowerIterations, int Oversampling, int Seed, bool UseWeights, bool Live,
        bool Normalize = true) : IKindOptions
    {
        public JsonObject ToJson() => new()
        {
            ["components"] = Components,
            ["alpha"] = Alpha,
            ["power_iterations"] = PowerIterations,
            ["oversampling"] = Oversampling,
            ["seed"] = Seed,
            ["weighting"] = UseWeights ? "weight" : "binary",
            ["normalization"] = Normalize ? "symmetric" : "none",
            ["live"] = Live,
        };
    }

    internal const string Vectors = "gf_vectors";

    /// <summary>Test hook: the memory the process may use, instead of what the runtime reports.</summary>
    internal static long? MemoryLimit;
    internal const string Parameters = "gf_parameters";
    internal const string Weights = "gf_weights";

    public string Name => "graph_filter";

    public IKindOptions ReadOptions(OptionReader reader) => new Options(
        Components: (int)reader.Integer("components", 256, 0, 2048),
        Alpha: reader.Number("alpha", 0.3, 0, 1000),
        PowerIterations: (int)reader.Integer("power_iterations", 4, 0, 20),
        Oversampling: (int)reader.Integer("oversampling", 32, 0, 1024),
        Seed: (int)reader.Integer("seed", 42, int.MinValue, int.MaxValue),
        UseWeights: reader.Choice("weighting", "binary", "binary", "weight") == "weight",
        Live: reader.Boolean("live", true),
        Normalize: reader.Choice("normalization", "symmetric", "symmetric", "none") == "symmetric");

    public void CheckSource(IKindOptions options, int sourceColumns)
    {
    }

    public void CheckData(Interactions data, IKindOptions kindOptions)
    {
        if (data.Users.Count < 2 || data.Items.Count < 2)
            throw Errors.SourceTooSmall("rec_train", Name, "at least 2 users and 2 items");
        var options = (Options)kindOptions;
        if (options.Components == 0 || options.Alpha == 0) return;
        // The SVD holds about three items x width and two users x width float blocks at once.
        var width = (long)Math.Min(options.Components + options.Oversampling, Math.Min(data.Users.Count, data.Items.Count));
        var needed = (3L * data.Items.Count + 2L * data.Users.Count) * width * sizeof(float);
        var available = MemoryLimit ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (needed > available * 0.8)
            throw Errors.ModelTooLarge("rec_train", Name, $"'components' {options.Components} on {data.Users.Count:N0} users and {data.Items.Count:N0} items",
                needed, (long)(available * 0.8), "lower 'components' (or 'oversampling'), or set 'components' to 0 for the linear filter alone");
    }

    public ModelArtifacts Train(Interactions data, IKindOptions kindOptions, TrainingContext context)
    {
        var options = (Options)kindOptions;
        var raw = RawMatrix(data.UserOffsets, data.UserItems, options.UseWeights ? data.UserItemWeights : null, data.Items.Count);
        var filter = new GraphFilter(raw, null, 0, 0, options.Normalize);
        var artifacts = new ModelArtifacts();
        var components = 0;
        if (options.Components > 0 && options.Alpha > 0)
        {
            var svd = RandomizedSvd.Compute(filter.Normalized, filter.NormalizedTransposed, options.Components, options.Oversampling,
                options.PowerIterations, options.Seed, (step, steps) => context.Report("training", step, steps, "truncated SVD"));
            artifacts.Arrays[Vectors] = svd.RightVectors;
            components = svd.Components;
            artifacts.Metrics["singular_value_first"] = Math.Round(svd.SingularValues.FirstOrDefault(), 6);
            artifacts.Metrics["singular_value_last"] = Math.Round(svd.SingularValues.LastOrDefault(), 6);
        }
        artifacts.Metrics["components"] = components;
        artifacts.Arrays[Parameters] = new[] { (float)options.Alpha, components, options.Normalize ? 1f : 0f };
        if (options.UseWeights) artifacts.Arrays[Weights] = data.UserItemWeights;
        return artifacts;
    }

    public IUserScorer? LoadScorer(IReadOnlyDictionary<string, Array> arrays, int users, int items)
    {
        var parameters = (float[])arrays[Parameters];
        var weights = arrays.TryGetValue(Weights, out var w) ? (float[])w : null;
        var raw = RawMatrix((int[])arrays[ArrayNames.SeenOffsets], (int[])arrays[ArrayNames.SeenItems], weights, items);
        var components = (int)parameters[1];
        var vectors = components > 0 ? (float[])arrays[Vectors] : null;
        return new GraphFilter(raw, vectors, components, parameters[0], parameters.Length < 3 || parameters[2] != 0);
    }

    private static SparseMatrix RawMatrix(int[] offsets, int[] items, float[]? weights, int itemCount)
    {
        var values = weights ?? Enumerable.Repeat(1f, items.Length).ToArray();
        return new SparseMatrix(offsets.Length - 1, itemCount, offsets, items, values);
    }
}

/// <summary>
/// The graph filter applied to one user's row (see <see cref="GraphFilterKind"/>). With
/// <c>normalizeLinear</c> false the linear part uses the raw matrix, r R^T R: item co-occurrence
/// counts, which is exactly GTE's propagation (Cai et al., CIKM 2023) with its default 3 layers
/// once seen items are masked (U_3 = R R^T R + 3R).
/// </summary>
internal sealed class GraphFilter : IUserScorer, IRowScorer, IBatchScorer
{
    private readonly SparseMatrix _raw;
    private readonly float[]? _expand;
    private readonly float[] _itemDegree;
    private readonly int _components;
    private readonly float _alpha;

    private readonly SparseMatrix _hop;
    private readonly SparseMatrix _hopTransposed;

    public GraphFilter(SparseMatrix raw, float[]? vectors, int components, float alpha, bool normalizeLinear = true)
    {
        _raw = raw;
        _components = components;
        _alpha = alpha;
        var itemDegree = raw.ColumnSums();
        _itemDegree = itemDegree.Select(d => (float)d).ToArray();
        if (vectors is not null && components > 0 && alpha > 0)
        {
            // The expansion side of the ideal filter, alpha * D^1/2 V, folded once so scoring is a plain dot product per item.
            _expand = new float[vectors.Length];
            for (var j = 0; j < raw.Columns; j++)
                TensorPrimitives.Multiply(vectors.AsSpan(j * components, components), (float)(alpha * Math.Sqrt(itemDegree[j])), _expand.AsSpan(j * components, components));
        }
        Normalized = raw.NormalizeSymmetric();
        NormalizedTransposed = Normalized.Transpose();
        (_hop, _hopTransposed) = normalizeLinear ? (Normalized, NormalizedTransposed) : (raw, raw.Transpose());
    }

    /// <summary>R~ = D_u^-1/2 R D_i^-1/2 (users x items).</summary>
    public SparseMatrix Normalized { get; }

    /// <summary>R~ transposed (items x users).</summary>
    public SparseMatrix NormalizedTransposed { get; }

    public void Score(int user, Span<float> scores) => ScoreRow(_raw.RowIndices(user), _raw.RowValues(user), scores);

    /// <summary>Scores an arbitrary row (item indices and weights), e.g. a user's current interactions.</summary>
    public void ScoreRow(ReadOnlySpan<int> items, ReadOnlySpan<float> weights, Span<float> scores)
    {
        ScoreLinear(items, weights, scores);
        ScoreIdeal(items, weights, scores);
    }

    private void ScoreLinear(ReadOnlySpan<int> items, ReadOnlySpan<float> weights, Span<float> scores)
    {
        scores.Clear();
        // Linear filter r R~^T R~, as two sparse hops: items -> users (a = r R~^T), then users -> items.
        var hop = new float[_hop.Rows];
        var touched = new List<int>();
        for (var n = 0; n < items.Length; n++)
        {
            var item = items[n];
            var weight = weights[n];
            var users = _hopTransposed.RowIndices(item);
            var values = _hopTransposed.RowValues(item);
            for (var p = 0; p < users.Length; p++)
            {
                if (hop[users[p]] == 0) touched.Add(users[p]);
                hop[users[p]] += weight * values[p];
            }
        }
        foreach (var user in touched)
        {
            var weight = hop[user];
            var columns = _hop.RowIndices(user);
            var values = _hop.RowValues(user);
            for (var p = 0; p < columns.Length; p++) scores[columns[p]] += weight * values[p];
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
            TensorPrimitives.MultiplyAdd(_expand.AsSpan(items[n] * k, k), weights[n] / (_alpha * degree), projection, projection);
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
        if (_expand is null) return;
        var k = _components;
        var projections = new float[users.Length * k];
        for (var b = 0; b < users.Length; b++) Project(_raw.RowIndices(users[b]), _raw.RowValues(users[b])).CopyTo(projections, b * k);
        DenseMath.MultiplyTransposedAdd(projections, users.Length, _expand, items, k, scores);
    }
}

/// <summary>A scorer that scores blocks of users at once, faster than one by one.</summary>
internal interface IBatchScorer
{
    /// <summary>Writes users.Length rows of one score per item into <paramref name="scores"/>.</summary>
    void ScoreBatch(ReadOnlySpan<int> users, Span<float> scores);
}

/// <summary>A scorer that can score any interaction row, not only the users it was built from.</summary>
internal interface IRowScorer
{
    /// <summary>Scores a row given as item indices with weights.</summary>
    void ScoreRow(ReadOnlySpan<int> items, ReadOnlySpan<float> weights, Span<float> scores);
}
