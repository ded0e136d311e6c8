using System.Numerics.Tensors;

namespace SqlRec.Compute;

/// <summary>Settings of one FREEDOM training (validated by the model kind).</summary>
/// <param name="Dim">Embedding width, also the width the modality features are projected to.</param>
/// <param name="Layers">Propagation layers on the user-item graph (MMRec's n_ui_layers).</param>
/// <param name="ItemLayers">Propagation layers on the frozen item-item graph (MMRec's n_mm_layers).</param>
/// <param name="Dropout">Share of user-item edges the degree-sensitive pruning drops each epoch.</param>
/// <param name="RegWeight">Weight of the modality BPR terms (MMRec's reg_weight).</param>
/// <param name="L2">L2 weight on the batch's layer-0 embedding rows.</param>
/// <param name="TuneFeatures">Train the raw item features too (MMRec's <c>from_pretrained(freeze=False)</c>).</param>
/// <param name="Seed">Seeds the initialisation, the pruning and the sampling.</param>
internal sealed record FreedomSettings(int Dim, int Layers, int ItemLayers, double Dropout, double RegWeight, double L2, bool TuneFeatures, int Seed);

/// <summary>
/// FREEDOM training (Zhou and Shen, "A Tale of Two Graphs", ACM MM 2023, following MMRec's code)
/// on LightGCN's compute layer (<see cref="ILightGcnBackend"/>: the managed SIMD path or ILGPU on a
/// GPU). Users and items have free embeddings E0. Each epoch the user-item graph is pruned by
/// <see cref="DegreePruning"/> and handed to the backend (<see cref="ILightGcnBackend.SetGraph"/>),
/// and the batches propagate over it LightGCN-style, F = mean(E0, A^ E0, ..., A^^L E0); item ID
/// embeddings are also propagated over the frozen item-item graph S, h = S^L' E0_items
/// (<see cref="ILightGcnBackend.SetItemGraph"/>); the final item vector is F_i + h_i and a user's
/// score for an item is F_u . (F_i + h_i). Each modality m has features X_m projected by a linear
/// layer, T_m = X_m W_m + b_m, used only by the loss:
/// <c>BPR(F_u, G_p, G_n) + reg_weight * sum_m BPR(F_u, T_m,p, T_m,n)</c> plus L2 on the batch's E0 rows,
/// each averaged over the batch. The backend runs the propagation, the main BPR term, the backward
/// pass and Adam on E0; the modality terms (small dense products over the batch's items) run here
/// on the host, reading F at the batch's users and adding their gradient back
/// (<see cref="ILightGcnBackend.GetUserRows"/>, <see cref="ILightGcnBackend.AddUserGradient"/>).
/// Adam updates E0, W, b and (by default) X. Inference uses the full graph. Deterministic for a
/// seed on a given backend.
/// </summary>
internal sealed class FreedomTrainer : IFinalEmbeddings, IDisposable
{
    private readonly int[] _offsets;
    private readonly int[] _columns;
    private readonly int[] _pairUsers;
    private readonly int[] _warmItems;
    private readonly float[] _edgeWeights;
    private readonly SparseMatrix _itemGraph;
    private readonly SparseMatrix _itemGraphTransposed;
    private readonly FreedomSettings _settings;
    private readonly ILightGcnBackend _backend;
    private readonly bool _sharesHostArrays;
    private SplitMix64 _random;
    private BprBatch? _batch;

    private readonly List<AdamParameter> _parameters = [];
    private readonly Modality[] _modalities;
    private float[] _userRows = [], _userRowGrad = [];
    private int[] _tripleUserSlot = [];
    private double[] _margins = [];
    private float[] _g = [], _y = [], _z = [];
    private int[] _lastTouched = [];

    /// <summary>One modality's features and projection, with their gradients.</summary>
    private sealed class Modality
    {
        public required int Width { get; init; }
        public required bool[] Has { get; init; }
        public required AdamParameter Features { get; init; }
        public required AdamParameter Projection { get; init; }
        public required AdamParameter Bias { get; init; }

        /// <summary>Projected rows of the batch's items (touched x dim) and their gradients.</summary>
        public float[] Rows = [], RowGrad = [];
    }

    /// <summary>Builds the graphs and initialises the parameters from the seed, on the managed CPU path.</summary>
    /// <param name="users">Number of users.</param>
    /// <param name="items">Number of items (with interactions or features).</param>
    /// <param name="offsets">CSR offsets of the training pairs (users + 1).</param>
    /// <param name="columns">CSR item indices, sorted within each user.</param>
    /// <param name="itemGraph">The frozen, normalised item-item graph (items x items).</param>
    /// <param name="modalities">Per modality: features (items x width, zero rows where missing), width and presence.</param>
    /// <param name="settings">Sizes and loss weights.</param>
    public FreedomTrainer(int users, int items, int[] offsets, int[] columns, SparseMatrix itemGraph,
        IReadOnlyList<(float[] Features, int Width, bool[] Has)> modalities, FreedomSettings settings)
        : this(users, items, offsets, columns, itemGraph, modalities, settings, ComputeDevice.Managed)
    {
    }

    /// <summary>As the other constructor, with the kernels on <paramref name="device"/>.</summary>
    public FreedomTrainer(int users, int items, int[] offsets, int[] columns, SparseMatrix itemGraph,
        IReadOnlyList<(float[] Features, int Width, bool[] Has)> modalities, FreedomSettings settings, ComputeDevice device)
    {
        Users = users;
        Items = items;
        Dim = settings.Dim;
        _settings = settings;
        _offsets = offsets;
        _columns = columns;
        _pairUsers = new int[columns.Length];
        for (var u = 0; u < users; u++) _pairUsers.AsSpan(offsets[u], offsets[u + 1] - offsets[u]).Fill(u);
        var hasPairs = new bool[items];
        foreach (var item in columns) hasPairs[item] = true;
        _warmItems = Enumerable.Range(0, items).Where(i => hasPairs[i]).ToArray();
        _edgeWeights = DegreePruning.EdgeWeights(offsets, columns, items);
        _itemGraph = itemGraph;
        _itemGraphTransposed = itemGraph.Transpose();
        var ones = new float[columns.Length];
        Array.Fill(ones, 1f);
        FullGraph = new SparseMatrix(users, items, offsets, columns, ones).NormalizeSymmetric();
        FullGraphTransposed = FullGraph.Transpose();
        Graph = FullGraph;
        GraphTransposed = FullGraphTransposed;
        _random = new SplitMix64((ulong)settings.Seed ^ 0x46524545444F4DUL);

        var dim = Dim;
        UserE0 = new float[users * dim];
        ItemE0 = new float[items * dim];
        // Xavier-uniform, as nn.init.xavier_uniform_ on an (n x dim) embedding table.
        FillUniform(UserE0, Math.Sqrt(6.0 / (users + dim)));
        FillUniform(ItemE0, Math.Sqrt(6.0 / (items + dim)));
        _modalities = new Modality[modalities.Count];
        for (var m = 0; m < modalities.Count; m++)
        {
            var (features, width, has) = modalities[m];
            // nn.Linear's default initialisation: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
            var bound = 1 / Math.Sqrt(width);
            var projection = new AdamParameter(new float[width * dim]);
            var bias = new AdamParameter(new float[dim]);
            FillUniform(projection.Values, bound);
            FillUniform(bias.Values, bound);
            var featureParameter = new AdamParameter((float[])features.Clone(), trained: settings.TuneFeatures);
            if (settings.TuneFeatures) _parameters.Add(featureParameter);
            _parameters.Add(projection);
            _parameters.Add(bias);
            _modalities[m] = new Modality { Width = width, Has = has, Features = featureParameter, Projection = projection, Bias = bias };
        }

        _backend = device.CreateBackend(FullGraph, FullGraphTransposed, dim, settings.Layers, UserE0, ItemE0);
        try
        {
            _backend.SetItemGraph(_itemGraph, _itemGraphTransposed, settings.ItemLayers);
        }
        catch
        {
            _backend.Dispose();
            throw;
        }
        (UserFinal, ItemFinal, _sharesHostArrays) = BackendHost.FinalArrays(_backend, users, items, dim);
    }

    private void FillUniform(float[] target, double bound)
    {
        for (var i = 0; i < target.Length; i++) target[i] = (float)((((_random.Next() >> 11) * (1.0 / (1UL << 53))) * 2 - 1) * bound);
    }

    /// <summary>Number of users.</summary>
    public int Users { get; }

    /// <summary>Number of items.</summary>
    public int Items { get; }

    /// <summary>Embedding width.</summary>
    public int Dim { get; }

    /// <summary>What runs the kernels (<see cref="ILightGcnBackend.Description"/>).</summary>
    public string Device => _backend.Description;

    /// <summary>The full normalised user-item graph R~ (users x items), used at inference.</summary>
    public SparseMatrix FullGraph { get; }

    /// <summary>R~ transposed.</summary>
    public SparseMatrix FullGraphTransposed { get; }

    /// <summary>The graph the training batches propagate over: this epoch's pruned one.</summary>
    public SparseMatrix Graph { get; private set; }

    /// <summary><see cref="Graph"/> transposed.</summary>
    public SparseMatrix GraphTransposed { get; private set; }

    /// <summary>Layer-0 user embeddings (users x dim): trained parameters, writable between calls (an initialisation from outside).</summary>
    public float[] UserE0 { get; }

    /// <summary>Layer-0 item ID embeddings (items x dim).</summary>
    public float[] ItemE0 { get; }

    /// <summary>dLoss/dE0 of the users after <see cref="BatchGradient"/> (empty before; training keeps it on the backend).</summary>
    public float[] UserGrad { get; private set; } = [];

    /// <summary>dLoss/dE0 of the items after <see cref="BatchGradient"/>.</summary>
    public float[] ItemGrad { get; private set; } = [];

    /// <summary>Features of modality <paramref name="m"/> (items x width): trained when features are tuned.</summary>
    public float[] Features(int m) => _modalities[m].Features.Values;

    /// <summary>dLoss/dX of modality <paramref name="m"/> (only the batch's rows are current).</summary>
    public float[] FeatureGrad(int m) => _modalities[m].Features.Grad;

    /// <summary>Projection W of modality <paramref name="m"/> (width x dim, row-major: T = X W + b).</summary>
    public float[] Projection(int m) => _modalities[m].Projection.Values;

    /// <summary>dLoss/dW of modality <paramref name="m"/>.</summary>
    public float[] ProjectionGrad(int m) => _modalities[m].Projection.Grad;

    /// <summary>Bias b of modality <paramref name="m"/>.</summary>
    public float[] Bias(int m) => _modalities[m].Bias.Values;

    /// <summary>dLoss/db of modality <paramref name="m"/>.</summary>
    public float[] BiasGrad(int m) => _modalities[m].Bias.Grad;

    /// <summary>Final user embeddings F_u after <see cref="Forward"/>.</summary>
    public float[] UserFinal { get; }

    /// <summary>Final item embeddings F_i + h_i after <see cref="Forward"/>.</summary>
    public float[] ItemFinal { get; }

    /// <summary>Adam steps taken.</summary>
    public int Steps { get; private set; }

    /// <summary>Training pairs (positive samples per epoch).</summary>
    public int Pairs => _columns.Length;

    /// <summary>
    /// Bytes of the arrays training holds: on the backend 6 (users + items) x dim blocks (E0, F, dF,
    /// dE0, Adam's two moments) plus the propagation scratch, the item-item path's scratch and the
    /// graphs; on the host the modality parameters (4 times when trained), E0 and the graphs.
    /// </summary>
    public long StateBytes()
    {
        long rows = (long)(Users + Items) * Dim;
        long bytes = 4L * rows * (6 + Math.Min(2, Math.Max(0, _settings.Layers - 1)) + (_sharesHostArrays ? 0 : 3));
        bytes += 4L * Items * Dim * Math.Min(3, Math.Max(0, _settings.ItemLayers - 1) + (_settings.ItemLayers >= 2 ? 1 : 0));
        foreach (var p in _parameters) bytes += 4L * 4 * p.Values.Length;
        foreach (var m in _modalities.Where(m => !_settings.TuneFeatures)) bytes += 4L * m.Features.Values.Length;
        foreach (var graph in new[] { FullGraph, FullGraphTransposed, Graph, GraphTransposed, _itemGraph, _itemGraphTransposed })
            bytes += 8L * graph.NonZeros + 4L * graph.Offsets.Length;
        bytes += 4L * (_pairUsers.Length + _edgeWeights.Length + _warmItems.Length);
        return bytes;
    }

    // ---- graphs ------------------------------------------------------------------------------

    /// <summary>Draws this epoch's pruned graph (<see cref="DegreePruning"/>) and hands it to the backend; with dropout 0 the full graph.</summary>
    public void PruneEdges()
    {
        if (_settings.Dropout <= 0)
        {
            UseFullGraph();
            return;
        }
        var keep = DegreePruning.KeptCount(_columns.Length, _settings.Dropout);
        var kept = DegreePruning.Sample(_edgeWeights, keep, ref _random);
        Graph = DegreePruning.Pruned(Users, Items, _offsets, _columns, kept);
        GraphTransposed = Graph.Transpose();
        _backend.SetGraph(Graph, GraphTransposed);
    }

    /// <summary>Uses the full graph for the next forward passes (inference, validation).</summary>
    public void UseFullGraph()
    {
        if (ReferenceEquals(Graph, FullGraph)) return;
        Graph = FullGraph;
        GraphTransposed = FullGraphTransposed;
        _backend.SetGraph(Graph, GraphTransposed);
    }

    /// <summary>F = mean(E0, A^ E0, ..., A^^L E0) on <see cref="Graph"/> plus, for the items, h = S^L' E0_items, into <see cref="UserFinal"/> and <see cref="ItemFinal"/>.</summary>
    public void Forward()
    {
        PushE0();
        _backend.Forward();
        if (!_sharesHostArrays) _backend.GetFinal(UserFinal, ItemFinal);
    }

    // ---- loss and gradients -----------------------------------------------------------------

    /// <summary>
    /// The forward pass and the loss of one batch of (users[t], positives[t], negatives[t]) triples,
    /// leaving every parameter's gradient in place (<see cref="UserGrad"/>, <see cref="ItemGrad"/>,
    /// <see cref="ProjectionGrad"/>, ...) and F in <see cref="UserFinal"/> / <see cref="ItemFinal"/>.
    /// Each triple weighs 1 / B in every term.
    /// </summary>
    /// <returns>The batch loss: mean BPR + reg_weight * the modality BPR means + l2 * 0.5 * the triples' E0 squared norms / B.</returns>
    public double BatchGradient(ReadOnlySpan<int> users, ReadOnlySpan<int> positives, ReadOnlySpan<int> negatives)
    {
        var batch = BatchFor(users.Length);
        batch.Set(users, positives, negatives);
        PushE0();
        _backend.Forward();
        var loss = Step(batch);
        if (UserGrad.Length == 0) (UserGrad, ItemGrad) = (new float[Users * Dim], new float[Items * Dim]);
        _backend.GetGradient(UserGrad, ItemGrad);
        if (!_sharesHostArrays) _backend.GetFinal(UserFinal, ItemFinal);
        return loss;
    }

    // The loss and every gradient of a prepared batch whose F rows are current on the backend.
    private double Step(BprBatch batch)
    {
        var loss = _backend.Bpr(batch, _settings.L2);
        // With reg_weight 0 the modality terms vanish from the loss and their gradients are zero, so they are not computed.
        if (_settings.RegWeight != 0 && _modalities.Length > 0) loss += ModalityTerms(batch);
        _backend.Backward(batch, _settings.L2);
        return loss;
    }

    /// <summary>
    /// reg_weight * sum_m mean BPR(F_u, T_m,p, T_m,n) of the batch, T = X W + b. The margin is
    /// F_u . (T_p - T_n) = (W F_u) . (X_p - X_n): the bias cancels (its gradient is zero) and the
    /// products run on the batch's distinct users rather than its distinct items (fewer on any
    /// catalogue): Y = F W^T (users x width), margins Y_u . (X_p - X_n), then with
    /// Z_u = sum_t g_t (X_p - X_n) over the user's triples: dF = Z W, dW = Z^T F, dX_i = sum ±g_t Y_u.
    /// F at the batch's users comes from the backend and dF goes back to it. Every sum runs in a
    /// fixed order, each output row on one thread, so the result does not depend on the threads.
    /// </summary>
    private double ModalityTerms(BprBatch batch)
    {
        var triples = batch.Triples;
        var dim = Dim;
        var weight = 1.0 / triples;
        var reg = _settings.RegWeight;
        var userCount = batch.UserRowCount;
        if (_userRows.Length < userCount * dim)
        {
            _userRows = new float[batch.UserRows.Length * dim];
            _userRowGrad = new float[batch.UserRows.Length * dim];
        }
        if (_tripleUserSlot.Length < triples)
        {
            _tripleUserSlot = new int[triples];
            _margins = new double[triples];
            _g = new float[triples];
        }
        for (var r = 0; r < userCount; r++)
            for (var e = batch.UserOffsets[r]; e < batch.UserOffsets[r + 1]; e++) _tripleUserSlot[batch.UserEntries[e]] = r;
        _backend.GetUserRows(batch, _userRows);
        _userRowGrad.AsSpan(0, userCount * dim).Clear();
        var touched = batch.ItemRows.AsSpan(0, batch.ItemRowCount).ToArray();
        var (users, positives, negatives, margins, g, slot) = (batch.Users, batch.Positives, batch.Negatives, _margins, _g, _tripleUserSlot);
        double total = 0;
        foreach (var modality in _modalities)
        {
            var width = modality.Width;
            var x = modality.Features.Values;
            var w = modality.Projection.Values;
            if (_y.Length < userCount * width)
            {
                _y = new float[batch.UserRows.Length * width];
                _z = new float[batch.UserRows.Length * width];
            }
            var y = _y;
            var z = _z;
            Kernels.MultiplyTransposed(_userRows, userCount, w, width, dim, y);
            Parallel.For(0, triples, Parallelism.Options, t =>
            {
                var yu = y.AsSpan(slot[t] * width, width);
                margins[t] = (double)TensorPrimitives.Dot(yu, x.AsSpan(positives[t] * width, width)) - TensorPrimitives.Dot(yu, x.AsSpan(negatives[t] * width, width));
            });
            for (var t = 0; t < triples; t++)
            {
                total += Kernels.Softplus(-margins[t]);
                g[t] = (float)(-reg * Kernels.Sigmoid(-margins[t]) * weight);
            }
            // Z_u = sum over the user's triples, in triple order, of g_t (X_p - X_n).
            Parallel.For(0, userCount, Parallelism.Options, r =>
            {
                var zu = z.AsSpan(r * width, width);
                zu.Clear();
                for (var e = batch.UserOffsets[r]; e < batch.UserOffsets[r + 1]; e++)
                {
                    var t = batch.UserEntries[e];
                    TensorPrimitives.MultiplyAdd(x.AsSpan(positives[t] * width, width), g[t], zu, zu);
                    TensorPrimitives.MultiplyAdd(x.AsSpan(negatives[t] * width, width), -g[t], zu, zu);
                }
            });
            // dF += Z W (users x dim): the product with W^T's rows.
            var wt = new float[dim * width];
            Kernels.Transpose(w, width, dim, wt, width);
            var df = new float[userCount * dim];
            Kernels.MultiplyTransposed(z, userCount, wt, dim, width, df);
            TensorPrimitives.Add(_userRowGrad.AsSpan(0, userCount * dim), df, _userRowGrad.AsSpan(0, userCount * dim));
            // dW = Z^T F (width x dim), as one blocked product of the transposed blocks (users padded to a multiple of 8).
            var stride = (userCount + 7) / 8 * 8;
            var zt = new float[width * stride];
            Kernels.Transpose(z.AsSpan(0, userCount * width), userCount, width, zt, stride);
            var ft = new float[dim * stride];
            Kernels.Transpose(_userRows.AsSpan(0, userCount * dim), userCount, dim, ft, stride);
            Kernels.MultiplyTransposed(zt, width, ft, dim, stride, modality.Projection.Grad);
            Array.Clear(modality.Bias.Grad);
            if (!_settings.TuneFeatures) continue;
            // dX_i = sum over item i's occurrences, in triple order, of +-g_t Y_u (items with features only).
            var featureGrad = modality.Features.Grad;
            foreach (var item in _lastTouched) featureGrad.AsSpan(item * width, width).Clear();
            Parallel.For(0, batch.ItemRowCount, Parallelism.Options, r =>
            {
                var item = batch.ItemRows[r];
                if (!modality.Has[item]) return;
                var target = featureGrad.AsSpan(item * width, width);
                for (var e = batch.ItemOffsets[r]; e < batch.ItemOffsets[r + 1]; e++)
                {
                    var entry = batch.ItemEntries[e];
                    var t = entry >> 1;
                    TensorPrimitives.MultiplyAdd(y.AsSpan(slot[t] * width, width), (entry & 1) == 0 ? g[t] : -g[t], target, target);
                }
            });
        }
        _lastTouched = touched;
        _backend.AddUserGradient(batch, _userRowGrad.AsSpan(0, userCount * dim));
        return reg * total * weight;
    }

    /// <summary>One Adam step (torch.optim.Adam: beta1 0.9, beta2 0.999, eps 1e-8, bias correction) on every trained parameter.</summary>
    public void AdamStep(double learningRate)
    {
        PushE0();
        Adam(learningRate);
        PullE0();
    }

    private void Adam(double learningRate)
    {
        Steps++;
        var (stepSize, root2) = AdamConstants.Corrections(learningRate, Steps);
        _backend.Adam(stepSize, root2);
        // The modality parameters have a zero gradient with reg_weight 0: Adam would leave them as they are.
        if (_settings.RegWeight == 0) return;
        foreach (var parameter in _parameters) parameter.Step(learningRate, Steps);
    }

    // ---- sampling and epochs ----------------------------------------------------------------

    /// <summary>
    /// The epoch's order of the training pairs (a seeded shuffle, as MMRec's data loader), each
    /// with one negative drawn uniformly among the items that have interactions and that the user
    /// has not interacted with. Items with no interactions (cold-start items) are never negatives:
    /// their ID embeddings learn only through the item-item graph.
    /// </summary>
    public (int[] Users, int[] Positives, int[] Negatives) SampleEpoch()
    {
        var order = new int[Pairs];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = _random.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var users = new int[Pairs];
        var positives = new int[Pairs];
        var negatives = new int[Pairs];
        for (var s = 0; s < order.Length; s++)
        {
            var user = _pairUsers[order[s]];
            users[s] = user;
            positives[s] = _columns[order[s]];
            var start = _offsets[user];
            var degree = _offsets[user + 1] - start;
            int negative;
            do negative = _warmItems[_random.NextInt(_warmItems.Length)];
            while (Array.BinarySearch(_columns, start, degree, negative) >= 0);
            negatives[s] = negative;
        }
        return (users, positives, negatives);
    }

    /// <summary>
    /// One epoch: prune the graph, then every training pair once in batches of <paramref name="batch"/>,
    /// each followed by an Adam step. Each batch propagates fully up to the last hop, which runs
    /// only for the batch's rows (<see cref="ILightGcnBackend.ForwardForBatch"/>). Calls
    /// <paramref name="onBatch"/> after every batch (done, total).
    /// </summary>
    /// <returns>The mean batch loss.</returns>
    public double Epoch(int batch, double learningRate, Action<int, int>? onBatch)
    {
        PruneEdges();
        var (users, positives, negatives) = SampleEpoch();
        var batches = (Pairs + batch - 1) / batch;
        var prepared = BatchFor(Math.Min(batch, Pairs));
        PushE0();
        double total = 0;
        for (var b = 0; b < batches; b++)
        {
            var start = b * batch;
            var size = Math.Min(batch, Pairs - start);
            users.AsSpan(start, size).CopyTo(prepared.Users);
            positives.AsSpan(start, size).CopyTo(prepared.Positives);
            negatives.AsSpan(start, size).CopyTo(prepared.Negatives);
            prepared.Prepare(size);
            _backend.ForwardForBatch(prepared);
            total += Step(prepared);
            Adam(learningRate);
            onBatch?.Invoke(b + 1, batches);
        }
        PullE0();
        UseFullGraph();
        return total / batches;
    }

    /// <inheritdoc/>
    public void Dispose() => _backend.Dispose();

    private BprBatch BatchFor(int size)
    {
        if (_batch is null || _batch.Capacity < size) _batch = new BprBatch(Users, Items, Math.Max(size, 1), 1);
        return _batch;
    }

    // E0 lives on the host between calls (callers may write it); a device backend gets it at the
    // start of each call and gives it back after the calls that change it.
    private void PushE0()
    {
        if (!_sharesHostArrays) _backend.SetE0(UserE0, ItemE0);
    }

    private void PullE0()
    {
        if (!_sharesHostArrays) _backend.GetE0(UserE0, ItemE0);
    }
}

/// <summary>A trained parameter with its gradient and Adam moments.</summary>
/// <param name="values">The initial values (kept and updated in place).</param>
/// <param name="trained">False for a frozen parameter: no gradient or moments are allocated.</param>
internal sealed class AdamParameter(float[] values, bool trained = true)
{
    /// <summary>The values.</summary>
    public float[] Values { get; } = values;

    /// <summary>dLoss/dValues of the last batch.</summary>
    public float[] Grad { get; } = trained ? new float[values.Length] : [];

    private readonly float[] _m = trained ? new float[values.Length] : [];
    private readonly float[] _v = trained ? new float[values.Length] : [];

    /// <summary>Adam step number <paramref name="step"/> (1-based) with bias correction, in parallel blocks of the managed backend's SIMD Adam.</summary>
    public void Step(double learningRate, int step)
    {
        var (stepSize, root2) = AdamConstants.Corrections(learningRate, step);
        var length = Values.Length;
        var chunk = Math.Max(1 << 14, Parallelism.ChunkSize(length));
        Parallel.For(0, (length + chunk - 1) / chunk, Parallelism.Options, block =>
            ManagedBackend.AdamRange(Values, Grad, _m, _v, block * chunk, Math.Min(length, (block + 1) * chunk), stepSize, root2));
    }
}

/// <summary>
/// Host-side helpers of FREEDOM's modality terms (and the managed backend's item-item path), on plain arrays.
/// Outputs of parallel kernels are split into disjoint rows, so results do not depend on threads.
/// </summary>
internal static class Kernels
{
    /// <summary>log(1 + e^x) without overflow.</summary>
    public static double Softplus(double x) => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x));

    /// <summary>1 / (1 + e^-x).</summary>
    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>
    /// <c>c = a b^T</c> (overwriting c) for row-major a (aRows x k) and b (bRows x k): the blocked
    /// kernel of <see cref="DenseMath.MultiplyTransposedAdd"/> on blocks of a's rows in parallel.
    /// </summary>
    public static void MultiplyTransposed(float[] a, int aRows, float[] b, int bRows, int k, float[] c)
    {
        const int Block = 16;
        Parallel.For(0, (aRows + Block - 1) / Block, Parallelism.Options, block =>
        {
            var first = block * Block;
            var count = Math.Min(Block, aRows - first);
            var target = c.AsSpan(first * bRows, count * bRows);
            target.Clear();
            DenseMath.MultiplyTransposedAdd(a.AsSpan(first * k, count * k), count, b.AsSpan(0, bRows * k), bRows, k, target);
        });
    }

    /// <summary>The transpose of a row-major rows x columns block, into <paramref name="output"/> (columns x <paramref name="stride"/>, zero-padded).</summary>
    public static void Transpose(ReadOnlySpan<float> input, int rows, int columns, Span<float> output, int stride)
    {
        output[..(columns * stride)].Clear();
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++) output[c * stride + r] = input[r * columns + c];
    }

    /// <summary>target += source, in parallel blocks.</summary>
    public static void Add(float[] source, float[] target)
    {
        var chunk = Math.Max(4096, Parallelism.ChunkSize(target.Length));
        Parallel.For(0, (target.Length + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            var start = block * chunk;
            var length = Math.Min(target.Length, start + chunk) - start;
            var to = target.AsSpan(start, length);
            TensorPrimitives.Add(to, source.AsSpan(start, length), to);
        });
    }

}
