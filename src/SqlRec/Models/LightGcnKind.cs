using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using SqlRec.Compute;
using SqlRec.Data;
using SqlRec.Evaluation;
using SqlRec.Serving;
using SqlRec.Store;

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
    /// <summary>Options of LightGCN (defaults from the paper).</summary>
    internal sealed record Options(int Dim, int Layers, double LearningRate, double L2, int Batch, int Epochs, int Seed, int Negatives,
        double ValidationRatio, int EvalEvery, int Patience, string Device, string Init, string LearningRateDecay) : IKindOptions
    {
        public JsonObject ToJson() => new()
        {
            ["dim"] = Dim,
            ["layers"] = Layers,
            ["lr"] = LearningRate,
            ["l2"] = L2,
            ["batch"] = Batch,
            ["epochs"] = Epochs,
            ["seed"] = Seed,
            ["negatives"] = Negatives,
            ["validation_ratio"] = ValidationRatio,
            ["eval_every"] = EvalEvery,
            ["patience"] = Patience,
            ["device"] = Device,
            ["init"] = Init,
            ["lr_decay"] = LearningRateDecay,
        };

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

    /// <summary>Test hook: the memory the process may use, instead of what the runtime reports.</summary>
    internal static long? MemoryLimit;

    /// <summary>Standard deviation of the random E0 (the official code's), and the spectral E0's root mean square.</summary>
    internal const float InitialScale = 0.1f;

    public string Name => "lightgcn";

    public IKindOptions ReadOptions(OptionReader reader)
    {
        var options = new Options(
            Dim: (int)reader.Integer("dim", 64, 1, 1024),
            Layers: (int)reader.Integer("layers", 3, 0, 8),
            LearningRate: reader.Number("lr", 0.001, 0, 10, minExclusive: true),
            L2: reader.Number("l2", 1e-4, 0, 10),
            Batch: (int)reader.Integer("batch", 2048, 1, 1_000_000),
            Epochs: (int)reader.Integer("epochs", 100, 1, 100_000),
            Seed: (int)reader.Integer("seed", 42, int.MinValue, int.MaxValue),
            Negatives: (int)reader.Integer("negatives", 1, 1, 100),
            ValidationRatio: reader.Number("validation_ratio", 0, 0, 1, maxExclusive: true),
            EvalEvery: (int)reader.Integer("eval_every", 5, 1, 100_000),
            Patience: (int)reader.Integer("patience", 5, 1, 100_000),
            Device: reader.Choice("device", "auto", ComputeDevices.Names),
            Init: reader.Choice("init", "spectral", "spectral", "random"),
            LearningRateDecay: reader.Choice("lr_decay", "none", "none", "cosine"));
        // A named GPU that is missing fails here, before any work; 'auto' is resolved when training starts.
        if (options.Device is "cuda" or "opencl") ComputeDevices.Resolve("rec_train", options.Device);
        return options;
    }

    public void CheckSource(IKindOptions options, int sourceColumns)
    {
    }

    public void CheckData(Interactions data, IKindOptions kindOptions)
    {
        if (data.Users.Count < 2 || data.Items.Count < 2)
            throw Errors.SourceTooSmall("rec_train", Name, "at least 2 users and 2 items");
        var full = 0;
        for (var u = 0; u < data.Users.Count; u++)
        {
            if (data.ItemsOf(u).Length >= data.Items.Count) full++;
        }
        if (full > 0) throw Errors.NoNegativeItems("rec_train", Name, full, data.Items.Count);
        var options = (Options)kindOptions;
        var needed = MemoryNeeded(data.Users.Count, data.Items.Count, data.PairCount, options);
        var available = MemoryLimit ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (needed > available * 0.8)
            throw Errors.ModelTooLarge("rec_train", Name, $"'dim' {options.Dim} on {data.Users.Count:N0} users and {data.Items.Count:N0} items",
                needed, (long)(available * 0.8), "lower 'dim'");
    }

    /// <summary>
    /// About what training holds: 16 (users + items) x dim float blocks (E0, F, their gradients,
    /// Adam's moments, propagation scratch, the best F) and the graph twice (index and value per pair).
    /// </summary>
    internal static long MemoryNeeded(int users, int items, long pairs, Options options) =>
        16L * (users + items) * options.Dim * sizeof(float) + 2 * pairs * (sizeof(int) + sizeof(float));

    public ModelArtifacts Train(Interactions data, IKindOptions kindOptions, TrainingContext context)
    {
        var options = (Options)kindOptions;
        int users = data.Users.Count, items = data.Items.Count;
        int[] offsets = data.UserOffsets, columns = data.UserItems;
        HeldOut? validation = null;
        if (options.ValidationRatio > 0)
            (offsets, columns, validation) = HoldOutValidation(data, options.ValidationRatio, options.Seed);

        using var trainer = CreateTrainer(users, items, offsets, columns, options);
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
    /// The trainer on the device the options name ('auto': a CUDA or OpenCL GPU when ILGPU finds
    /// one, else the managed CPU path). A device that fails to start is an error, never a silent
    /// switch to another device.
    /// </summary>
    private static LightGcnTrainer CreateTrainer(int users, int items, int[] offsets, int[] columns, Options options)
    {
        var device = ComputeDevices.Resolve("rec_train", options.Device);
        try
        {
            return new LightGcnTrainer(users, items, offsets, columns, options.Dim, options.Layers, options.Seed, device);
        }
        catch (Exception e) when (device.Ilgpu is not null && e is not SqlRecException and not OutOfMemoryException)
        {
            throw Errors.DeviceUnavailable("rec_train", options.Device, $"{device.Description} failed to start ({e.GetType().Name}: {e.Message})");
        }
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

    public IUserScorer? LoadScorer(IReadOnlyDictionary<string, Array> arrays, int users, int items)
    {
        var dim = ((int[])arrays[Shape])[0];
        return new DotProductScorer((float[])arrays[UserEmbeddings], (float[])arrays[ItemEmbeddings], dim, items);
    }
}
