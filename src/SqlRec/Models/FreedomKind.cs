using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SqlRec.Compute;
using SqlRec.Data;
using SqlRec.Evaluation;
using SqlRec.Serving;
using SqlRec.Store;

namespace SqlRec.Models;

/// <summary>
/// <c>freedom</c>: FREEDOM (Zhou and Shen, "A Tale of Two Graphs: Freezing and Denoising Graph
/// Structures for Multimodal Recommendation", ACM MM 2023), multimodal graph collaborative
/// filtering. Item modalities come from SQL (<c>(item, vector)</c> queries: text embeddings from
/// <c>rec_embed</c>, image features, any vectors); each gives a cosine kNN item-item graph, the
/// graphs are mixed by weight and frozen before training (<see cref="ItemKnnGraph"/>); the
/// user-item graph is pruned degree-sensitively every epoch (<see cref="DegreePruning"/>); the
/// model trains with BPR plus modality BPR terms (<see cref="FreedomTrainer"/>). Items with
/// vectors but no interactions are part of the model: they score through the item-item graph,
/// and recommend() labels them <c>content</c>. The stored model is the final user and item
/// vectors, so serving is one dot product per item.
/// </summary>
internal sealed class FreedomKind : IContentModelKind
{
    /// <summary>One modality as the options name it (weights normalised to sum 1).</summary>
    internal sealed record Modality(string Name, string Source, double Weight);

    /// <summary>Options of FREEDOM (defaults from the paper and MMRec, where they apply).</summary>
    internal sealed record Options(IReadOnlyList<Modality> Modalities, double ImageWeight, int KnnK, string Knn, int Dim, int Layers, int ItemLayers,
        double Dropout, double RegWeight, double LearningRate, double L2, int Batch, int Epochs, int Seed, double ValidationRatio, int EvalEvery,
        int Patience, bool TuneFeatures, string Init, string Device) : IKindOptions
    {
        public JsonObject ToJson() => new()
        {
            ["modalities"] = new JsonArray([.. Modalities.Select(m => (JsonNode)new JsonObject { ["name"] = m.Name, ["source"] = m.Source, ["weight"] = m.Weight })]),
            ["image_weight"] = ImageWeight,
            ["knn_k"] = KnnK,
            ["knn"] = Knn,
            ["dim"] = Dim,
            ["layers"] = Layers,
            ["item_layers"] = ItemLayers,
            ["dropout"] = Dropout,
            ["reg_weight"] = RegWeight,
            ["lr"] = LearningRate,
            ["l2"] = L2,
            ["batch"] = Batch,
            ["epochs"] = Epochs,
            ["seed"] = Seed,
            ["validation_ratio"] = ValidationRatio,
            ["eval_every"] = EvalEvery,
            ["patience"] = Patience,
            ["tune_features"] = TuneFeatures,
            ["init"] = Init,
            ["device"] = Device,
        };

        /// <summary>The trainer's settings.</summary>
        public FreedomSettings Settings => new(Dim, Layers, ItemLayers, Dropout, RegWeight, L2, TuneFeatures, Seed);
    }

    internal const string UserVectors = "freedom_users";
    internal const string ItemVectors = "freedom_items";
    internal const string Shape = "freedom_shape";

    /// <summary>Test hook: the memory the process may use, instead of what the runtime reports.</summary>
    internal static long? MemoryLimit;

    public string Name => "freedom";

    public IKindOptions ReadOptions(OptionReader reader)
    {
        var function = reader.Function;
        var raw = reader.Json("modalities") ?? throw Errors.MissingOption(function, "modalities",
            "a JSON array of item modalities, e.g. json_array(json_object('name', 'text', 'source', 'SELECT id, rec_embed(''hash'', title) FROM items'))");
        var imageWeight = reader.Number("image_weight", 0.1, 0, 1);
        var modalities = ReadModalities(function, raw, imageWeight);
        var options = new Options(
            Modalities: modalities,
            ImageWeight: imageWeight,
            KnnK: (int)reader.Integer("knn_k", 10, 1, 1000),
            Knn: reader.Choice("knn", "auto", "auto", "exact", "approximate"),
            Dim: (int)reader.Integer("dim", 64, 1, 1024),
            Layers: (int)reader.Integer("layers", 2, 0, 8),
            ItemLayers: (int)reader.Integer("item_layers", 1, 0, 8),
            Dropout: reader.Number("dropout", 0.8, 0, 1, maxExclusive: true),
            RegWeight: reader.Number("reg_weight", 1e-3, 0, 1000),
            LearningRate: reader.Number("lr", 0.001, 0, 10, minExclusive: true),
            L2: reader.Number("l2", 0, 0, 10),
            Batch: (int)reader.Integer("batch", 2048, 1, 1_000_000),
            Epochs: (int)reader.Integer("epochs", 100, 1, 100_000),
            Seed: (int)reader.Integer("seed", 42, int.MinValue, int.MaxValue),
            ValidationRatio: reader.Number("validation_ratio", 0, 0, 1, maxExclusive: true),
            EvalEvery: (int)reader.Integer("eval_every", 5, 1, 100_000),
            Patience: (int)reader.Integer("patience", 5, 1, 100_000),
            TuneFeatures: reader.Boolean("tune_features", true),
            Init: reader.Choice("init", "random", "random", "spectral"),
            Device: reader.Choice("device", "auto", ComputeDevices.Names));
        // A named GPU that is missing fails here, before any work; 'auto' is resolved when training starts.
        if (options.Device is "cuda" or "opencl") ComputeDevices.Resolve("rec_train", options.Device);
        return options;
    }

    /// <summary>
    /// Reads the <c>modalities</c> array: each entry a SELECT string (named m1, m2, ... by position)
    /// or an object with <c>source</c> and optional <c>name</c> and <c>weight</c>. A modality without a
    /// weight gets <paramref name="imageWeight"/> when it is named <c>image</c> and 1 - image_weight
    /// otherwise, as the paper mixes text and image graphs; the weights are then scaled to sum 1.
    /// </summary>
    private static List<Modality> ReadModalities(string function, JsonElement raw, double imageWeight)
    {
        const string expected = "a JSON array of modalities: json_array(json_object('name', 'text', 'source', 'SELECT item, vector ...'), ...)";
        if (raw.ValueKind != JsonValueKind.Array) throw Errors.OptionType(function, "modalities", expected, OptionReader.Describe(raw));
        var read = new List<(string Name, string Source, double? Weight)>();
        var position = 0;
        foreach (var entry in raw.EnumerateArray())
        {
            position++;
            string? name = null, source = null;
            double? weight = null;
            switch (entry.ValueKind)
            {
                case JsonValueKind.String:
                    source = entry.GetString();
                    break;
                case JsonValueKind.Object:
                    foreach (var property in entry.EnumerateObject())
                    {
                        var value = property.Value;
                        switch (property.Name)
                        {
                            case "name":
                                if (value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
                                    throw Errors.ModalityValue(function, position, "name", "non-empty text", OptionReader.Describe(value));
                                name = value.GetString()!;
                                break;
                            case "source":
                                if (value.ValueKind != JsonValueKind.String)
                                    throw Errors.ModalityValue(function, position, "source", "a SELECT returning (item, vector BLOB)", OptionReader.Describe(value));
                                source = value.GetString();
                                break;
                            case "weight":
                                if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var w) || !double.IsFinite(w) || w < 0)
                                    throw Errors.ModalityValue(function, position, "weight", "a number >= 0", OptionReader.Describe(value));
                                weight = w;
                                break;
                            default:
                                throw Errors.ModalityUnknownKey(function, position, property.Name);
                        }
                    }
                    break;
                default:
                    throw Errors.OptionType(function, "modalities", expected, $"{OptionReader.Describe(entry)} at position {position} of the array");
            }
            if (source is null) throw Errors.ModalityMissingSource(function, position);
            name ??= $"m{position}";
            if (read.Any(r => r.Name == name)) throw Errors.ModalityDuplicateName(function, name);
            read.Add((name, source, weight));
        }
        if (read.Count == 0)
            throw Errors.OptionListEmpty(function, "modalities", "give at least one modality, e.g. json_array(json_object('name', 'text', 'source', 'SELECT item, vector ...'))");
        var weights = read.Select(r => r.Weight ?? (r.Name == "image" ? imageWeight : 1 - imageWeight)).ToArray();
        var sum = weights.Sum();
        if (!(sum > 0)) throw Errors.ModalityWeightsZero(function);
        return read.Select((r, i) => new Modality(r.Name, r.Source, weights[i] / sum)).ToList();
    }

    public IReadOnlyList<ModalitySource> Modalities(IKindOptions options) =>
        ((Options)options).Modalities.Select(m => new ModalitySource(m.Name, m.Source, m.Weight)).ToList();

    public void CheckSource(IKindOptions options, int sourceColumns)
    {
    }

    public void CheckData(Interactions data, IKindOptions kindOptions)
    {
        var warm = new bool[data.Items.Count];
        foreach (var item in data.UserItems) warm[item] = true;
        var warmCount = warm.Count(w => w);
        if (data.Users.Count < 2 || warmCount < 2)
            throw Errors.SourceTooSmall("rec_train", Name, "at least 2 users and 2 items");
        var full = 0;
        for (var u = 0; u < data.Users.Count; u++)
        {
            if (data.ItemsOf(u).Length >= warmCount) full++;
        }
        if (full > 0) throw Errors.NoNegativeInteractedItems("rec_train", Name, full, warmCount);
    }

    public void CheckContent(Interactions data, ItemContent content, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        var needed = MemoryNeeded(data.Users.Count, data.Items.Count, data.PairCount, content.Modalities.Select(m => m.Dimension), options);
        var available = MemoryLimit ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (needed > available * 0.8)
            throw Errors.ModelTooLarge("rec_train", Name,
                $"'dim' {options.Dim} on {data.Users.Count:N0} users and {data.Items.Count:N0} items with {content.Modalities.Sum(m => m.Dimension):N0} feature dimensions",
                needed, (long)(available * 0.8), "lower 'dim', set 'tune_features' to false, or use smaller item vectors");
    }

    /// <summary>
    /// About what training holds: 20 (users + items) x dim float blocks (E0 with gradient and Adam
    /// moments, propagation scratch, the best vectors), per modality the features once and, when
    /// tuned, with gradient and moments (4 times), the graphs (the full one, an epoch's pruned one,
    /// each twice) and the kNN graph.
    /// </summary>
    internal static long MemoryNeeded(int users, int items, long pairs, IEnumerable<int> featureDims, Options options)
    {
        var featureFloats = featureDims.Sum(f => (long)items * f + (long)f * options.Dim * 4);
        return 20L * (users + items) * options.Dim * sizeof(float)
            + featureFloats * (options.TuneFeatures ? 4 : 1) * sizeof(float)
            + 4 * pairs * (sizeof(int) + sizeof(float))
            + 2L * items * options.KnnK * (sizeof(int) + sizeof(float));
    }

    public ModelArtifacts Train(Interactions data, IKindOptions options, TrainingContext context) =>
        throw new InvalidOperationException("the freedom kind trains with item content: call Train(data, content, options, context)");

    public ModelArtifacts Train(Interactions data, ItemContent content, IKindOptions kindOptions, TrainingContext context)
    {
        var options = (Options)kindOptions;
        int users = data.Users.Count, items = data.Items.Count;
        int[] offsets = data.UserOffsets, columns = data.UserItems;
        HeldOut? validation = null;
        if (options.ValidationRatio > 0)
        {
            // Keeping every item and (always) every user, the split's training part shares data's indices.
            var split = Splits.Split(data, SplitMethod.Random, options.ValidationRatio, options.Seed, keepAllItems: true);
            (offsets, columns, validation) = (split.Train.UserOffsets, split.Train.UserItems, split.HeldOut);
        }

        var artifacts = new ModelArtifacts();
        var clock = Stopwatch.StartNew();
        var graphs = new List<(SparseMatrix Graph, double Weight)>();
        var methods = new JsonObject();
        var calibrations = new JsonObject();
        foreach (var modality in content.Modalities)
        {
            var method = options.Knn switch
            {
                "exact" => KnnMethod.Exact,
                "approximate" => KnnMethod.Approximate,
                _ => ItemKnnGraph.Auto(modality.Count),
            };
            methods[modality.Name] = method == KnnMethod.Exact ? "exact" : "approximate";
            var graph = ItemKnnGraph.Build(modality.Features, modality.Has, modality.Dimension, options.KnnK, method, options.Seed,
                (done, total) => context.Report("initialising", done, total, $"item-item graph of modality '{modality.Name}'"),
                c => calibrations[modality.Name] = new JsonObject
                {
                    ["probes"] = c.Probes,
                    ["lists"] = c.Lists,
                    ["estimated_recall"] = Math.Round(c.EstimatedRecall, 4),
                });
            graphs.Add((graph, modality.Weight));
        }
        var itemGraph = ItemKnnGraph.Mix(graphs);
        artifacts.Metrics["knn"] = methods;
        if (calibrations.Count > 0) artifacts.Metrics["knn_approximate"] = calibrations;
        artifacts.Metrics["knn_seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3);
        artifacts.Metrics["item_graph_edges"] = itemGraph.NonZeros;

        using var trainer = CreateTrainer(users, items, offsets, columns, itemGraph,
            content.Modalities.Select(m => (m.Features, m.Dimension, m.Has)).ToList(), options);
        InitialiseEmbeddings(trainer, columns, options, context);

        var trained = EarlyStopping.Train(context, Name, trainer,
            (_, onBatch) => trainer.Epoch(options.Batch, options.LearningRate, onBatch),
            options.Epochs, options.EvalEvery, options.Patience, data, offsets, columns, validation);

        artifacts.Arrays[UserVectors] = trained.Users;
        artifacts.Arrays[ItemVectors] = trained.Items;
        artifacts.Arrays[Shape] = new[] { options.Dim };
        artifacts.Arrays[ArrayNames.ContentItems] = ContentOnlyItems(data);
        artifacts.Metrics["content_items"] = ((int[])artifacts.Arrays[ArrayNames.ContentItems]).Length;
        trained.WriteMetrics(artifacts, validation is not null);
        artifacts.Metrics["training_bytes"] = trainer.StateBytes();
        artifacts.Metrics["device"] = trainer.Device;
        return artifacts;
    }

    /// <summary>
    /// The trainer on the device the options name, as LightGCN's ('auto': a CUDA or OpenCL GPU when
    /// ILGPU finds one, else the managed CPU path); a device that fails to start is an error, never
    /// a silent switch to another device.
    /// </summary>
    private static FreedomTrainer CreateTrainer(int users, int items, int[] offsets, int[] columns, SparseMatrix itemGraph,
        IReadOnlyList<(float[] Features, int Width, bool[] Has)> modalities, Options options)
    {
        var device = ComputeDevices.Resolve("rec_train", options.Device);
        try
        {
            return new FreedomTrainer(users, items, offsets, columns, itemGraph, modalities, options.Settings, device);
        }
        catch (Exception e) when (device.Ilgpu is not null && e is not SqlRecException and not OutOfMemoryException)
        {
            throw Errors.DeviceUnavailable("rec_train", options.Device, $"{device.Description} failed to start ({e.GetType().Name}: {e.Message})");
        }
    }

    /// <summary>
    /// The starting E0: MMRec's Xavier-uniform (drawn by the trainer) or the spectral start of SqlRec's
    /// LightGCN. Either way items with no training interaction start at zero, so their score comes
    /// from the item-item graph alone until training moves them through it.
    /// </summary>
    private static void InitialiseEmbeddings(FreedomTrainer trainer, int[] columns, Options options, TrainingContext context)
    {
        if (options.Init == "spectral")
        {
            SpectralInit.Fill(trainer.FullGraph, trainer.FullGraphTransposed, options.Dim, options.Seed, LightGcnKind.InitialScale, trainer.UserE0, trainer.ItemE0,
                (step, steps) => context.Report("initialising", step, steps, "spectral initialisation"));
        }
        var hasPairs = new bool[trainer.Items];
        foreach (var item in columns) hasPairs[item] = true;
        for (var i = 0; i < trainer.Items; i++)
        {
            if (!hasPairs[i]) trainer.ItemE0.AsSpan(i * options.Dim, options.Dim).Clear();
        }
    }

    /// <summary>Sorted indices of the items no interaction of <paramref name="data"/> names.</summary>
    private static int[] ContentOnlyItems(Interactions data)
    {
        var hasPairs = new bool[data.Items.Count];
        foreach (var item in data.UserItems) hasPairs[item] = true;
        return Enumerable.Range(0, data.Items.Count).Where(i => !hasPairs[i]).ToArray();
    }

    public IUserScorer? LoadScorer(IReadOnlyDictionary<string, Array> arrays, int users, int items)
    {
        var dim = ((int[])arrays[Shape])[0];
        return new DotProductScorer((float[])arrays[UserVectors], (float[])arrays[ItemVectors], dim, items);
    }
}
