using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using SqlRec.Compute;

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
internal sealed class FreedomKind : IModelKind
{
    /// <summary>One modality as the options name it (weights normalised to sum 1).</summary>
    internal sealed record Modality(string Name, string Source, double Weight);

    private static readonly OptionSpec<double> ImageWeight = Option.Real("image_weight", 0.1, 0, 1,
        "the weight of a modality named `image` that has no `weight` (the paper's `mm_image_weight`); other unweighted modalities get " +
        "1 - `image_weight`. The weights are then scaled to sum 1");

    // Read first, with image_weight (which sets the weights of modalities that give none), and stored with the weights normalised.
    private static readonly OptionSpec<IReadOnlyList<Modality>> ModalityList = Option.Custom<IReadOnlyList<Modality>>("modalities", "JSON array", "required",
        "an array of modalities", "a JSON array of item feature sources, each a `SELECT` returning `(item, vector BLOB)` (float32 values, what " +
        "`rec_embed` and `vec_f32` return): either the query as a string (named `m1`, `m2`, ... by position) or " +
        "`json_object('name', ..., 'source', 'SELECT ...', 'weight', w)`. A NULL vector or a missing row means the item has no features in that " +
        "modality; an item with features but no interactions joins the model as a cold-start item",
        (reader, name) =>
        {
            var raw = reader.Json(name) ?? throw Errors.MissingOption(reader.Function, name,
                "a JSON array of item modalities, e.g. json_array(json_object('name', 'text', 'source', 'SELECT id, rec_embed(''hash'', title) FROM items'))");
            return ReadModalities(reader.Function, raw, ImageWeight.Read(reader));
        },
        modalities => new JsonArray([.. modalities.Select(m => (JsonNode)new JsonObject { ["name"] = m.Name, ["source"] = m.Source, ["weight"] = m.Weight })]),
        example: "json_array(json_object('name', 'text', 'source', 'SELECT id, rec_embed(''hash'', title) FROM items'))");
    private static readonly OptionSpec<int> KnnK = Option.Integer("knn_k", 10, 1, 1000,
        "neighbours per item in each modality's frozen item-item graph (cosine on the vectors)");
    private static readonly OptionSpec<string> Knn = Option.Choice("knn", "auto", ["auto", "exact", "approximate"],
        "how neighbours are found: `'exact'` (every pair, blocked), `'approximate'` (inverted-file lists of spherical k-means, each item searches " +
        "its nearest lists; the number of lists searched is raised until the recall of the exact neighbours, measured on a sample of 256 items, " +
        "reaches 0.99, and the model's metrics show it as `knn_approximate`), `'auto'`: exact up to 5,000 items with vectors (under half a second " +
        "here), approximate above (2-8x faster from 5,000 to 60,000 items, see the benchmarks)");
    private static readonly OptionSpec<int> Dim = EmbeddingOptions.Dim("embedding width, also the width modality features are projected to");
    private static readonly OptionSpec<int> Layers = Option.Integer("layers", 2, 0, 8, "propagation layers on the (pruned) user-item graph");
    private static readonly OptionSpec<int> ItemLayers = Option.Integer("item_layers", 1, 0, 8,
        "propagation layers of item ID embeddings on the frozen item-item graph");
    private static readonly OptionSpec<double> Dropout = Option.Real("dropout", 0.8, 0, 1,
        "share of user-item edges dropped each epoch by degree-sensitive pruning (sampled with probability proportional to 1/sqrt(d_u d_i) " +
        "are kept); the full graph is used at inference", maxExclusive: true);
    private static readonly OptionSpec<double> RegWeight = Option.Real("reg_weight", 1e-3, 0, 1000,
        "weight of the modality BPR terms (user vector against the projected features of the positive and negative items)");
    private static readonly OptionSpec<double> L2 = Option.Real("l2", 0, 0, 10, "L2 weight on the batch's layer-0 embeddings");
    private static readonly OptionSpec<int> Batch = EmbeddingOptions.Batch("training triples per Adam step");
    private static readonly OptionSpec<int> Epochs = Option.Integer("epochs", 100, 1, 100_000,
        "epochs; each visits every training pair once in a seeded shuffle, with one uniformly drawn unseen negative among the items that have interactions");
    private static readonly OptionSpec<int> Seed = Option.Integer("seed", 42, int.MinValue, int.MaxValue,
        "seed of the initialisation, the pruning and the sampling; the same seed gives the same model", range: "any 32-bit integer");
    private static readonly OptionSpec<bool> TuneFeatures = Option.Boolean("tune_features", true,
        "also train the raw item vectors (the official code's unfrozen feature tables); `false` keeps them fixed and needs less memory");
    private static readonly OptionSpec<string> Init = Option.Choice("init", "random", ["random", "spectral"],
        "starting E0: `'random'` = Xavier-uniform as in the official code; `'spectral'` = `lightgcn`'s spectral start. Items without interactions start at zero either way");
    private static readonly OptionSpec<string> Device = EmbeddingOptions.Device(
        "where the training kernels run, as for `lightgcn`: FREEDOM trains on LightGCN's compute layer (the pruned graph each epoch, the " +
        "item-item path and the backward pass on the device; the modality terms, small dense products over each batch's items, on the host). " +
        "The device used is in the model's metrics");

    /// <summary>Options of FREEDOM (defaults from the paper and MMRec, where they apply).</summary>
    internal sealed record Options(OptionValues Values) : TableOptions(Values)
    {
        public IReadOnlyList<Modality> Modalities => Values.Get(ModalityList);
        public double ImageWeight => Values.Get(FreedomKind.ImageWeight);
        public int KnnK => Values.Get(FreedomKind.KnnK);
        public string Knn => Values.Get(FreedomKind.Knn);
        public int Dim => Values.Get(FreedomKind.Dim);
        public int Layers => Values.Get(FreedomKind.Layers);
        public int ItemLayers => Values.Get(FreedomKind.ItemLayers);
        public double Dropout => Values.Get(FreedomKind.Dropout);
        public double RegWeight => Values.Get(FreedomKind.RegWeight);
        public double LearningRate => Values.Get(EmbeddingOptions.LearningRate);
        public double L2 => Values.Get(FreedomKind.L2);
        public int Batch => Values.Get(FreedomKind.Batch);
        public int Epochs => Values.Get(FreedomKind.Epochs);
        public int Seed => Values.Get(FreedomKind.Seed);
        public double ValidationRatio => Values.Get(EmbeddingOptions.ValidationRatio);
        public int EvalEvery => Values.Get(EmbeddingOptions.EvalEvery);
        public int Patience => Values.Get(EmbeddingOptions.Patience);
        public bool TuneFeatures => Values.Get(FreedomKind.TuneFeatures);
        public string Init => Values.Get(FreedomKind.Init);
        public string Device => Values.Get(FreedomKind.Device);

        /// <summary>The trainer's settings.</summary>
        public FreedomSettings Settings => new(Dim, Layers, ItemLayers, Dropout, RegWeight, L2, TuneFeatures, Seed);
    }

    internal const string UserVectors = "freedom_users";
    internal const string ItemVectors = "freedom_items";
    internal const string Shape = "freedom_shape";

    public string Name => "freedom";

    public OptionTable OptionTable { get; } = new(ModalityList, ImageWeight, KnnK, Knn, Dim, Layers, ItemLayers, Dropout, RegWeight,
        EmbeddingOptions.LearningRate, L2, Batch, Epochs, Seed, EmbeddingOptions.ValidationRatio, EmbeddingOptions.EvalEvery,
        EmbeddingOptions.Patience, TuneFeatures, Init, Device);

    public string? VectorsFrom => "a 'freedom' model";

    public IKindOptions ReadOptions(OptionValues values) => new Options(values);

    public void CheckSource(IKindOptions options, int sourceColumns, TrainingContext context) =>
        EmbeddingOptions.CheckDevice(((Options)options).Device, context);

    public IReadOnlyList<ModalitySource> Modalities(IKindOptions options) =>
        ((Options)options).Modalities.Select(m => new ModalitySource(m.Name, m.Source, m.Weight)).ToList();

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

    public void CheckData(Interactions data, ItemContent? content, IKindOptions options, TrainingContext context)
    {
        var (full, warmCount) = UsersWithoutNegatives(data.UserOffsets, data.UserItems, data.Items.Count);
        if (data.Users.Count < 2 || warmCount < 2)
            throw Errors.SourceTooSmall(context.Function, Name, "at least 2 users and 2 items");
        if (full > 0) throw Errors.NoNegativeInteractedItems(context.Function, Name, full, warmCount);
    }

    /// <summary>
    /// How many users interacted with every item that has interactions in the CSR (the sampler
    /// could draw no negative for them), and how many items have interactions.
    /// </summary>
    private static (int Users, int WarmItems) UsersWithoutNegatives(int[] offsets, int[] columns, int items)
    {
        var warm = new bool[items];
        foreach (var item in columns) warm[item] = true;
        var warmCount = warm.Count(w => w);
        var full = 0;
        for (var u = 0; u + 1 < offsets.Length; u++)
        {
            if (offsets[u + 1] - offsets[u] >= warmCount) full++;
        }
        return (full, warmCount);
    }

    /// <summary>
    /// About what training holds: 20 (users + items) x dim float blocks (E0 with gradient and Adam
    /// moments, propagation scratch, the best vectors), per modality the features once and, when
    /// tuned, with gradient and moments (4 times), the graphs (the full one, an epoch's pruned one,
    /// each twice) and the kNN graph.
    /// </summary>
    public MemoryEstimate EstimateMemory(Interactions data, ItemContent? content, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        var featureDims = content?.Modalities.Select(m => m.Dimension).ToList() ?? [];
        int users = data.Users.Count, items = data.Items.Count;
        var featureFloats = featureDims.Sum(f => (long)items * f + (long)f * options.Dim * 4);
        var bytes = 20L * (users + items) * options.Dim * sizeof(float)
            + featureFloats * (options.TuneFeatures ? 4 : 1) * sizeof(float)
            + 4L * data.PairCount * (sizeof(int) + sizeof(float))
            + 2L * items * options.KnnK * (sizeof(int) + sizeof(float));
        return new MemoryEstimate(bytes, $"'dim' {options.Dim} on {users:N0} users and {items:N0} items with {featureDims.Sum():N0} feature dimensions",
            "lower 'dim', set 'tune_features' to false, or use smaller item vectors");
    }

    public ModelArtifacts Train(Interactions data, ItemContent? itemContent, IKindOptions kindOptions, TrainingContext context)
    {
        var options = (Options)kindOptions;
        var content = itemContent ?? throw new ArgumentNullException(nameof(itemContent), "freedom trains with item content");
        int users = data.Users.Count, items = data.Items.Count;
        int[] offsets = data.UserOffsets, columns = data.UserItems;
        HeldOut? validation = null;
        if (options.ValidationRatio > 0)
        {
            // Keeping every item and (always) every user, the split's training part shares data's indices.
            var split = Splits.Split(data, SplitMethod.Random, options.ValidationRatio, options.Seed, keepAllItems: true);
            (offsets, columns, validation) = (split.Train.UserOffsets, split.Train.UserItems, split.HeldOut);
            // Holding items out can leave a user with every item that still has interactions: no negative to sample.
            var (full, warmCount) = UsersWithoutNegatives(offsets, columns, items);
            if (full > 0) throw Errors.NoNegativeInteractedItems(context.Function, Name, full, warmCount);
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

        var modalities = content.Modalities.Select(m => (m.Features, m.Dimension, m.Has)).ToList();
        using var trainer = EmbeddingOptions.StartTrainer(options.Device, context,
            device => new FreedomTrainer(users, items, offsets, columns, itemGraph, modalities, options.Settings, device));
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

    public ITrainedModel Load(StoredArrays stored, IKindOptions options) =>
        new DotProductModel(stored.Floats(UserVectors), stored.Floats(ItemVectors), stored.Ints(Shape)[0], stored.Items);

    public void CheckStored(StoredArrays stored, IKindOptions options)
    {
        DotProductModel.CheckStored(stored, UserVectors, ItemVectors, Shape, ((Options)options).Dim);
        // Every freedom version lists its content-only items (the common check holds them to the seen items).
        stored.CheckedInts(ArrayNames.ContentItems);
    }
}
