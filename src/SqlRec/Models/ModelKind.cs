using System.Text.Json.Nodes;

namespace SqlRec.Models;

/// <summary>
/// A kind of model that <c>rec_train</c> can build. A kind owns everything about itself: its
/// options as one table (<see cref="OptionTable"/>, from which reading, validation, the stored JSON and
/// the catalog's rows come), its checks of the data and its memory estimate, its training, and,
/// through <see cref="Load"/>, how a trained version scores users (live and in batches) and which
/// item and user vectors it has. Kinds never touch SQLite: the operations read and write for them.
/// Nothing outside <see cref="ModelKinds"/> names a kind.
/// </summary>
internal interface IModelKind
{
    /// <summary>The name used in the <c>model</c> option.</summary>
    string Name { get; }

    /// <summary>The kind's options, in reading order (the training call's own, <c>model</c> and <c>source</c>, are not in it).</summary>
    OptionTable OptionTable { get; }

    /// <summary>
    /// How a user gets models of this kind with item and user vectors, for the message when a model
    /// has none (<c>a 'lightgcn' model</c>, <c>a 'graph_filter' model with 'components' &gt; 0</c>);
    /// null when the kind never has any.
    /// </summary>
    string? VectorsFrom { get; }

    /// <summary>
    /// True for a sequential kind: it orders each user's items by the source's timestamp, so its
    /// source must have the 4th column (<see cref="CheckSource"/> refuses one without).
    /// </summary>
    bool OrdersByTime => false;

    /// <summary>
    /// Builds the kind's typed options from its validated table values. Pure: it also reads the
    /// options stored with a version, on any machine, so what depends on the machine (a named GPU)
    /// is checked in <see cref="CheckSource"/>.
    /// </summary>
    IKindOptions ReadOptions(OptionValues values);

    /// <summary>Checks the source's shape and the machine against the options, before the source runs.</summary>
    void CheckSource(IKindOptions options, int sourceColumns, TrainingContext context) { }

    /// <summary>The item modality queries a content kind reads besides the source; none for other kinds.</summary>
    IReadOnlyList<ModalitySource> Modalities(IKindOptions options) => [];

    /// <summary>
    /// Checks the data (and a content kind's item content) before anything is written: the sizes
    /// the kind needs, users that leave nothing to sample, ... Memory is checked apart, with <see cref="EstimateMemory"/>.
    /// </summary>
    void CheckData(Interactions data, ItemContent? content, IKindOptions options, TrainingContext context);

    /// <summary>About what training holds at its peak, and how to lower it; null when it is no more than the data itself.</summary>
    MemoryEstimate? EstimateMemory(Interactions data, ItemContent? content, IKindOptions options);

    /// <summary>
    /// Trains on the data (a content kind also on <paramref name="content"/>, aligned to the data's
    /// items). Throws <see cref="SqlRecException"/> for data the kind cannot use.
    /// </summary>
    ModelArtifacts Train(Interactions data, ItemContent? content, IKindOptions options, TrainingContext context);

    /// <summary>A trained version of this kind, from its stored arrays.</summary>
    ITrainedModel Load(StoredArrays stored, IKindOptions options);

    /// <summary>
    /// Checks a version's arrays as read from a file, once, before <see cref="Load"/>: each array the
    /// kind reads is there with its dtype, its length fits the version's counts and the stored
    /// options, indices are within bounds and floats finite, so that serving never indexes or ranks
    /// from damaged data. The arrays every version carries are checked already
    /// (<see cref="StoredArrays.CheckCommon"/>). Throws <see cref="StoredDataDamage"/>.
    /// </summary>
    void CheckStored(StoredArrays stored, IKindOptions options);
}

/// <summary>Validated options of a model kind.</summary>
internal interface IKindOptions
{
    /// <summary>The options with defaults filled in, as stored with the version.</summary>
    JsonObject ToJson();
}

/// <summary>Options of a kind as the values of its table (most kinds need no more).</summary>
internal abstract record TableOptions(OptionValues Values) : IKindOptions
{
    /// <inheritdoc />
    public JsonObject ToJson() => Values.ToJson();
}

/// <summary>What training would need in memory, with the words for the error when it is too much.</summary>
/// <param name="Bytes">Peak bytes, about.</param>
/// <param name="What">The options and sizes it comes from: <c>'dim' 64 on 1,000 users and 500 items</c>.</param>
/// <param name="Fix">How to lower it: <c>lower 'dim'</c>.</param>
internal sealed record MemoryEstimate(long Bytes, string What, string Fix);

/// <summary>A version's stored arrays with the sizes of its id maps.</summary>
/// <param name="Arrays">The arrays by name (float[] or int[]).</param>
/// <param name="Users">Number of users of the version.</param>
/// <param name="Items">Number of items of the version.</param>
internal sealed record StoredArrays(IReadOnlyDictionary<string, Array> Arrays, int Users, int Items)
{
    /// <summary>
    /// True when the arrays were read from a file for this load alone (nothing else holds them), so a
    /// kind may transform a large one in place instead of keeping a transformed copy beside it.
    /// False for arrays a training made in memory, which are also written to the store.
    /// </summary>
    public bool Owned { get; init; }

    /// <summary>A float array.</summary>
    public float[] Floats(string name) => (float[])Arrays[name];

    /// <summary>An int array.</summary>
    public int[] Ints(string name) => (int[])Arrays[name];

    /// <summary>An optional float array.</summary>
    public float[]? OptionalFloats(string name) => Arrays.TryGetValue(name, out var array) ? (float[])array : null;

    // ---- checks of arrays read from a file: each throws StoredDataDamage -------------------------

    /// <summary>
    /// Checks the arrays every version carries: <c>popularity</c> (one finite float per item), the
    /// seen-items CSR (offsets from 0, never decreasing, ending at the number of seen items; each
    /// user's items in range, ascending and distinct) and, when present, <c>content_items</c> (in range, ascending).
    /// </summary>
    public void CheckCommon()
    {
        CheckedFloats(ArrayNames.Popularity, Items, "one per item");
        var offsets = CheckedInts(ArrayNames.SeenOffsets, (long)Users + 1, "one per user, plus one");
        var seen = CheckedInts(ArrayNames.SeenItems);
        if (offsets[0] != 0) throw Errors.Damaged(Errors.DamagedArrayValue(ArrayNames.SeenOffsets, 0, N(offsets[0]), "0"));
        for (var u = 0; u < Users; u++)
        {
            if (offsets[u + 1] < offsets[u] || offsets[u + 1] > seen.Length)
                throw Errors.Damaged(Errors.DamagedArrayIndex(ArrayNames.SeenOffsets, u + 1, offsets[u + 1], $"{N(offsets[u])}..{N(seen.Length)}"));
            CheckIndices(ArrayNames.SeenItems, seen, offsets[u], offsets[u + 1], Items);
        }
        if (offsets[Users] != seen.Length)
            throw Errors.Damaged(Errors.DamagedArrayLength(ArrayNames.SeenItems, seen.Length, offsets[Users], $"'{ArrayNames.SeenOffsets}' ends there"));
        if (Arrays.ContainsKey(ArrayNames.ContentItems))
        {
            // Exactly the items without a training pair: anything else labels the wrong rows 'content'.
            var content = CheckedInts(ArrayNames.ContentItems);
            CheckIndices(ArrayNames.ContentItems, content, 0, content.Length, Items);
            var hasPairs = new bool[Items];
            foreach (var item in seen) hasPairs[item] = true;
            var expected = 0;
            for (var i = 0; i < Items; i++)
            {
                if (hasPairs[i]) continue;
                if (expected >= content.Length || content[expected] != i)
                    throw Errors.Damaged(Errors.DamagedArrayLength(ArrayNames.ContentItems, content.Length, hasPairs.Count(h => !h), "one per item without a training pair"));
                expected++;
            }
            if (expected != content.Length)
                throw Errors.Damaged(Errors.DamagedArrayLength(ArrayNames.ContentItems, content.Length, expected, "one per item without a training pair"));
        }
    }

    /// <summary>A float array that must be there, of <paramref name="length"/> finite elements (any length when null).</summary>
    public float[] CheckedFloats(string name, long? length = null, string? because = null)
    {
        var values = Arrays.TryGetValue(name, out var array) ? array as float[] ?? throw Errors.Damaged(Errors.DamagedArrayType(name, "i32", "f32"))
            : throw Errors.Damaged(Errors.DamagedArrayMissing(name));
        if (length is { } expected && values.Length != expected) throw Errors.Damaged(Errors.DamagedArrayLength(name, values.Length, expected, because ?? ""));
        var bad = VectorBlob.IndexOfNonFinite(values);
        if (bad >= 0) throw Errors.Damaged(Errors.DamagedArrayNotFinite(name, bad, values[bad]));
        return values;
    }

    /// <summary>An int array that must be there, of <paramref name="length"/> elements (any length when null).</summary>
    public int[] CheckedInts(string name, long? length = null, string? because = null)
    {
        var values = Arrays.TryGetValue(name, out var array) ? array as int[] ?? throw Errors.Damaged(Errors.DamagedArrayType(name, "f32", "i32"))
            : throw Errors.Damaged(Errors.DamagedArrayMissing(name));
        if (length is { } expected && values.Length != expected) throw Errors.Damaged(Errors.DamagedArrayLength(name, values.Length, expected, because ?? ""));
        return values;
    }

    /// <summary>Checks that <c>values[from..to]</c> are indices below <paramref name="count"/>, ascending and distinct.</summary>
    public static void CheckIndices(string name, int[] values, int from, int to, int count)
    {
        for (var p = from; p < to; p++)
        {
            if ((uint)values[p] >= (uint)count) throw Errors.Damaged(Errors.DamagedArrayIndex(name, p, values[p], $"0..{N(count - 1)}"));
            if (p > from && values[p] <= values[p - 1]) throw Errors.Damaged(Errors.DamagedArrayOrder(name, p, "ascending and distinct"));
        }
    }

    private static string N(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// A trained version of a kind, loaded for serving: how it scores users, and the vectors it
/// has. Immutable once built: recommend() calls from several connections and rec_evaluate's
/// parallel ranking use it from many threads at once.
/// </summary>
internal interface ITrainedModel
{
    /// <summary>Scores every item for a known user; null when the kind ranks by popularity alone.</summary>
    IUserScorer? Scorer { get; }

    /// <summary>
    /// How the version scores a user's <em>current</em> interactions, read at serving time through
    /// the source (graph_filter with <c>live</c>); null when it serves its training snapshot.
    /// </summary>
    LiveScoring? Live => null;

    /// <summary>
    /// How a sequential version scores a user's <em>current</em> items in time order, read at
    /// serving time through the source (sasrec), or an explicit sequence; null for other kinds.
    /// </summary>
    ISequenceScorer? LiveSequence => null;

    /// <summary>Item vectors for search and publication (one row per item, in item index order), or null when the version has none.</summary>
    ModelVectors? ItemVectors() => null;

    /// <summary>User vectors (one row per user), or null when the version has none.</summary>
    ModelVectors? UserVectors() => null;
}

/// <summary>Row-major vectors of one id space: <c>Data.Length = count * Dimensions</c>. Compared by inner product, as the model scores.</summary>
internal sealed record ModelVectors(int Dimensions, float[] Data);

/// <summary>A live version's row scorer, and whether rows are weighted by the source's weight column.</summary>
internal sealed record LiveScoring(IRowScorer Scorer, bool UseWeights);

/// <summary>Scores every item as the next one after a sequence of items; thread-safe, no state kept between calls.</summary>
internal interface ISequenceScorer
{
    /// <summary>The newest items of a sequence the scorer reads; older ones make no difference.</summary>
    int MaxLength { get; }

    /// <summary>Writes one score per item for what follows <paramref name="sequence"/> (item indices, oldest first, not empty).</summary>
    void ScoreSequence(ReadOnlySpan<int> sequence, Span<float> scores);
}

/// <summary>Scores every item for one user; higher is better. Implementations keep no state between calls.</summary>
internal interface IUserScorer
{
    /// <summary>Writes one score per item into <paramref name="scores"/>.</summary>
    void Score(int user, Span<float> scores);
}

/// <summary>A scorer that scores blocks of users at once, faster than one by one (batch scoring, evaluation).</summary>
internal interface IBatchScorer
{
    /// <summary>Writes users.Length rows of one score per item into <paramref name="scores"/>.</summary>
    void ScoreBatch(ReadOnlySpan<int> users, Span<float> scores);
}

/// <summary>A scorer that can score any interaction row, not only the users it was built from.</summary>
internal interface IRowScorer
{
    /// <summary>Scores a row given as item indices (sorted, distinct) with weights.</summary>
    void ScoreRow(ReadOnlySpan<int> items, ReadOnlySpan<float> weights, Span<float> scores);
}

/// <summary>
/// A row scorer that can serve a top-k faster than scoring every item exactly: it writes exact
/// scores for every item that can be among the best <c>k</c> (leaving out the excluded ones) and,
/// for the others, values below the k-th best exact score, so that <see cref="Compute.TopK"/>'s
/// selection on the result is exactly the one on exact scores.
/// </summary>
internal interface IShortlistScorer : IRowScorer
{
    /// <summary>Scores a row for a top-<paramref name="k"/> selection that leaves out <paramref name="excludedSorted"/>.</summary>
    void ScoreRowForTop(ReadOnlySpan<int> items, ReadOnlySpan<float> weights, int k, ReadOnlySpan<int> excludedSorted, Span<float> scores);

    /// <summary><see cref="ScoreRowForTop"/> for a user of the training data, with the row <see cref="IUserScorer.Score"/> scores.</summary>
    void ScoreUserForTop(int user, int k, ReadOnlySpan<int> excludedSorted, Span<float> scores);
}

/// <summary>What a training produces besides the id maps: named arrays and metrics.</summary>
internal sealed class ModelArtifacts
{
    /// <summary>Arrays to store (float[] or int[]), by name.</summary>
    public Dictionary<string, Array> Arrays { get; } = new(StringComparer.Ordinal);

    /// <summary>Arrays the kind pages in a slice at a time at serving time: stored in small parts (<see cref="Store.ModelStore.SmallPartElements"/>).</summary>
    public HashSet<string> SmallParts { get; } = new(StringComparer.Ordinal);

    /// <summary>Metrics recorded with the version (training loss, validation figures ...).</summary>
    public JsonObject Metrics { get; } = [];
}

/// <summary>What a training run can report to and check with its caller.</summary>
internal sealed class TrainingContext(string function, string modelName, Action<TrainingProgress>? progress, CancellationToken cancellation)
{
    /// <summary>The SQL function training runs for (<c>rec_train</c>, <c>rec_evaluate</c>), as messages name it.</summary>
    public string Function { get; } = function;

    /// <summary>The model being trained.</summary>
    public string ModelName { get; } = modelName;

    /// <summary>Stops a long training early.</summary>
    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>Called after each progress report (the training refreshes its lease from it).</summary>
    public Action? Heartbeat { get; set; }

    /// <summary>True once the caller asked SQLite to stop (sqlite3_interrupt on the connection).</summary>
    public Func<bool>? Interrupted { get; set; }

    private readonly Compute.ComputeDevices? _devices;

    /// <summary>Where the GPU-capable kinds may train: the devices found on this machine (probed on first use), unless the caller names others.</summary>
    public Compute.ComputeDevices Devices { get => _devices ?? Compute.ComputeDevices.Machine; init => _devices = value; }

    /// <summary>
    /// Reports progress to the caller, and is where a long training notices that it should stop:
    /// it throws <see cref="OperationCanceledException"/> when the token is cancelled or the
    /// connection was interrupted. Kinds report at least every few seconds of work.
    /// </summary>
    public void Report(string stage, long done, long? total, string? detail = null)
    {
        if (Cancellation.IsCancellationRequested || Interrupted?.Invoke() == true) throw new OperationCanceledException();
        progress?.Invoke(new TrainingProgress(ModelName, stage, done, total, detail));
        if (Interrupted?.Invoke() == true) throw new OperationCanceledException();
        Heartbeat?.Invoke();
    }
}
