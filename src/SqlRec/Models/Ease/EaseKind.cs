using System.Numerics.Tensors;
using SqlRec.Compute;

namespace SqlRec.Models;

/// <summary>
/// <c>ease</c>: Embarrassingly Shallow Autoencoders (Steck, WWW 2019). A closed-form item-item
/// model: with X the users x items matrix, P = (X^T X + lambda I)^-1 and B = I - P diag(1/diag(P))
/// (so diag(B) = 0), a user's row x is scored x B. No training loop: the build is one Gram matrix
/// and one inverse (Cholesky on the CPU, Gauss-Jordan on a GPU; in double); scoring sums the rows of B of the user's items, so it
/// scores any row - the user's current interactions, read at serving time, count at once. Memory
/// and time grow with items squared and cubed: refused before work when it does not fit.
/// </summary>
internal sealed class EaseKind : IModelKind
{
    private static readonly OptionSpec<double> Lambda = Option.Real("lambda", 500, 0, 1e12,
        "L2 regularisation added to the diagonal of X^T X; larger for denser data (Steck used 200-1000 on MovieLens-20M, Netflix and MSD)", minExclusive: true);
    private static readonly OptionSpec<string> Weighting = Option.Choice("weighting", "binary", ["binary", "weight"],
        "`'binary'`: every (user, item) pair counts 1, as in the paper; `'weight'`: the summed weights");
    private static readonly OptionSpec<bool> Live = Option.Boolean("live", true,
        "score each user's *current* rows, read through `source` at `recommend()` time, as `graph_filter` does");
    private static readonly OptionSpec<string> Device = EmbeddingOptions.Device(
        "where the inverse runs: `'auto'` (a CUDA or OpenCL GPU when ILGPU finds one, else the CPU), `'cpu'` (blocked Cholesky on the cores), " +
        "`'cuda'` / `'opencl'` (Gauss-Jordan in double on the GPU, one thread per entry; an error when there is none, never a silent switch), " +
        "`'ilgpu-cpu'` (the GPU kernels on ILGPU's CPU accelerator, to check them without a GPU; slow). The device used is in the model's metrics. " +
        "The result depends on the device only by double rounding");

    /// <summary>Options of ease.</summary>
    internal sealed record Options(OptionValues Values) : TableOptions(Values)
    {
        public double Lambda => Values.Get(EaseKind.Lambda);
        public bool UseWeights => Values.Get(Weighting) == "weight";
        public bool Live => Values.Get(EaseKind.Live);
        public string Device => Values.Get(EaseKind.Device);
    }

    internal const string Matrix = "ease_b";
    internal const string Weights = "ease_weights";

    public string Name => "ease";

    public OptionTable OptionTable { get; } = new(Lambda, Weighting, Live, Device);

    public string? VectorsFrom => null;

    public IKindOptions ReadOptions(OptionValues values) => new Options(values);

    public void CheckSource(IKindOptions options, int sourceColumns, TrainingContext context) =>
        EmbeddingOptions.CheckDevice(((Options)options).Device, context);

    public void CheckData(Interactions data, ItemContent? content, IKindOptions options, TrainingContext context)
    {
        if (data.Users.Count < 2 || data.Items.Count < 2)
            throw Errors.SourceTooSmall(context.Function, Name, "at least 2 users and 2 items");
        if (data.Items.Count > SpdInverse.MaxOrder) throw Errors.EaseTooManyItems(context.Function, data.Items.Count, SpdInverse.MaxOrder);
    }

    /// <summary>Two items x items matrices of doubles (the Gram matrix, inverted in place, and L^-T) and B in floats.</summary>
    public MemoryEstimate? EstimateMemory(Interactions data, ItemContent? content, IKindOptions options)
    {
        var n = (long)data.Items.Count;
        return new MemoryEstimate(n * n * (8 + 8 + 4), $"{n:N0} items (an items x items matrix)",
            "use 'graph_filter' (its memory grows with items x components, not items squared), or train on fewer items");
    }

    public ModelArtifacts Train(Interactions data, ItemContent? content, IKindOptions kindOptions, TrainingContext context)
    {
        var options = (Options)kindOptions;
        var n = data.Items.Count;
        var weights = options.UseWeights ? data.UserItemWeights : null;
        context.Report("training", 0, null, "X^T X");
        var p = Gram(data.UserOffsets, data.UserItems, weights, n);
        for (var i = 0; i < n; i++) p[(long)i * n + i] += options.Lambda;
        var device = "cpu";
        var inverted = EmbeddingOptions.StartTrainer(options.Device, context, resolved =>
        {
            device = resolved.Description;
            return resolved.Ilgpu is null
                ? SpdInverse.Invert(p, n, (done, total) => context.Report("training", done, total, "inverse (Cholesky)"))
                : IlgpuSpdInverse.Invert(resolved.Ilgpu, p, n, (done, total) => context.Report("training", done, total, $"inverse (Gauss-Jordan on {resolved.Description})"));
        });
        if (!inverted) throw Errors.EaseNotPositiveDefinite(context.Function, options.Lambda);
        // B = I - P diag(1/diag(P)): B[i, j] = -P[i, j] / P[j, j] off the diagonal, 0 on it.
        var b = new float[(long)n * n];
        Parallel.For(0, n, Parallelism.Options, i =>
        {
            for (var j = 0; j < n; j++) b[(long)i * n + j] = i == j ? 0 : (float)(-p[(long)i * n + j] / p[(long)j * n + j]);
        });
        var artifacts = new ModelArtifacts();
        artifacts.Arrays[Matrix] = b;
        if (weights is not null) artifacts.Arrays[Weights] = weights;
        artifacts.Metrics["lambda"] = options.Lambda;
        artifacts.Metrics["device"] = device;
        return artifacts;
    }

    /// <summary>
    /// The lower triangle of X^T X in double: entry (i, j), j &lt;= i, sums w_ui w_uj over the users
    /// of both. Each row i is written by one task, from the users of item i.
    /// </summary>
    internal static double[] Gram(int[] offsets, int[] items, float[]? weights, int n)
    {
        var users = offsets.Length - 1;
        var itemOffsets = new int[n + 1];
        foreach (var item in items) itemOffsets[item + 1]++;
        for (var i = 0; i < n; i++) itemOffsets[i + 1] += itemOffsets[i];
        var itemUsers = new int[items.Length];
        var itemPositions = new int[items.Length];
        var fill = itemOffsets[..n];
        for (var u = 0; u < users; u++)
            for (var q = offsets[u]; q < offsets[u + 1]; q++)
            {
                var slot = fill[items[q]]++;
                itemUsers[slot] = u;
                itemPositions[slot] = q;
            }
        var gram = new double[(long)n * n];
        Parallel.For(0, n, Parallelism.Options, i =>
        {
            var row = gram.AsSpan((int)((long)i * n), i + 1);
            for (var s = itemOffsets[i]; s < itemOffsets[i + 1]; s++)
            {
                var u = itemUsers[s];
                double wi = weights is null ? 1 : weights[itemPositions[s]];
                // A user's items are sorted: stop at the diagonal.
                for (var q = offsets[u]; q < offsets[u + 1] && items[q] <= i; q++)
                    row[items[q]] += wi * (weights is null ? 1 : weights[q]);
            }
        });
        return gram;
    }

    public void CheckStored(StoredArrays stored, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        stored.CheckedFloats(Matrix, (long)stored.Items * stored.Items, $"{stored.Items.ToString(System.Globalization.CultureInfo.InvariantCulture)} items x items");
        var seen = stored.Ints(ArrayNames.SeenItems).Length;
        if (options.UseWeights) stored.CheckedFloats(Weights, seen, "one per seen pair");
        else if (stored.Arrays.ContainsKey(Weights)) throw Errors.Damaged(Errors.DamagedArrayUnexpected(Weights, "'weighting' is 'binary'"));
    }

    public ITrainedModel Load(StoredArrays stored, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        var scorer = new EaseScorer(stored.Floats(Matrix), stored.Items, stored.Ints(ArrayNames.SeenOffsets), stored.Ints(ArrayNames.SeenItems),
            stored.OptionalFloats(Weights));
        return new Trained(scorer, options.Live ? new LiveScoring(scorer, options.UseWeights) : null);
    }

    private sealed class Trained(EaseScorer scorer, LiveScoring? live) : ITrainedModel
    {
        public IUserScorer Scorer => scorer;

        public LiveScoring? Live => live;
    }
}

/// <summary>x B for a row x: the sum of B's rows of the row's items, weighted.</summary>
internal sealed class EaseScorer(float[] b, int items, int[] offsets, int[] seen, float[]? weights) : IUserScorer, IRowScorer
{
    public void Score(int user, Span<float> scores)
    {
        var from = offsets[user];
        var count = offsets[user + 1] - from;
        ReadOnlySpan<float> rowWeights = weights is null ? Ones(count) : weights.AsSpan(from, count);
        ScoreRow(seen.AsSpan(from, count), rowWeights, scores);
    }

    public void ScoreRow(ReadOnlySpan<int> rowItems, ReadOnlySpan<float> rowWeights, Span<float> scores)
    {
        scores = scores[..items];
        scores.Clear();
        for (var n = 0; n < rowItems.Length; n++)
            TensorPrimitives.MultiplyAdd(b.AsSpan((int)((long)rowItems[n] * items), items), rowWeights[n], scores, scores);
    }

    private static float[] Ones(int count)
    {
        var ones = new float[count];
        Array.Fill(ones, 1f);
        return ones;
    }
}
