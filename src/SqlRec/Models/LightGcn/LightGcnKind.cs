using SqlRec.Compute;

namespace SqlRec.Models;

/// <summary>
/// <c>lightgcn</c>: LightGCN (He et al., SIGIR 2020). Users and items get free embeddings E0 that
/// are smoothed over the normalised user-item graph for L layers and averaged,
/// F = mean(E0, A^ E0, ..., A^^L E0); a user's score for an item is F_u . F_i. Trained with BPR
/// and Adam on sampled (user, positive, negative) triples (<see cref="LightGcnTrainer"/>), on the
/// managed CPU path or an ILGPU device (option <c>device</c>, <see cref="ComputeDevices"/>). The
/// stored model is the final embeddings F, so serving is one dot product per item.
/// </summary>
internal sealed class LightGcnKind : IModelKind
{
    private static readonly OptionSpec<int> Dim = EmbeddingOptions.Dim("embedding width");
    private static readonly OptionSpec<int> Layers = Option.Integer("layers", 3, 0, 8, "propagation layers L");
    private static readonly OptionSpec<double> L2 = Option.Real("l2", 1e-4, 0, 10, "L2 weight on the batch's layer-0 embeddings (as in the official code)");
    private static readonly OptionSpec<int> Batch = EmbeddingOptions.Batch("sampled (user, positive) pairs per Adam step");
    private static readonly OptionSpec<int> Epochs = Option.Integer("epochs", 100, 1, 100_000,
        "epochs; each draws as many pairs as there are distinct training pairs");
    private static readonly OptionSpec<int> Seed = Option.Integer("seed", 42, int.MinValue, int.MaxValue,
        "seed of the initial embeddings and of the sampling; the same seed gives the same model, bit for bit", range: "any 32-bit integer");
    private static readonly OptionSpec<int> Negatives = Option.Integer("negatives", 1, 1, 100,
        "negative items sampled per positive (averaged in the BPR loss)");
    private static readonly OptionSpec<string> Device = EmbeddingOptions.Device(
        "where the training kernels run. `'auto'`: a CUDA GPU, else an OpenCL GPU, else `'cpu'` (on a CPU the managed path is faster than " +
        "the same kernels on ILGPU's CPU accelerator); `'cpu'`: the managed path (all cores, SIMD); `'cuda'` / `'opencl'`: ILGPU on the first " +
        "CUDA device / OpenCL GPU (else the first OpenCL device), an error when there is none, never a silent switch to the CPU; `'ilgpu-cpu'`: " +
        "the GPU kernels on ILGPU's CPU accelerator, for checking them without a GPU (slow). The device used is in the model's metrics as " +
        "`\"device\"`. The result depends on the device only by float rounding; each device is bit-for-bit repeatable for a `seed`");
    private static readonly OptionSpec<string> Init = Option.Choice("init", "spectral", ["spectral", "random"],
        "starting E0: `'spectral'` = the top `dim` singular vectors of the normalised graph (scaled by the square root of their singular " +
        "values, root mean square 0.1), so training refines a low-pass graph filter instead of starting from noise; `'random'` = N(0, 0.1^2) as in the paper");
    private static readonly OptionSpec<string> LearningRateDecay = Option.Choice("lr_decay", "none", ["none", "cosine"],
        "`'none'`: `lr` throughout; `'cosine'`: epoch e uses lr * (1 + cos(pi * (e - 1) / epochs)) / 2, from `lr` down towards 0, which lets " +
        "large batches start with a large rate and still settle");

    /// <summary>Options of LightGCN (defaults from the paper).</summary>
    internal sealed record Options(OptionValues Values) : TableOptions(Values)
    {
        public int Dim => Values.Get(LightGcnKind.Dim);
        public int Layers => Values.Get(LightGcnKind.Layers);
        public double LearningRate => Values.Get(EmbeddingOptions.LearningRate);
        public double L2 => Values.Get(LightGcnKind.L2);
        public int Batch => Values.Get(LightGcnKind.Batch);
        public int Epochs => Values.Get(LightGcnKind.Epochs);
        public int Seed => Values.Get(LightGcnKind.Seed);
        public int Negatives => Values.Get(LightGcnKind.Negatives);
        public double ValidationRatio => Values.Get(EmbeddingOptions.ValidationRatio);
        public int EvalEvery => Values.Get(EmbeddingOptions.EvalEvery);
        public int Patience => Values.Get(EmbeddingOptions.Patience);
        public string Device => Values.Get(LightGcnKind.Device);
        public string Init => Values.Get(LightGcnKind.Init);
        public string LearningRateDecay => Values.Get(LightGcnKind.LearningRateDecay);

        /// <summary>
        /// The learning rate of a 1-based epoch: <see cref="LearningRate"/> throughout, or with
        /// <c>cosine</c> decay lr * (1 + cos(pi * (epoch - 1) / epochs)) / 2, from lr down towards 0 at the last epoch.
        /// </summary>
        public double LearningRateAt(int epoch) => LearningRateDecay == "cosine"
            ? LearningRate * 0.5 * (1 + Math.Cos(Math.PI * (epoch - 1) / Epochs))
            : LearningRate;
    }

    internal const string UserEmbeddings = "lgcn_users";
    internal const string ItemEmbeddings = "lgcn_items";
    internal const string Shape = "lgcn_shape";

    /// <summary>Standard deviation of the random E0 (the official code's), and the spectral E0's root mean square.</summary>
    internal const float InitialScale = 0.1f;

    public string Name => "lightgcn";

    // Reading order (and so the order of "valid options" in messages) is the order options were introduced.
    public OptionTable OptionTable { get; } = new(Dim, Layers, EmbeddingOptions.LearningRate, L2, Batch, Epochs, Seed, Negatives,
        EmbeddingOptions.ValidationRatio, EmbeddingOptions.EvalEvery, EmbeddingOptions.Patience, Device, Init, LearningRateDecay);

    public string? VectorsFrom => "a 'lightgcn' model";

    public IKindOptions ReadOptions(OptionValues values) => new Options(values);

    public void CheckSource(IKindOptions options, int sourceColumns, TrainingContext context) =>
        EmbeddingOptions.CheckDevice(((Options)options).Device, context);

    public void CheckData(Interactions data, ItemContent? content, IKindOptions options, TrainingContext context)
    {
        if (data.Users.Count < 2 || data.Items.Count < 2)
            throw Errors.SourceTooSmall(context.Function, Name, "at least 2 users and 2 items");
        var full = 0;
        for (var u = 0; u < data.Users.Count; u++)
        {
            if (data.ItemsOf(u).Length >= data.Items.Count) full++;
        }
        if (full > 0) throw Errors.NoNegativeItems(context.Function, Name, full, data.Items.Count);
    }

    /// <summary>
    /// About what training holds: 16 (users + items) x dim float blocks (E0, F, their gradients,
    /// Adam's moments, propagation scratch, the best F) and the graph twice (index and value per pair).
    /// </summary>
    public MemoryEstimate EstimateMemory(Interactions data, ItemContent? content, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        var bytes = 16L * (data.Users.Count + data.Items.Count) * options.Dim * sizeof(float) + 2L * data.PairCount * (sizeof(int) + sizeof(float));
        return new MemoryEstimate(bytes, $"'dim' {options.Dim} on {data.Users.Count:N0} users and {data.Items.Count:N0} items", "lower 'dim'");
    }

    public ModelArtifacts Train(Interactions data, ItemContent? content, IKindOptions kindOptions, TrainingContext context)
    {
        var options = (Options)kindOptions;
        int users = data.Users.Count, items = data.Items.Count;
        int[] offsets = data.UserOffsets, columns = data.UserItems;
        HeldOut? validation = null;
        if (options.ValidationRatio > 0)
            (offsets, columns, validation) = HoldOutValidation(data, options.ValidationRatio, options.Seed);

        using var trainer = EmbeddingOptions.StartTrainer(options.Device, context,
            device => new LightGcnTrainer(users, items, offsets, columns, options.Dim, options.Layers, options.Seed, device));
        if (options.Init == "spectral")
        {
            // E0 lives on the host between trainer calls (a device backend takes it at the next call).
            SpectralInit.Fill(trainer.Graph, trainer.GraphTransposed, options.Dim, options.Seed, InitialScale, trainer.UserE0, trainer.ItemE0,
                (step, steps) => context.Report("initialising", step, steps, "spectral initialisation"));
        }
        var trained = EarlyStopping.Train(context, Name, trainer,
            (epoch, onBatch) => trainer.Epoch(options.Batch, options.Negatives, options.LearningRateAt(epoch), options.L2, onBatch),
            options.Epochs, options.EvalEvery, options.Patience, data, offsets, columns, validation);

        var artifacts = new ModelArtifacts();
        artifacts.Arrays[UserEmbeddings] = trained.Users;
        artifacts.Arrays[ItemEmbeddings] = trained.Items;
        artifacts.Arrays[Shape] = new[] { options.Dim };
        trained.WriteMetrics(artifacts, validation is not null);
        artifacts.Metrics["device"] = trainer.Device;
        return artifacts;
    }

    /// <summary>
    /// Holds a random share of each user's items out (<see cref="Splits.Split"/>) and returns the
    /// training CSR and the held-out pairs, both in <paramref name="data"/>'s index space (the
    /// split's own re-indexed part is mapped back through the ids).
    /// </summary>
    private static (int[] Offsets, int[] Columns, HeldOut HeldOut) HoldOutValidation(Interactions data, double ratio, int seed)
    {
        var split = Splits.Split(data, SplitMethod.Random, ratio, seed);
        var train = split.Train;
        var itemMap = new int[train.Items.Count];
        for (var i = 0; i < itemMap.Length; i++) data.Items.TryGetIndex(train.Items.Ids[i], out itemMap[i]);
        var kept = new List<int>[data.Users.Count];
        for (var t = 0; t < train.Users.Count; t++)
        {
            data.Users.TryGetIndex(train.Users.Ids[t], out var user);
            var own = new List<int>();
            foreach (var item in train.ItemsOf(t)) own.Add(itemMap[item]);
            own.Sort();
            kept[user] = own;
        }
        var offsets = new int[data.Users.Count + 1];
        var columns = new List<int>(data.PairCount);
        var heldOut = new HeldOutBuilder();
        for (var u = 0; u < data.Users.Count; u++)
        {
            var own = kept[u] ?? [];
            columns.AddRange(own);
            offsets[u + 1] = columns.Count;
            foreach (var item in data.ItemsOf(u))
            {
                if (own.BinarySearch(item) < 0) heldOut.AddKnown(u, item);
            }
        }
        return (offsets, [.. columns], heldOut.Build());
    }

    public ITrainedModel Load(StoredArrays stored, IKindOptions options) =>
        new DotProductModel(stored.Floats(UserEmbeddings), stored.Floats(ItemEmbeddings), stored.Ints(Shape)[0], stored.Items);

    public void CheckStored(StoredArrays stored, IKindOptions options) =>
        DotProductModel.CheckStored(stored, UserEmbeddings, ItemEmbeddings, Shape, ((Options)options).Dim);
}
