using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using SqlRec.Compute;

namespace SqlRec.Models;

/// <summary>
/// <c>sasrec</c>: SASRec, self-attentive sequential recommendation (Kang and McAuley, ICDM 2018).
/// The source's timestamp orders each user's items (ties keep the source's row order); a causal
/// transformer over the newest <c>max_len</c> items predicts the next one. Optionally each item's
/// vector is (or adds) a frozen text vector through a trained linear adapter, LLMEmb-style (Liu et
/// al., 2024), from an <c>item_text</c> query read like a content kind's modality: items with text
/// but no interaction are in the model and can be recommended (<c>source = 'content'</c>).
/// Training holds each user's last training item out as a validation cut for early stopping
/// (NDCG@10 of the next item, full ranking). Serving reads the user's current sequence through
/// the source at <c>recommend()</c> time, so a new interaction changes the next recommendation at once.
/// </summary>
internal sealed class SasRecKind : IModelKind
{
    private static readonly OptionSpec<int> MaxLength = Option.Integer("max_len", 50, 1, 512,
        "the newest items of a user's sequence the model reads (the paper: 200 on MovieLens-1M, 50 on sparser sets); attention costs grow with its square");
    private static readonly OptionSpec<int> Blocks = Option.Integer("blocks", 2, 1, 8, "self-attention blocks");
    private static readonly OptionSpec<int> Heads = Option.Integer("heads", 1, 1, 16, "attention heads per block; `dim` must be a multiple of it");
    private static readonly OptionSpec<int> Dim = EmbeddingOptions.Dim("width of the item vectors and of every hidden layer");
    private static readonly OptionSpec<double> Dropout = Option.Real("dropout", 0.2, 0, 1,
        "dropout on the embedded input, the attention output and the feed-forward output while training (the paper: 0.2 on MovieLens-1M, 0.5 on sparse sets)", maxExclusive: true);
    private static readonly OptionSpec<double> L2 = Option.Real("l2", 0, 0, 10, "L2 weight on every parameter, added to the gradient");
    private static readonly OptionSpec<int> Batch = Option.Integer("batch", 128, 1, 100_000, "user sequences per Adam step");
    private static readonly OptionSpec<int> Epochs = Option.Integer("epochs", 100, 1, 100_000,
        "most epochs; each visits every user with 2 or more training items once, in a seeded shuffle");
    private static readonly OptionSpec<int> Negatives = Option.Integer("negatives", 1, 1, 1000,
        "negatives sampled per position among the items the user never had: 1 = binary cross-entropy against one negative, the paper's loss; more = a sampled softmax over the positive and the negatives");
    private static readonly OptionSpec<int> Seed = Option.Integer("seed", 42, int.MinValue, int.MaxValue,
        "seed of the initialisation, the order, the negatives and the dropout; the same seed gives the same model, bit for bit", range: "any 32-bit integer");
    private static readonly OptionSpec<int> Patience = Option.Integer("patience", 3, 0, 100_000,
        "early stopping: each user's last training item is held out as a validation cut (users with 3 or more items), NDCG@10 of that item over all items is measured every `eval_every` epochs, the best epoch is kept, and training stops after this many evaluations without improvement; 0 = no validation cut, all epochs run");
    private static readonly OptionSpec<int> EvalEvery = Option.Integer("eval_every", 5, 1, 100_000, "epochs between validation evaluations");
    private static readonly OptionSpec<string?> ItemText = Option.Custom<string?>("item_text", "text", "none", "a SELECT statement",
        "a `SELECT` returning `(item, vector BLOB)` (float32 values, e.g. `rec_embed('minilm', title || ' ' || genres)`), read and checked like a " +
        "`freedom` modality named `item_text`: each item's frozen text vector passes through a trained linear adapter and is added to its ID " +
        "embedding. Items with a vector but no interaction join the model and can be recommended (`source = 'content'`)",
        (reader, name) => reader.String(name), value => value,
        example: null);
    private static readonly OptionSpec<bool> ItemIdEmbedding = Option.Boolean("item_id_embedding", true,
        "give each item a free ID embedding; `false` (with `item_text`) makes item vectors from the text vectors alone, so every item needs one");

    /// <summary>Options of SASRec (defaults from the paper where they apply).</summary>
    internal sealed record Options(OptionValues Values) : TableOptions(Values)
    {
        public int MaxLength => Values.Get(SasRecKind.MaxLength);
        public int Blocks => Values.Get(SasRecKind.Blocks);
        public int Heads => Values.Get(SasRecKind.Heads);
        public int Dim => Values.Get(SasRecKind.Dim);
        public double Dropout => Values.Get(SasRecKind.Dropout);
        public double LearningRate => Values.Get(EmbeddingOptions.LearningRate);
        public double L2 => Values.Get(SasRecKind.L2);
        public int Batch => Values.Get(SasRecKind.Batch);
        public int Epochs => Values.Get(SasRecKind.Epochs);
        public int Negatives => Values.Get(SasRecKind.Negatives);
        public int Seed => Values.Get(SasRecKind.Seed);
        public int Patience => Values.Get(SasRecKind.Patience);
        public int EvalEvery => Values.Get(SasRecKind.EvalEvery);
        public string? ItemText => Values.Get(SasRecKind.ItemText);
        public bool ItemIdEmbedding => Values.Get(SasRecKind.ItemIdEmbedding);

        public SasRecShape Shape => new(Dim, Heads, Blocks, MaxLength);
    }

    internal const string Network = "sasrec_network";
    internal const string ItemVectorsArray = "sasrec_items";
    internal const string ShapeArray = "sasrec_shape";
    internal const string SequenceOffsets = "sasrec_sequence_offsets";
    internal const string SequenceItems = "sasrec_sequence_items";

    /// <summary>The modality name the text query is read under (its errors name it).</summary>
    internal const string TextModality = "item_text";

    public string Name => "sasrec";

    public OptionTable OptionTable { get; } = new(MaxLength, Blocks, Heads, Dim, Dropout, EmbeddingOptions.LearningRate, L2, Batch, Epochs, Negatives,
        Seed, Patience, EvalEvery, ItemText, ItemIdEmbedding);

    public string? VectorsFrom => "a 'sasrec' model";

    public bool OrdersByTime => true;

    public IKindOptions ReadOptions(OptionValues values) => new Options(values);

    public void CheckSource(IKindOptions kindOptions, int sourceColumns, TrainingContext context)
    {
        var options = (Options)kindOptions;
        if (options.Dim % options.Heads != 0) throw Errors.HeadsDoNotDivideDim(context.Function, options.Dim, options.Heads);
        if (!options.ItemIdEmbedding && options.ItemText is null) throw Errors.IdEmbeddingOffNeedsText(context.Function);
        if (sourceColumns < 4) throw Errors.SequenceNeedsTimestamp(context.Function, Name, sourceColumns);
    }

    public IReadOnlyList<ModalitySource> Modalities(IKindOptions options) =>
        ((Options)options).ItemText is { } query ? [new ModalitySource(TextModality, query, 1)] : [];

    public void CheckData(Interactions data, ItemContent? content, IKindOptions kindOptions, TrainingContext context)
    {
        var options = (Options)kindOptions;
        if (data.RowTimes is null) throw Errors.SequenceNeedsTimestamp(context.Function, Name, 3);
        if (data.Items.Count < 2) throw Errors.SourceTooSmall(context.Function, Name, "at least 2 items");
        var users = data.Users.Count;
        var sequences = 0;
        var full = 0;
        var rowsPerUser = new int[users];
        foreach (var user in data.RowUsers) rowsPerUser[user]++;
        for (var u = 0; u < users; u++)
        {
            if (rowsPerUser[u] >= 2) sequences++;
            if (data.ItemsOf(u).Length >= data.Items.Count) full++;
        }
        if (sequences == 0) throw Errors.NoSequences(context.Function, Name, users);
        if (full > 0) throw Errors.NoNegativeInteractedItems(context.Function, Name, full, data.Items.Count);
        if (!options.ItemIdEmbedding && content is not null)
        {
            var has = content.Modalities[0].Has;
            var missing = Enumerable.Range(0, data.Items.Count).Where(i => !has[i]).ToList();
            if (missing.Count > 0) throw Errors.ItemWithoutText(context.Function, missing.Count, data.Items.Ids[missing[0]].ToValue());
        }
    }

    /// <summary>
    /// About what training holds: per chunk of 8 sequences an items x dim gradient block and a
    /// sequence's activations, the item vectors with their gradient, and the parameters with their
    /// gradient and Adam moments (4 copies), plus the text vectors.
    /// </summary>
    public MemoryEstimate EstimateMemory(Interactions data, ItemContent? content, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        long items = data.Items.Count, d = options.Dim, l = options.MaxLength;
        var chunks = (options.Batch + 7) / 8;
        var textDim = content?.Modalities[0].Dimension ?? 0;
        var parameters = options.Shape.Count + (options.ItemIdEmbedding ? items * d : 0) + textDim * d;
        var activations = options.Blocks * (16 * l * d + options.Heads * l * l) + 12 * l * d;
        var bytes = sizeof(float) * (chunks * (items * d + activations + options.Shape.Count) + 4 * parameters + 3 * items * d + items * textDim)
            + 2L * data.RowCount * sizeof(int);
        return new MemoryEstimate(bytes, $"'dim' {d}, 'max_len' {l}, 'batch' {options.Batch} on {items:N0} items", "lower 'batch', 'dim' or 'max_len'");
    }

    /// <summary>
    /// Each user's item indices ordered by time, oldest first; rows with equal times keep the order
    /// the source returned them in.
    /// </summary>
    internal static int[][] OrderedSequences(Interactions data)
    {
        var times = data.RowTimes ?? throw new InvalidOperationException("sequences need timestamps");
        var users = data.Users.Count;
        var offsets = new int[users + 1];
        foreach (var user in data.RowUsers) offsets[user + 1]++;
        for (var u = 0; u < users; u++) offsets[u + 1] += offsets[u];
        var cursor = offsets[..^1].ToArray();
        var rows = new int[data.RowCount];
        for (var r = 0; r < data.RowCount; r++) rows[cursor[data.RowUsers[r]]++] = r;
        var sequences = new int[users][];
        for (var u = 0; u < users; u++)
        {
            // Rows are in source order within the user; a stable sort by time keeps that order for ties.
            var own = rows[offsets[u]..offsets[u + 1]];
            sequences[u] = [.. own.OrderBy(r => times[r]).Select(r => data.RowItems[r])];
        }
        return sequences;
    }

    public ModelArtifacts Train(Interactions data, ItemContent? content, IKindOptions kindOptions, TrainingContext context)
    {
        var options = (Options)kindOptions;
        var sequences = OrderedSequences(data);
        var items = data.Items.Count;
        // The validation cut: each user with 3 or more items keeps its last one apart while training.
        var validate = options.Patience > 0;
        var training = new int[sequences.Length][];
        var validationUsers = new List<int>();
        for (var u = 0; u < sequences.Length; u++)
        {
            var sequence = sequences[u];
            if (validate && sequence.Length >= 3)
            {
                training[u] = sequence[..^1];
                validationUsers.Add(u);
            }
            else training[u] = sequence;
        }
        validate &= validationUsers.Count > 0;
        var text = content?.Modalities[0];
        var settings = new SasRecSettings(options.Shape, (float)options.Dropout, options.LearningRate, options.L2, options.Negatives, options.Batch,
            options.Seed, options.ItemIdEmbedding);
        var trainer = new SasRecTrainer(settings, items, training, text?.Features, text?.Has, text?.Dimension ?? 0);

        float[]? bestNetwork = null, bestItems = null;
        var best = (Ndcg: double.NegativeInfinity, HitRate: 0.0, Epoch: 0);
        var stale = 0;
        var epochsRun = 0;
        var loss = double.NaN;
        var clock = Stopwatch.StartNew();
        var trainingSeconds = 0.0;
        var lastReport = Stopwatch.StartNew();
        for (var e = 1; e <= options.Epochs; e++)
        {
            var current = e;
            var epochClock = Stopwatch.StartNew();
            loss = trainer.Epoch(e, (done, total) =>
            {
                if (lastReport.Elapsed < TimeSpan.FromSeconds(2)) return;
                context.Report("training", current - 1, options.Epochs, $"epoch {current}: batch {done} of {total}");
                lastReport.Restart();
            });
            trainingSeconds += epochClock.Elapsed.TotalSeconds;
            epochsRun = e;
            var detail = string.Create(CultureInfo.InvariantCulture, $"loss {loss:F4}");
            var stop = false;
            if (validate && (e % options.EvalEvery == 0 || e == options.Epochs))
            {
                var (ndcg, hitRate) = Validate(trainer, options.Shape, items, training, sequences, validationUsers);
                detail += string.Create(CultureInfo.InvariantCulture, $", validation ndcg@10 {ndcg:F4}");
                if (ndcg > best.Ndcg)
                {
                    best = (ndcg, hitRate, e);
                    bestNetwork = trainer.Network.ToArray();
                    bestItems = (float[])trainer.ItemVectors.Clone();
                    stale = 0;
                }
                else if (++stale >= options.Patience) stop = true;
            }
            context.Report("training", e, options.Epochs, detail);
            lastReport.Restart();
            if (stop) break;
        }
        bestNetwork ??= trainer.Network.ToArray();
        bestItems ??= (float[])trainer.ItemVectors.Clone();

        // Serving reads the newest max_len items of each user's whole sequence, the validation item included.
        var offsets = new int[sequences.Length + 1];
        for (var u = 0; u < sequences.Length; u++) offsets[u + 1] = offsets[u] + Math.Min(sequences[u].Length, options.MaxLength);
        var stored = new int[offsets[^1]];
        for (var u = 0; u < sequences.Length; u++) sequences[u].AsSpan(sequences[u].Length - (offsets[u + 1] - offsets[u])).CopyTo(stored.AsSpan(offsets[u]));

        var artifacts = new ModelArtifacts();
        artifacts.Arrays[Network] = bestNetwork;
        artifacts.Arrays[ItemVectorsArray] = bestItems;
        artifacts.Arrays[ShapeArray] = new[] { options.Dim, options.Heads, options.Blocks, options.MaxLength };
        artifacts.Arrays[SequenceOffsets] = offsets;
        artifacts.Arrays[SequenceItems] = stored;
        if (content is not null)
        {
            var hasPairs = new bool[items];
            foreach (var item in data.UserItems) hasPairs[item] = true;
            artifacts.Arrays[ArrayNames.ContentItems] = Enumerable.Range(0, items).Where(i => !hasPairs[i]).ToArray();
            artifacts.Metrics["content_items"] = ((int[])artifacts.Arrays[ArrayNames.ContentItems]).Length;
            artifacts.Metrics["text_dim"] = content.Modalities[0].Dimension;
        }
        var metrics = artifacts.Metrics;
        metrics["epochs"] = epochsRun;
        metrics["loss"] = Math.Round(loss, 6);
        metrics["seconds_per_epoch"] = Math.Round(trainingSeconds / Math.Max(1, epochsRun), 4);
        metrics["positions_per_second"] = Math.Round(trainer.PositionsPerEpoch * epochsRun / Math.Max(1e-9, trainingSeconds), 1);
        metrics["training_sequences"] = trainer.TrainingSequences;
        // Users with one interaction train nothing (no next item) but are served from it as context.
        metrics["single_item_users"] = sequences.Count(s => s.Length < 2);
        if (validate)
        {
            metrics["validation_users"] = validationUsers.Count;
            metrics["validation_ndcg@10"] = Math.Round(best.Ndcg, 6);
            metrics["validation_hit_rate@10"] = Math.Round(best.HitRate, 6);
            metrics["best_epoch"] = best.Epoch;
        }
        metrics["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3);
        return artifacts;
    }

    /// <summary>
    /// NDCG@10 and HR@10 of each validation user's held-out last item, ranked over every item after
    /// the user's training sequence, the items of that sequence left out (as recommend() leaves seen items out).
    /// </summary>
    private static (double Ndcg, double HitRate) Validate(SasRecTrainer trainer, SasRecShape shape, int items, int[][] training, int[][] full,
        List<int> users)
    {
        var ndcg = new double[users.Count];
        var pool = new ConcurrentBag<(SasRecWorkspace, float[])>();
        Parallel.For(0, users.Count, Parallelism.Options, () => pool.TryTake(out var w) ? w : (new SasRecWorkspace(shape), new float[items]), (i, _, buffers) =>
        {
            var (workspace, scores) = buffers;
            var user = users[i];
            trainer.ScoreNext(training[user], workspace, scores);
            var rank = RankOf(full[user][^1], training[user], scores);
            ndcg[i] = rank < 10 ? 1 / Math.Log2(rank + 2) : 0;
            return buffers;
        }, pool.Add);
        return (ndcg.Average(), ndcg.Count(v => v > 0) / (double)users.Count);
    }

    /// <summary>The 0-based rank of <paramref name="target"/> among the items not in <paramref name="seen"/>, ties counted against it.</summary>
    internal static int RankOf(int target, int[] seen, float[] scores)
    {
        var excluded = new HashSet<int>(seen);
        excluded.Remove(target);
        var score = scores[target];
        var rank = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            if (i == target || excluded.Contains(i)) continue;
            if (scores[i] > score || (scores[i] == score && i < target)) rank++;
        }
        return rank;
    }

    public ITrainedModel Load(StoredArrays stored, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        return new SasRecModel(options.Shape, stored.Floats(Network), stored.Floats(ItemVectorsArray), stored.Items, stored.Ints(SequenceOffsets),
            stored.Ints(SequenceItems));
    }

    /// <summary>
    /// The shape agrees with the stored options, the network and item vectors have their lengths and
    /// are finite, and every user's stored sequence is 1 to max_len item indices in range.
    /// </summary>
    public void CheckStored(StoredArrays stored, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        var shape = stored.CheckedInts(ShapeArray, 4, "dim, heads, blocks, max_len");
        int[] expected = [options.Dim, options.Heads, options.Blocks, options.MaxLength];
        string[] names = ["dim", "heads", "blocks", "max_len"];
        for (var i = 0; i < 4; i++)
        {
            if (shape[i] != expected[i])
                throw Errors.Damaged(Errors.DamagedArrayValue(ShapeArray, i, shape[i].ToString(CultureInfo.InvariantCulture),
                    $"{expected[i].ToString(CultureInfo.InvariantCulture)}, the stored options' '{names[i]}'"));
        }
        stored.CheckedFloats(Network, options.Shape.Count, "the network's parameters for the stored options");
        stored.CheckedFloats(ItemVectorsArray, (long)stored.Items * options.Dim, $"{stored.Items.ToString(CultureInfo.InvariantCulture)} items x 'dim' {options.Dim.ToString(CultureInfo.InvariantCulture)}");
        var offsets = stored.CheckedInts(SequenceOffsets, (long)stored.Users + 1, "one per user, plus one");
        var sequenceItems = stored.CheckedInts(SequenceItems);
        if (offsets[0] != 0) throw Errors.Damaged(Errors.DamagedArrayValue(SequenceOffsets, 0, offsets[0].ToString(CultureInfo.InvariantCulture), "0"));
        for (var u = 0; u < stored.Users; u++)
        {
            var length = offsets[u + 1] - offsets[u];
            if (length < 1 || length > options.MaxLength || offsets[u + 1] > sequenceItems.Length)
                throw Errors.Damaged(Errors.DamagedArrayIndex(SequenceOffsets, u + 1, offsets[u + 1],
                    $"{(offsets[u] + 1).ToString(CultureInfo.InvariantCulture)}..{Math.Min(sequenceItems.Length, offsets[u] + options.MaxLength).ToString(CultureInfo.InvariantCulture)}"));
        }
        if (offsets[stored.Users] != sequenceItems.Length)
            throw Errors.Damaged(Errors.DamagedArrayLength(SequenceItems, sequenceItems.Length, offsets[stored.Users], $"'{SequenceOffsets}' ends there"));
        for (var p = 0; p < sequenceItems.Length; p++)
        {
            if ((uint)sequenceItems[p] >= (uint)stored.Items)
                throw Errors.Damaged(Errors.DamagedArrayIndex(SequenceItems, p, sequenceItems[p], $"0..{(stored.Items - 1).ToString(CultureInfo.InvariantCulture)}"));
        }
    }
}

/// <summary>
/// A trained SASRec version: the network, the item vectors and each user's stored sequence (the
/// newest max_len training items). A known user's snapshot score (batch scoring, evaluation) runs
/// the stored sequence; recommend() runs the user's current sequence read through the source.
/// Item vectors are the model's own; a user's vector is the last position's hidden vector of the
/// stored sequence, so their inner product is the model's score.
/// </summary>
internal sealed class SasRecModel : ITrainedModel, IUserScorer, ISequenceScorer
{
    private readonly SasRecShape _shape;
    private readonly float[] _network, _items;
    private readonly int _itemCount;
    private readonly int[] _offsets, _sequences;
    private readonly ConcurrentBag<SasRecWorkspace> _workspaces = [];
    private readonly Lazy<ModelVectors> _users;

    public SasRecModel(SasRecShape shape, float[] network, float[] items, int itemCount, int[] offsets, int[] sequences)
    {
        _shape = shape;
        _network = network;
        _items = items;
        _itemCount = itemCount;
        _offsets = offsets;
        _sequences = sequences;
        _users = new(UserHidden);
    }

    public IUserScorer Scorer => this;

    public ISequenceScorer LiveSequence => this;

    public int MaxLength => _shape.MaxLength;

    public ModelVectors ItemVectors() => new(_shape.Dim, _items);

    public ModelVectors UserVectors() => _users.Value;

    public void Score(int user, Span<float> scores) => ScoreSequence(_sequences.AsSpan(_offsets[user], _offsets[user + 1] - _offsets[user]), scores);

    public void ScoreSequence(ReadOnlySpan<int> sequence, Span<float> scores)
    {
        var workspace = _workspaces.TryTake(out var w) ? w : new SasRecWorkspace(_shape);
        try
        {
            SasRecScoring.ScoreNext(_shape, _network, _items, _itemCount, sequence, workspace, scores);
        }
        finally
        {
            _workspaces.Add(workspace);
        }
    }

    private ModelVectors UserHidden()
    {
        var users = _offsets.Length - 1;
        var d = _shape.Dim;
        var vectors = new float[(long)users * d];
        Parallel.For(0, users, Parallelism.Options, () => new SasRecWorkspace(_shape), (u, _, workspace) =>
        {
            var sequence = _sequences.AsSpan(_offsets[u], _offsets[u + 1] - _offsets[u]);
            var none = new SplitMix64(0);
            SasRecNetwork.Forward(sequence, _items, _network, workspace, 0, ref none);
            workspace.Output.AsSpan((sequence.Length - 1) * d, d).CopyTo(vectors.AsSpan(u * d, d));
            return workspace;
        }, _ => { });
        return new ModelVectors(d, vectors);
    }
}
