using System.Numerics.Tensors;
using SqlRec.Evaluation;

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
/// FREEDOM training on the CPU (Zhou and Shen, "A Tale of Two Graphs", ACM MM 2023, following
/// MMRec's code). Users and items have free embeddings E0. Each epoch the user-item graph is pruned
/// by <see cref="DegreePruning"/> and the batches propagate over the pruned graph
/// LightGCN-style, F = mean(E0, A^ E0, ..., A^^L E0); item ID embeddings are also propagated over
/// the frozen item-item graph S, h = S^L' E0_items; the final item vector is F_i + h_i and a user's
/// score for an item is F_u . (F_i + h_i). Each modality m has features X_m projected by a linear
/// layer, T_m = X_m W_m + b_m, used only by the loss:
/// <c>BPR(F_u, G_p, G_n) + reg_weight * sum_m BPR(F_u, T_m,p, T_m,n)</c> plus L2 on the batch's E0 rows,
/// each averaged over the batch. Adam updates E0, W, b and (by default) X. Inference uses the full graph.
/// <para>
/// The kernels are plain CPU code on the shapes a device backend would take (sparse-dense products,
/// a batched BPR gradient scatter, row-block projections, an element-wise Adam): multithreaded
/// where the output rows are disjoint, sequential where they are not, so a seed gives the same
/// model bit for bit on any number of cores.
/// </para>
/// </summary>
internal sealed class FreedomTrainer : SqlRec.Models.IFinalEmbeddings
{
    private readonly int[] _offsets;
    private readonly int[] _columns;
    private readonly int[] _pairUsers;
    private readonly int[] _warmItems;
    private readonly float[] _edgeWeights;
    private readonly SparseMatrix _itemGraph;
    private readonly SparseMatrix _itemGraphTransposed;
    private readonly FreedomSettings _settings;
    private SplitMix64 _random;

    private readonly float[] _scratchUsers, _scratchItems, _nextUsers, _nextItems, _hopItems, _hiddenGrad;
    private readonly float[] _finalUserGrad, _finalItemGrad;
    private readonly List<AdamParameter> _parameters = [];
    private readonly AdamParameter _userE0, _itemE0;
    private readonly Modality[] _modalities;
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

    /// <summary>Builds the graphs and initialises the parameters from the seed.</summary>
    /// <param name="users">Number of users.</param>
    /// <param name="items">Number of items (with interactions or features).</param>
    /// <param name="offsets">CSR offsets of the training pairs (users + 1).</param>
    /// <param name="columns">CSR item indices, sorted within each user.</param>
    /// <param name="itemGraph">The frozen, normalised item-item graph (items x items).</param>
    /// <param name="modalities">Per modality: features (items x width, zero rows where missing), width and presence.</param>
    /// <param name="settings">Sizes and loss weights.</param>
    public FreedomTrainer(int users, int items, int[] offsets, int[] columns, SparseMatrix itemGraph,
        IReadOnlyList<(float[] Features, int Width, bool[] Has)> modalities, FreedomSettings settings)
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
        _userE0 = Add(new float[users * dim]);
        _itemE0 = Add(new float[items * dim]);
        // Xavier-uniform, as nn.init.xavier_uniform_ on an (n x dim) embedding table.
        FillUniform(_userE0.Values, Math.Sqrt(6.0 / (users + dim)));
        FillUniform(_itemE0.Values, Math.Sqrt(6.0 / (items + dim)));
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

        UserFinal = new float[users * dim];
        ItemFinal = new float[items * dim];
        ItemHidden = new float[items * dim];
        _scratchUsers = new float[users * dim];
        _scratchItems = new float[items * dim];
        _nextUsers = new float[users * dim];
        _nextItems = new float[items * dim];
        _hopItems = new float[items * dim];
        _hiddenGrad = new float[items * dim];
        _finalUserGrad = new float[users * dim];
        _finalItemGrad = new float[items * dim];
    }

    private AdamParameter Add(float[] values)
    {
        var parameter = new AdamParameter(values);
        _parameters.Add(parameter);
        return parameter;
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

    /// <summary>The full normalised user-item graph R~ (users x items), used at inference.</summary>
    public SparseMatrix FullGraph { get; }

    /// <summary>R~ transposed.</summary>
    public SparseMatrix FullGraphTransposed { get; }

    /// <summary>The graph the training batches propagate over: this epoch's pruned one.</summary>
    public SparseMatrix Graph { get; private set; }

    /// <summary><see cref="Graph"/> transposed.</summary>
    public SparseMatrix GraphTransposed { get; private set; }

    /// <summary>Layer-0 user embeddings (users x dim): trained parameters.</summary>
    public float[] UserE0 => _userE0.Values;

    /// <summary>Layer-0 item ID embeddings (items x dim).</summary>
    public float[] ItemE0 => _itemE0.Values;

    /// <summary>dLoss/dE0 of the users after <see cref="BatchGradient"/>.</summary>
    public float[] UserGrad => _userE0.Grad;

    /// <summary>dLoss/dE0 of the items after <see cref="BatchGradient"/>.</summary>
    public float[] ItemGrad => _itemE0.Grad;

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

    /// <summary>h = S^L' E0_items after <see cref="Forward"/>.</summary>
    public float[] ItemHidden { get; }

    /// <summary>Adam steps taken.</summary>
    public int Steps { get; private set; }

    /// <summary>Training pairs (positive samples per epoch).</summary>
    public int Pairs => _columns.Length;

    /// <summary>Bytes of the arrays the trainer holds (parameters, gradients, Adam moments, scratch, graphs).</summary>
    public long StateBytes()
    {
        long bytes = 0;
        foreach (var p in _parameters) bytes += 4L * 4 * p.Values.Length;
        foreach (var m in _modalities.Where(m => !_settings.TuneFeatures)) bytes += 4L * m.Features.Values.Length;
        bytes += 4L * (UserFinal.Length + ItemFinal.Length + ItemHidden.Length + _scratchUsers.Length + _scratchItems.Length + _nextUsers.Length
            + _nextItems.Length + _hopItems.Length + _hiddenGrad.Length + _finalUserGrad.Length + _finalItemGrad.Length);
        foreach (var graph in new[] { FullGraph, FullGraphTransposed, Graph, GraphTransposed, _itemGraph, _itemGraphTransposed })
            bytes += 8L * graph.NonZeros + 4L * graph.Offsets.Length;
        bytes += 4L * (_pairUsers.Length + _edgeWeights.Length + _warmItems.Length);
        return bytes;
    }

    // ---- graphs ------------------------------------------------------------------------------

    /// <summary>Draws this epoch's pruned graph (<see cref="DegreePruning"/>); with dropout 0 the full graph.</summary>
    public void PruneEdges()
    {
        if (_settings.Dropout <= 0)
        {
            Graph = FullGraph;
            GraphTransposed = FullGraphTransposed;
            return;
        }
        var keep = DegreePruning.KeptCount(_columns.Length, _settings.Dropout);
        var kept = DegreePruning.Sample(_edgeWeights, keep, ref _random);
        Graph = DegreePruning.Pruned(Users, Items, _offsets, _columns, kept);
        GraphTransposed = Graph.Transpose();
    }

    /// <summary>Uses the full graph for the next forward passes (inference, validation).</summary>
    public void UseFullGraph()
    {
        Graph = FullGraph;
        GraphTransposed = FullGraphTransposed;
    }

    /// <summary>
    /// F = mean(E0, A^ E0, ..., A^^L E0) on <see cref="Graph"/>, h = S^L' E0_items, into
    /// <see cref="UserFinal"/>, <see cref="ItemFinal"/> (= F_i + h) and <see cref="ItemHidden"/>.
    /// </summary>
    public void Forward()
    {
        Smooth(UserE0, ItemE0, UserFinal, ItemFinal);
        Propagate(_itemGraph, ItemE0, ItemHidden);
        Kernels.Add(ItemHidden, ItemFinal);
    }

    /// <summary><c>out = S^L' in</c> over the item-item graph (or its transpose for the backward pass).</summary>
    private void Propagate(SparseMatrix graph, float[] input, float[] output)
    {
        if (_settings.ItemLayers == 0)
        {
            Array.Copy(input, output, input.Length);
            return;
        }
        var current = input;
        for (var layer = 0; layer < _settings.ItemLayers; layer++)
        {
            var target = layer == _settings.ItemLayers - 1 ? output : _hopItems;
            if (ReferenceEquals(current, target))
            {
                Array.Copy(current, _scratchItems, current.Length);
                current = _scratchItems;
            }
            graph.MultiplyDense(current, Dim, target);
            current = target;
        }
    }

    /// <summary>
    /// <c>out = (1/(L+1)) sum_{l=0..L} A^^l in</c> on <see cref="Graph"/>; A^ is symmetric, so the
    /// backward pass of the user-item propagation is this same operator.
    /// </summary>
    public void Smooth(float[] users, float[] items, float[] outUsers, float[] outItems)
    {
        Array.Copy(users, outUsers, users.Length);
        Array.Copy(items, outItems, items.Length);
        var layers = _settings.Layers;
        if (layers == 0) return;
        Array.Copy(users, _scratchUsers, users.Length);
        Array.Copy(items, _scratchItems, items.Length);
        for (var layer = 0; layer < layers; layer++)
        {
            Graph.MultiplyDense(_scratchItems, Dim, _nextUsers);
            GraphTransposed.MultiplyDense(_scratchUsers, Dim, _nextItems);
            Kernels.Add(_nextUsers, outUsers);
            Kernels.Add(_nextItems, outItems);
            _nextUsers.AsSpan().CopyTo(_scratchUsers);
            _nextItems.AsSpan().CopyTo(_scratchItems);
        }
        var scale = 1f / (layers + 1);
        Kernels.Scale(outUsers, scale);
        Kernels.Scale(outItems, scale);
    }

    // ---- loss and gradients -----------------------------------------------------------------

    /// <summary>
    /// The forward pass and the loss of one batch of (users[t], positives[t], negatives[t]) triples,
    /// leaving every parameter's gradient in place (<see cref="UserGrad"/>, <see cref="ItemGrad"/>,
    /// <see cref="ProjectionGrad"/>, ...). Each triple weighs 1 / B in every term.
    /// </summary>
    /// <returns>The batch loss: mean BPR + reg_weight * the modality BPR means + l2 * 0.5 * the triples' E0 squared norms / B.</returns>
    public double BatchGradient(ReadOnlySpan<int> users, ReadOnlySpan<int> positives, ReadOnlySpan<int> negatives)
    {
        Forward();
        var batch = users.Length;
        var dim = Dim;
        var weight = 1.0 / batch;
        var reg = _settings.RegWeight;
        var u = users.ToArray();
        var p = positives.ToArray();
        var n = negatives.ToArray();

        // The batch's distinct items, ascending, and each item's row in the projected blocks.
        var touched = p.Concat(n).Distinct().Order().ToArray();
        var slot = new Dictionary<int, int>(touched.Length);
        for (var r = 0; r < touched.Length; r++) slot[touched[r]] = r;
        // With reg_weight 0 the modality terms vanish from the loss, so they are not computed.
        var modalities = reg == 0 ? [] : _modalities;
        foreach (var modality in modalities)
        {
            modality.Rows = new float[touched.Length * dim];
            modality.RowGrad = new float[touched.Length * dim];
            Kernels.ProjectRows(modality.Features.Values, modality.Width, touched, modality.Projection.Values, modality.Bias.Values, dim, modality.Rows);
        }

        // Margins, in parallel (each value independent of the threads).
        var margins = new double[batch * (1 + modalities.Length)];
        Parallel.For(0, batch, Parallelism.Options, t =>
        {
            var fu = UserFinal.AsSpan(u[t] * dim, dim);
            margins[t] = (double)TensorPrimitives.Dot(fu, ItemFinal.AsSpan(p[t] * dim, dim)) - TensorPrimitives.Dot(fu, ItemFinal.AsSpan(n[t] * dim, dim));
            for (var m = 0; m < modalities.Length; m++)
            {
                var rows = modalities[m].Rows;
                margins[(m + 1) * batch + t] = (double)TensorPrimitives.Dot(fu, rows.AsSpan(slot[p[t]] * dim, dim)) - TensorPrimitives.Dot(fu, rows.AsSpan(slot[n[t]] * dim, dim));
            }
        });

        // Scatter dLoss/dG in triple order (rows repeat across triples, so this part is sequential).
        Array.Clear(_finalUserGrad);
        Array.Clear(_finalItemGrad);
        double bpr = 0, modalBpr = 0, norms = 0;
        for (var t = 0; t < batch; t++)
        {
            var fu = UserFinal.AsSpan(u[t] * dim, dim);
            var du = _finalUserGrad.AsSpan(u[t] * dim, dim);
            bpr += Kernels.Softplus(-margins[t]);
            var g = (float)(-Kernels.Sigmoid(-margins[t]) * weight);
            Kernels.BprScatter(fu, ItemFinal.AsSpan(p[t] * dim, dim), ItemFinal.AsSpan(n[t] * dim, dim), g,
                du, _finalItemGrad.AsSpan(p[t] * dim, dim), _finalItemGrad.AsSpan(n[t] * dim, dim));
            for (var m = 0; m < modalities.Length; m++)
            {
                var margin = margins[(m + 1) * batch + t];
                modalBpr += Kernels.Softplus(-margin);
                var gm = (float)(-reg * Kernels.Sigmoid(-margin) * weight);
                var modality = modalities[m];
                int sp = slot[p[t]] * dim, sn = slot[n[t]] * dim;
                Kernels.BprScatter(fu, modality.Rows.AsSpan(sp, dim), modality.Rows.AsSpan(sn, dim), gm,
                    du, modality.RowGrad.AsSpan(sp, dim), modality.RowGrad.AsSpan(sn, dim));
            }
            norms += (double)TensorPrimitives.Dot(UserE0.AsSpan(u[t] * dim, dim), UserE0.AsSpan(u[t] * dim, dim))
                + TensorPrimitives.Dot(ItemE0.AsSpan(p[t] * dim, dim), ItemE0.AsSpan(p[t] * dim, dim))
                + TensorPrimitives.Dot(ItemE0.AsSpan(n[t] * dim, dim), ItemE0.AsSpan(n[t] * dim, dim));
        }

        // Back through the user-item propagation (symmetric), then add the item-item path: dE0_items += (S^T)^L' dG_items.
        Smooth(_finalUserGrad, _finalItemGrad, UserGrad, ItemGrad);
        Propagate(_itemGraphTransposed, _finalItemGrad, _hiddenGrad);
        Kernels.Add(_hiddenGrad, ItemGrad);

        var decay = (float)(_settings.L2 * weight);
        if (decay != 0)
        {
            for (var t = 0; t < batch; t++)
            {
                Kernels.AddScaledRow(UserE0, UserGrad, u[t], dim, decay);
                Kernels.AddScaledRow(ItemE0, ItemGrad, p[t], dim, decay);
                Kernels.AddScaledRow(ItemE0, ItemGrad, n[t], dim, decay);
            }
        }

        foreach (var modality in modalities)
        {
            Kernels.ProjectionGradient(modality.Features.Values, modality.Width, touched, modality.RowGrad, dim, modality.Projection.Grad, modality.Bias.Grad);
            if (!_settings.TuneFeatures) continue;
            var featureGrad = modality.Features.Grad;
            foreach (var item in _lastTouched) featureGrad.AsSpan(item * modality.Width, modality.Width).Clear();
            Kernels.FeatureGradient(modality.Projection.Values, modality.Width, touched, modality.Has, modality.RowGrad, dim, featureGrad);
        }
        _lastTouched = touched;
        return (bpr + reg * modalBpr + _settings.L2 * 0.5 * norms) * weight;
    }

    /// <summary>One Adam step (torch.optim.Adam: beta1 0.9, beta2 0.999, eps 1e-8, bias correction) on every trained parameter.</summary>
    public void AdamStep(double learningRate)
    {
        Steps++;
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
    /// each followed by an Adam step. Calls <paramref name="onBatch"/> after every batch (done, total).
    /// </summary>
    /// <returns>The mean batch loss.</returns>
    public double Epoch(int batch, double learningRate, Action<int, int>? onBatch)
    {
        PruneEdges();
        var (users, positives, negatives) = SampleEpoch();
        var batches = (Pairs + batch - 1) / batch;
        double total = 0;
        for (var b = 0; b < batches; b++)
        {
            var start = b * batch;
            var size = Math.Min(batch, Pairs - start);
            total += BatchGradient(users.AsSpan(start, size), positives.AsSpan(start, size), negatives.AsSpan(start, size));
            AdamStep(learningRate);
            onBatch?.Invoke(b + 1, batches);
        }
        UseFullGraph();
        return total / batches;
    }
}

/// <summary>A trained parameter with its gradient and Adam moments.</summary>
/// <param name="values">The initial values (kept and updated in place).</param>
/// <param name="trained">False for a frozen parameter: no gradient or moments are allocated.</param>
internal sealed class AdamParameter(float[] values, bool trained = true)
{
    private const double Beta1 = 0.9;
    private const double Beta2 = 0.999;
    private const double Epsilon = 1e-8;

    /// <summary>The values.</summary>
    public float[] Values { get; } = values;

    /// <summary>dLoss/dValues of the last batch.</summary>
    public float[] Grad { get; } = trained ? new float[values.Length] : [];

    private readonly float[] _m = trained ? new float[values.Length] : [];
    private readonly float[] _v = trained ? new float[values.Length] : [];

    /// <summary>Adam step number <paramref name="step"/> (1-based) with bias correction, in parallel blocks.</summary>
    public void Step(double learningRate, int step)
    {
        var correction1 = 1 - Math.Pow(Beta1, step);
        var root2 = (float)Math.Sqrt(1 - Math.Pow(Beta2, step));
        var stepSize = (float)(learningRate / correction1);
        var parameters = Values;
        var gradient = Grad;
        var m = _m;
        var v = _v;
        var chunk = Math.Max(4096, Parallelism.ChunkSize(parameters.Length));
        Parallel.For(0, (parameters.Length + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            var end = Math.Min(parameters.Length, (block + 1) * chunk);
            for (var x = block * chunk; x < end; x++)
            {
                var g = gradient[x];
                var mx = m[x] = (float)Beta1 * m[x] + (float)(1 - Beta1) * g;
                var vx = v[x] = (float)Beta2 * v[x] + (float)(1 - Beta2) * g * g;
                parameters[x] -= stepSize * mx / (MathF.Sqrt(vx) / root2 + (float)Epsilon);
            }
        });
    }
}

/// <summary>
/// FREEDOM's CPU kernels, each on plain arrays: the operations a device backend would provide.
/// Outputs of parallel kernels are split into disjoint rows, so results do not depend on threads.
/// </summary>
internal static class Kernels
{
    /// <summary>log(1 + e^x) without overflow.</summary>
    public static double Softplus(double x) => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x));

    /// <summary>1 / (1 + e^-x).</summary>
    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>
    /// The BPR gradient of one triple with coefficient <paramref name="g"/> = dLoss/dmargin:
    /// du += g (pos - neg), dpos += g user, dneg -= g user.
    /// </summary>
    public static void BprScatter(ReadOnlySpan<float> user, ReadOnlySpan<float> positive, ReadOnlySpan<float> negative, float g,
        Span<float> userGrad, Span<float> positiveGrad, Span<float> negativeGrad)
    {
        TensorPrimitives.MultiplyAdd(positive, g, userGrad, userGrad);
        TensorPrimitives.MultiplyAdd(negative, -g, userGrad, userGrad);
        TensorPrimitives.MultiplyAdd(user, g, positiveGrad, positiveGrad);
        TensorPrimitives.MultiplyAdd(user, -g, negativeGrad, negativeGrad);
    }

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

    /// <summary><c>output[r] = features[rows[r]] W + b</c> for each listed row (features items x width, W width x dim).</summary>
    public static void ProjectRows(float[] features, int width, int[] rows, float[] projection, float[] bias, int dim, float[] output)
    {
        var gathered = new float[rows.Length * width];
        for (var r = 0; r < rows.Length; r++) features.AsSpan(rows[r] * width, width).CopyTo(gathered.AsSpan(r * width, width));
        var transposed = new float[dim * width];
        Transpose(projection, width, dim, transposed, width);
        MultiplyTransposed(gathered, rows.Length, transposed, dim, width, output);
        for (var r = 0; r < rows.Length; r++)
        {
            var target = output.AsSpan(r * dim, dim);
            TensorPrimitives.Add(target, bias, target);
        }
    }

    /// <summary>
    /// dW = sum_r features[rows[r]]^T rowGrad[r] and db = sum_r rowGrad[r] (overwriting both), as one
    /// blocked product of the transposed blocks (rows padded to a multiple of 8 with zeros).
    /// </summary>
    public static void ProjectionGradient(float[] features, int width, int[] rows, float[] rowGrad, int dim, float[] projectionGrad, float[] biasGrad)
    {
        var stride = (rows.Length + 7) / 8 * 8;
        var featuresT = new float[width * stride];
        for (var r = 0; r < rows.Length; r++)
        {
            var x = features.AsSpan(rows[r] * width, width);
            for (var a = 0; a < width; a++) featuresT[a * stride + r] = x[a];
        }
        var gradT = new float[dim * stride];
        Transpose(rowGrad.AsSpan(0, rows.Length * dim), rows.Length, dim, gradT, stride);
        MultiplyTransposed(featuresT, width, gradT, dim, stride, projectionGrad);
        Array.Clear(biasGrad);
        for (var r = 0; r < rows.Length; r++) TensorPrimitives.Add(biasGrad, rowGrad.AsSpan(r * dim, dim), biasGrad);
    }

    /// <summary>dX[rows[r]] = rowGrad[r] W^T for the listed rows that have features (others keep zero gradient).</summary>
    public static void FeatureGradient(float[] projection, int width, int[] rows, bool[] has, float[] rowGrad, int dim, float[] featureGrad)
    {
        var product = new float[rows.Length * width];
        MultiplyTransposed(rowGrad, rows.Length, projection, width, dim, product);
        for (var r = 0; r < rows.Length; r++)
        {
            if (has[rows[r]]) product.AsSpan(r * width, width).CopyTo(featureGrad.AsSpan(rows[r] * width, width));
        }
    }

    /// <summary>target[row] += scale * source[row] for one row of width <paramref name="dim"/>.</summary>
    public static void AddScaledRow(float[] source, float[] target, int row, int dim, float scale)
    {
        var to = target.AsSpan(row * dim, dim);
        TensorPrimitives.MultiplyAdd(source.AsSpan(row * dim, dim), scale, to, to);
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

    /// <summary>target *= scale, in parallel blocks.</summary>
    public static void Scale(float[] target, float scale)
    {
        var chunk = Math.Max(4096, Parallelism.ChunkSize(target.Length));
        Parallel.For(0, (target.Length + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            var start = block * chunk;
            var length = Math.Min(target.Length, start + chunk) - start;
            var to = target.AsSpan(start, length);
            TensorPrimitives.Multiply(to, scale, to);
        });
    }
}
