using System.Globalization;
using System.Numerics.Tensors;
using SqlRec.Compute;

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
internal sealed class GraphFilterKind : IModelKind, IPagedKind
{
    private static readonly OptionSpec<int> Components = Option.Integer("components", 256, 0, 2048,
        "rank of the ideal low-pass filter (top singular vectors kept); 0 = linear filter only");
    private static readonly OptionSpec<double> Alpha = Option.Real("alpha", 0.3, 0, 1000,
        "weight of the ideal low-pass filter against the linear one");
    private static readonly OptionSpec<int> PowerIterations = Option.Integer("power_iterations", 4, 0, 20,
        "subspace iterations of the randomized SVD (more = closer to the exact SVD, slower)");
    private static readonly OptionSpec<int> Oversampling = Option.Integer("oversampling", 32, 0, 1024,
        "extra random directions in the randomized SVD");
    private static readonly OptionSpec<int> Seed = Option.Integer("seed", 42, int.MinValue, int.MaxValue,
        "seed of the randomized SVD; the same seed gives the same model", range: "any 32-bit integer");
    private static readonly OptionSpec<string> Weighting = Option.Choice("weighting", "binary", ["binary", "weight"],
        "`'binary'`: every (user, item) pair counts 1, as in GF-CF; `'weight'`: the summed weights");
    private static readonly OptionSpec<bool> Live = Option.Boolean("live", true,
        "score each user's *current* rows, read through `source` at `recommend()` time (see below)");
    private static readonly OptionSpec<string> Normalization = Option.Choice("normalization", "symmetric", ["symmetric", "none"],
        "the linear part's matrix: `'symmetric'` uses R~ (GF-CF); `'none'` uses raw R, so the linear part is r R^T R (item co-occurrence " +
        "counts), which is GTE's propagation (Cai et al., CIKM 2023) with its 3 layers. On Gowalla `'none'` with `components` 0 reaches " +
        "recall@20 0.1367 against 0.1682 for `'symmetric'`, so the default stays symmetric");

    private static readonly OptionSpec<double> SharpenTime = Option.Real("sharpen_time", 0, 0, 100,
        "BSPM's sharpening (Choi et al., SIGIR 2023): the filtered scores y are carried along dy/dt = -y P, P the linear part's item-item matrix, for this long; " +
        "0 = off (GF-CF). BSPM's Gowalla setting is 2.5 with `components` 448 and `alpha` 0.2. Costs 4 `sharpen_steps` products with P per user at `recommend()` time");
    private static readonly OptionSpec<int> SharpenSteps = Option.Integer("sharpen_steps", 1, 1, 16,
        "RK4 steps of the sharpening (each four sparse products per user)");

    /// <summary>Options of the graph filter.</summary>
    internal sealed record Options(OptionValues Values) : TableOptions(Values)
    {
        public int Components => Values.Get(GraphFilterKind.Components);
        public double Alpha => Values.Get(GraphFilterKind.Alpha);
        public int PowerIterations => Values.Get(GraphFilterKind.PowerIterations);
        public int Oversampling => Values.Get(GraphFilterKind.Oversampling);
        public int Seed => Values.Get(GraphFilterKind.Seed);
        public bool UseWeights => Values.Get(Weighting) == "weight";
        public bool Live => Values.Get(GraphFilterKind.Live);
        public bool Normalize => Values.Get(Normalization) == "symmetric";
        public double SharpenTime => Values.Get(GraphFilterKind.SharpenTime);
        public int SharpenSteps => Values.Get(GraphFilterKind.SharpenSteps);
    }

    internal const string Vectors = "gf_vectors";
    internal const string Parameters = "gf_parameters";
    internal const string Weights = "gf_weights";

    public string Name => "graph_filter";

    public OptionTable OptionTable { get; } = new(Components, Alpha, PowerIterations, Oversampling, Seed, Weighting, Live, Normalization, SharpenTime, SharpenSteps);

    public string? VectorsFrom => "a 'graph_filter' model with 'components' > 0";

    public IKindOptions ReadOptions(OptionValues values) => new Options(values);

    public void CheckData(Interactions data, ItemContent? content, IKindOptions options, TrainingContext context)
    {
        if (data.Users.Count < 2 || data.Items.Count < 2)
            throw Errors.SourceTooSmall(context.Function, Name, "at least 2 users and 2 items");
        if (((Options)options).UseWeights) CheckScoreRange(data, (Options)options, context.Function);
    }

    /// <summary>
    /// Refuses weights whose scores could pass float32 (they would come out infinite and rank
    /// wrongly). Scores grow with the user's row r: the symmetric linear part is at most |r|_1 (R~
    /// has spectral norm 1), the raw one (<c>normalization</c> 'none') at most
    /// |r|_1 * largest pair weight * largest item degree, and the ideal part at most
    /// alpha * sqrt(largest item degree * |r|_1) (r_i &lt;= d_i and V has orthonormal columns). The
    /// user with the largest summed weight reaches the largest bound.
    /// </summary>
    private static void CheckScoreRange(Interactions data, Options options, string function)
    {
        var itemDegree = new double[data.Items.Count];
        var largestPair = 0.0;
        var heaviest = 0;
        var heaviestWeight = 0.0;
        for (var u = 0; u < data.Users.Count; u++)
        {
            var userWeight = 0.0;
            for (var p = data.UserOffsets[u]; p < data.UserOffsets[u + 1]; p++)
            {
                double weight = data.UserItemWeights[p];
                userWeight += weight;
                itemDegree[data.UserItems[p]] += weight;
                largestPair = Math.Max(largestPair, weight);
            }
            if (userWeight > heaviestWeight) (heaviest, heaviestWeight) = (u, userWeight);
        }
        var largestDegree = itemDegree.Max();
        var linear = options.Normalize ? heaviestWeight : heaviestWeight * largestPair * largestDegree;
        var ideal = options.Components > 0 ? options.Alpha * Math.Sqrt(largestDegree * heaviestWeight) : 0;
        if (linear + ideal > Errors.MaxGraphFilterScore)
            throw Errors.GraphFilterScoresTooLarge(function, linear + ideal, data.Users.Ids[heaviest].ToValue(), heaviestWeight, !options.Normalize);
    }

    /// <summary>The SVD holds about three items x width and two users x width float blocks at once.</summary>
    public MemoryEstimate? EstimateMemory(Interactions data, ItemContent? content, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        if (options.Components == 0 || options.Alpha == 0) return null;
        var width = (long)Math.Min(options.Components + options.Oversampling, Math.Min(data.Users.Count, data.Items.Count));
        return new MemoryEstimate((3L * data.Items.Count + 2L * data.Users.Count) * width * sizeof(float),
            $"'components' {options.Components} on {data.Users.Count:N0} users and {data.Items.Count:N0} items",
            "lower 'components' (or 'oversampling'), or set 'components' to 0 for the linear filter alone");
    }

    public ModelArtifacts Train(Interactions data, ItemContent? content, IKindOptions kindOptions, TrainingContext context)
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
        else AddPagedArrays(artifacts, filter, components, (float)options.Alpha);
        return artifacts;
    }

    /// <summary>Binary versions without sharpening, written with the paged arrays (<see cref="AddPagedArrays"/>).</summary>
    public IPagedModel? OpenPaged(IPagedArrays pages, int users, int items, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        return PagedGraphFilterState.Supports(pages, options) ? PagedGraphFilterState.Read(pages, users, items, options) : null;
    }

    /// <summary>Who has each item (the training matrix's transpose, as CSR), for paged serving.</summary>
    internal const string PagedItemOffsets = "paged_item_offsets";

    /// <inheritdoc cref="PagedItemOffsets"/>
    internal const string PagedItemUsers = "paged_item_users";

    /// <summary>Each item's expansion row length |alpha d_j^1/2 V_j|, for paged serving's bound.</summary>
    internal const string PagedNorms = "paged_norms";

    /// <summary>
    /// What a first <c>recommend()</c> reads instead of the whole version (<see cref="PagedGraphFilter"/>):
    /// the transpose of the training matrix, so the users who share an item are one slice; each
    /// expansion row's length, so the bound rules items out before their rows are read; and the
    /// arrays read a slice at a time (the singular vectors, the seen items, the transpose) in small
    /// parts. Binary weighting only: weighted degrees would need stored sums too.
    /// </summary>
    private static void AddPagedArrays(ModelArtifacts artifacts, GraphFilter filter, int components, float alpha)
    {
        // The normalised transpose the build made has the raw transpose's structure.
        var transposed = filter.NormalizedTransposed;
        artifacts.Arrays[PagedItemOffsets] = transposed.Offsets;
        artifacts.Arrays[PagedItemUsers] = transposed.Indices;
        artifacts.SmallParts.UnionWith([PagedItemUsers, ArrayNames.SeenItems]);
        if (components == 0 || !artifacts.Arrays.TryGetValue(Vectors, out var stored)) return;
        var vectors = (float[])stored;
        var degree = filter.Raw.ColumnSums();
        var norms = new float[filter.Raw.Columns];
        var row = new float[components];
        for (var j = 0; j < norms.Length; j++)
        {
            GraphFilter.FoldRow(vectors.AsSpan(j * components, components), alpha, degree[j], row);
            norms[j] = TensorPrimitives.Norm(row);
        }
        artifacts.Arrays[PagedNorms] = norms;
        artifacts.SmallParts.Add(Vectors);
    }

    public ITrainedModel Load(StoredArrays stored, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        var parameters = stored.Floats(Parameters);
        var raw = RawMatrix(stored.Ints(ArrayNames.SeenOffsets), stored.Ints(ArrayNames.SeenItems), stored.OptionalFloats(Weights), stored.Items);
        var components = (int)parameters[1];
        var vectors = components > 0 ? stored.Floats(Vectors) : null;
        var filter = new GraphFilter(raw, vectors, components, parameters[0], parameters.Length < 3 || parameters[2] != 0, options.SharpenTime, options.SharpenSteps,
            foldInPlace: stored.Owned);
        return new Trained(filter, options.Live ? new LiveScoring(filter, options.UseWeights) : null);
    }

    /// <summary>
    /// The stored parameters (alpha, components, normalization) agree with the stored options,
    /// the singular vectors are finite and one row of <c>components</c> per item, and the weights,
    /// there exactly when <c>weighting</c> is 'weight', one finite non-negative float per seen pair.
    /// </summary>
    public void CheckStored(StoredArrays stored, IKindOptions kindOptions)
    {
        var options = (Options)kindOptions;
        var components = CheckParameters(stored.CheckedFloats(Parameters), options);
        if (components > 0)
            stored.CheckedFloats(Vectors, (long)stored.Items * (int)components, $"{stored.Items.ToString(CultureInfo.InvariantCulture)} items x {components.ToString(CultureInfo.InvariantCulture)} components");
        var seen = stored.Ints(ArrayNames.SeenItems).Length;
        if (options.UseWeights)
        {
            var weights = stored.CheckedFloats(Weights, seen, "one per seen pair");
            for (var p = 0; p < weights.Length; p++)
            {
                if (weights[p] < 0) throw Errors.Damaged(Errors.DamagedArrayValue(Weights, p, Errors.DescribeFloat(weights[p]), "a weight of at least 0"));
            }
        }
        else if (stored.Arrays.ContainsKey(Weights))
        {
            throw Errors.Damaged(Errors.DamagedArrayUnexpected(Weights, "'weighting' is 'binary'"));
        }
        CheckPagedArrays(stored, options, components);
    }

    /// <summary>
    /// The arrays paged serving reads (<see cref="AddPagedArrays"/>), checked on a whole load too, so
    /// a damaged version is refused whichever way it is first read: there for a binary version
    /// written since they exist (all or none), the transpose of the seen items exactly (each item's
    /// users ascending, as many as the item's training pairs), one finite length of at least 0 per item.
    /// </summary>
    private static void CheckPagedArrays(StoredArrays stored, Options options, int components)
    {
        if (!stored.Arrays.ContainsKey(PagedItemOffsets))
        {
            foreach (var name in new[] { PagedItemUsers, PagedNorms })
                if (stored.Arrays.ContainsKey(name)) throw Errors.Damaged(Errors.DamagedArrayUnexpected(name, $"'{PagedItemOffsets}' is not"));
            return;
        }
        if (options.UseWeights) throw Errors.Damaged(Errors.DamagedArrayUnexpected(PagedItemOffsets, "'weighting' is 'weight'"));
        var seenOffsets = stored.Ints(ArrayNames.SeenOffsets);
        var seenItems = stored.Ints(ArrayNames.SeenItems);
        var offsets = stored.CheckedInts(PagedItemOffsets, stored.Items + 1L, "one per item, plus one");
        var users = stored.CheckedInts(PagedItemUsers, seenItems.Length, "one per seen pair");
        var counts = new int[stored.Items];
        foreach (var item in seenItems) counts[item]++;
        if (offsets[0] != 0) throw Errors.Damaged(Errors.DamagedArrayValue(PagedItemOffsets, 0, offsets[0].ToString(CultureInfo.InvariantCulture), "0"));
        for (var i = 0; i < stored.Items; i++)
        {
            if (offsets[i + 1] - (long)offsets[i] != counts[i])
                throw Errors.Damaged(Errors.DamagedArrayValue(PagedItemOffsets, i + 1, offsets[i + 1].ToString(CultureInfo.InvariantCulture),
                    $"{(offsets[i] + (long)counts[i]).ToString(CultureInfo.InvariantCulture)}, as item {i.ToString(CultureInfo.InvariantCulture)} has {counts[i].ToString(CultureInfo.InvariantCulture)} training pairs"));
            StoredArrays.CheckIndices(PagedItemUsers, users, offsets[i], offsets[i + 1], stored.Users);
        }
        // Each entry (i, u) must be one of user u's: the transpose of the seen items, not just its shape.
        for (var i = 0; i < stored.Items; i++)
            for (var p = offsets[i]; p < offsets[i + 1]; p++)
            {
                var user = users[p];
                if (seenItems.AsSpan(seenOffsets[user], seenOffsets[user + 1] - seenOffsets[user]).BinarySearch(i) < 0)
                    throw Errors.Damaged(Errors.DamagedArrayValue(PagedItemUsers, p, user.ToString(CultureInfo.InvariantCulture), $"a user with item {i.ToString(CultureInfo.InvariantCulture)} in '{ArrayNames.SeenItems}'"));
            }
        if (components == 0 || options.Alpha == 0)
        {
            if (stored.Arrays.ContainsKey(PagedNorms)) throw Errors.Damaged(Errors.DamagedArrayUnexpected(PagedNorms, "the version has no singular vectors"));
            return;
        }
        var norms = stored.CheckedFloats(PagedNorms, stored.Items, "one per item");
        for (var j = 0; j < norms.Length; j++)
        {
            if (norms[j] < 0) throw Errors.Damaged(Errors.DamagedArrayValue(PagedNorms, j, Errors.DescribeFloat(norms[j]), "a length of at least 0"));
        }
    }

    /// <summary>
    /// Checks the stored parameters (alpha, components, normalization) against the stored options
    /// and returns the number of components. Throws <see cref="StoredDataDamage"/>.
    /// </summary>
    internal static int CheckParameters(float[] parameters, Options options)
    {
        if (parameters.Length is not (2 or 3)) throw Errors.Damaged(Errors.DamagedArrayLengthChoice(Parameters, parameters.Length, "3 (alpha, components, normalization)"));
        var bad = VectorBlob.IndexOfNonFinite(parameters);
        if (bad >= 0) throw Errors.Damaged(Errors.DamagedArrayNotFinite(Parameters, bad, parameters[bad]));
        if (parameters[0] != (float)options.Alpha)
            throw Errors.Damaged(Errors.DamagedArrayValue(Parameters, 0, Errors.DescribeFloat(parameters[0]), $"{Errors.DescribeFloat((float)options.Alpha)}, the stored options' 'alpha'"));
        var components = parameters[1];
        if (components != Math.Floor(components) || components < 0 || components > options.Components)
            throw Errors.Damaged(Errors.DamagedArrayValue(Parameters, 1, Errors.DescribeFloat(components), $"a whole number of components from 0 to {options.Components.ToString(CultureInfo.InvariantCulture)}, the stored options' 'components'"));
        // Two parameters are the form written before 'normalization' existed, when the filter was always symmetric.
        if ((parameters.Length == 3 ? parameters[2] : 1f) != (options.Normalize ? 1f : 0f))
            throw Errors.Damaged(Errors.DamagedArrayValue(Parameters, 2, parameters.Length == 3 ? Errors.DescribeFloat(parameters[2]) : "missing", options.Normalize ? "1, as 'normalization' is 'symmetric'" : "0, as 'normalization' is 'none'"));
        return (int)components;
    }

    private static SparseMatrix RawMatrix(int[] offsets, int[] items, float[]? weights, int itemCount)
    {
        var values = weights ?? Enumerable.Repeat(1f, items.Length).ToArray();
        return new SparseMatrix(offsets.Length - 1, itemCount, offsets, items, values);
    }

    /// <summary>
    /// A trained graph filter. Its vectors are the factors of the truncated SVD R~ ~ U S V^T of the
    /// normalised matrix it was built from: item i's vector is V_i S and user u's is U_u S = R~_u V
    /// (the training row projected). Dot products between item vectors then approximate R~^T R~,
    /// the normalised co-occurrence that is the filter's linear half, and between users R~ R~^T.
    /// Computed once, on first use.
    /// </summary>
    private sealed class Trained(GraphFilter filter, LiveScoring? live) : ITrainedModel
    {
        private readonly Lazy<(ModelVectors Users, ModelVectors Items)?> _factors = new(() => Factors(filter));

        public IUserScorer Scorer => filter;

        public LiveScoring? Live => live;

        public ModelVectors? ItemVectors() => _factors.Value?.Items;

        public ModelVectors? UserVectors() => _factors.Value?.Users;

        private static (ModelVectors, ModelVectors)? Factors(GraphFilter filter)
        {
            if (filter.RightSingularVectors() is not { } vectors) return null;
            var raw = filter.Raw;
            var (users, items) = SingularFactors(raw.Offsets, raw.Indices, raw.Values, vectors, filter.Components, raw.Columns);
            return (new ModelVectors(filter.Components, users), new ModelVectors(filter.Components, items));
        }
    }

    /// <summary>
    /// U S = R~ V and V S for the training matrix R (<paramref name="weights"/> per pair, 1 for
    /// binary), R~ = D_u^-1/2 R D_i^-1/2, and right singular vectors V (items x components): each
    /// user's row projected, then s_j as the length of column j of R~ V (|R~ v_j| = s_j, so S need
    /// not be stored with the model).
    /// </summary>
    internal static (float[] Users, float[] Items) SingularFactors(int[] offsets, int[] columns, float[] weights, float[] vectors, int components, int itemCount)
    {
        var itemDegree = new double[itemCount];
        for (var p = 0; p < columns.Length; p++) itemDegree[columns[p]] += weights[p];
        var userCount = offsets.Length - 1;
        var users = new float[(long)userCount * components];
        var squares = new double[components];
        for (var u = 0; u < userCount; u++)
        {
            double userDegree = 0;
            for (var p = offsets[u]; p < offsets[u + 1]; p++) userDegree += weights[p];
            var target = users.AsSpan(u * components, components);
            for (var p = offsets[u]; p < offsets[u + 1]; p++)
            {
                var item = columns[p];
                var scale = (float)(weights[p] / Math.Sqrt(userDegree * itemDegree[item]));
                if (float.IsFinite(scale) && scale != 0) TensorPrimitives.MultiplyAdd(vectors.AsSpan(item * components, components), scale, target, target);
            }
            for (var j = 0; j < components; j++) squares[j] += (double)target[j] * target[j];
        }
        var singular = Array.ConvertAll(squares, s => (float)Math.Sqrt(s));
        var items = new float[(long)itemCount * components];
        for (var i = 0; i < itemCount; i++) TensorPrimitives.Multiply(vectors.AsSpan(i * components, components), singular, items.AsSpan(i * components, components));
        return (users, items);
    }
}
