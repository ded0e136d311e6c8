using System.Numerics.Tensors;

namespace SqlRec.Compute;

/// <summary>
/// The LightGCN training loop (He et al., SIGIR 2020). With R~ = D_u^-1/2 R D_i^-1/2
/// (R binary), the normalised adjacency A^ of the user-item graph has R~ and R~^T as its two
/// off-diagonal blocks, so one propagation hop is two sparse products: users' = R~ items,
/// items' = R~^T users. Final embeddings are F = mean(E0, A^ E0, ..., A^^L E0); a batch scores
/// sampled (user, positive, negative) triples with BPR on F, adds L2 on the batch's E0 rows
/// (as the official code does), and back-propagates through the same smoothing operator
/// (A^ is symmetric, so dE0 = mean_l A^^l dF). Adam then updates every parameter.
/// The kernels run on an <see cref="ILightGcnBackend"/> (the managed CPU path or ILGPU); this class
/// keeps the host side: the graph, E0 on the host between calls, and the sampling, which is
/// single-threaded with <see cref="SplitMix64"/> so every backend sees the same batches.
/// Deterministic for a seed on a given backend.
/// </summary>
internal sealed class LightGcnTrainer : IDisposable, IFinalEmbeddings
{
    private readonly int[] _offsets;
    private readonly int[] _columns;
    private readonly int[] _activeUsers;
    private readonly ILightGcnBackend _backend;
    private readonly bool _sharesHostArrays;
    private BprBatch? _batch;
    private SplitMix64 _random;

    /// <summary>Builds the normalised graph and initialises E0 ~ N(0, 0.1^2) from <paramref name="seed"/>, on the managed CPU path.</summary>
    /// <param name="users">Number of users (rows of the CSR).</param>
    /// <param name="items">Number of items.</param>
    /// <param name="offsets">CSR offsets of the distinct user-item pairs.</param>
    /// <param name="columns">CSR item indices, sorted within each user.</param>
    /// <param name="dim">Embedding width.</param>
    /// <param name="layers">Propagation layers L.</param>
    /// <param name="seed">Seeds the initial embeddings and the sampling.</param>
    public LightGcnTrainer(int users, int items, int[] offsets, int[] columns, int dim, int layers, int seed)
        : this(users, items, offsets, columns, dim, layers, seed, ComputeDevice.Managed)
    {
    }

    /// <summary>As the other constructor, with the kernels on <paramref name="device"/>.</summary>
    public LightGcnTrainer(int users, int items, int[] offsets, int[] columns, int dim, int layers, int seed, ComputeDevice device)
    {
        Users = users;
        Items = items;
        Dim = dim;
        Layers = layers;
        _offsets = offsets;
        _columns = columns;
        var ones = new float[columns.Length];
        Array.Fill(ones, 1f);
        _activeUsers = Enumerable.Range(0, users).Where(u => offsets[u + 1] > offsets[u]).ToArray();
        Graph = new SparseMatrix(users, items, offsets, columns, ones).NormalizeSymmetric();
        GraphTransposed = Graph.Transpose();

        var initial = new float[(long)(users + items) * dim];
        DenseMath.FillGaussian(initial, seed);
        TensorPrimitives.Multiply(initial, 0.1f, initial);
        UserE0 = initial[..(users * dim)];
        ItemE0 = initial[(users * dim)..];
        _random = new SplitMix64((ulong)seed ^ 0x5DEECE66DUL);

        _backend = device.CreateBackend(Graph, GraphTransposed, dim, layers, UserE0, ItemE0);
        (UserFinal, ItemFinal, _sharesHostArrays) = BackendHost.FinalArrays(_backend, users, items, dim);
    }

    public int Users { get; }
    public int Items { get; }
    public int Dim { get; }
    public int Layers { get; }

    /// <summary>What runs the kernels (<see cref="ILightGcnBackend.Description"/>).</summary>
    public string Device => _backend.Description;

    /// <summary>The backend (tests and benchmarks).</summary>
    internal ILightGcnBackend Backend => _backend;

    /// <summary>R~ (users x items).</summary>
    public SparseMatrix Graph { get; }

    /// <summary>R~^T (items x users).</summary>
    public SparseMatrix GraphTransposed { get; }

    /// <summary>
    /// E0 of the users (users x dim, row-major): the trained parameters. Writable between calls
    /// (for example an initialisation from outside); every call below reads it as it is then.
    /// </summary>
    public float[] UserE0 { get; }

    /// <summary>E0 of the items (items x dim).</summary>
    public float[] ItemE0 { get; }

    /// <summary>Final user embeddings F after <see cref="Forward"/>.</summary>
    public float[] UserFinal { get; }

    /// <summary>Final item embeddings F after <see cref="Forward"/>.</summary>
    public float[] ItemFinal { get; }

    /// <summary>dLoss/dE0 of the users after <see cref="BatchGradient"/> (empty before; training keeps it on the backend).</summary>
    public float[] UserGrad { get; private set; } = [];

    /// <summary>dLoss/dE0 of the items after <see cref="BatchGradient"/>.</summary>
    public float[] ItemGrad { get; private set; } = [];

    /// <summary>Adam steps taken.</summary>
    public int Steps { get; private set; }

    /// <summary>Training pairs (samples per epoch).</summary>
    public int Pairs => _columns.Length;

    /// <summary>Replaces E0 (for an initialisation computed outside the trainer).</summary>
    public void SetInitial(float[] users, float[] items)
    {
        if (users.Length != UserE0.Length || items.Length != ItemE0.Length)
            throw new ArgumentException($"E0 must be {Users} x {Dim} and {Items} x {Dim}.");
        users.CopyTo(UserE0, 0);
        items.CopyTo(ItemE0, 0);
    }

    /// <summary>F = mean(E0, ..., A^^L E0) into <see cref="UserFinal"/> and <see cref="ItemFinal"/>.</summary>
    public void Forward()
    {
        PushE0();
        _backend.Forward();
        if (!_sharesHostArrays) _backend.GetFinal(UserFinal, ItemFinal);
    }

    /// <summary>
    /// Runs the forward pass and the loss of one batch, leaving dLoss/dE0 in <see cref="UserGrad"/>
    /// and <see cref="ItemGrad"/> (and F in <see cref="UserFinal"/> / <see cref="ItemFinal"/>). Each
    /// positive pair (users[s], positives[s]) comes with <paramref name="negatives"/>.Length /
    /// users.Length negatives; every triple weighs 1 / (B * negatives) in both the BPR term and the L2 term.
    /// </summary>
    /// <returns>The batch loss: mean BPR plus l2 * 0.5 * the triples' E0 squared norms / B.</returns>
    public double BatchGradient(ReadOnlySpan<int> users, ReadOnlySpan<int> positives, ReadOnlySpan<int> negatives, double l2)
    {
        var perPositive = negatives.Length / users.Length;
        var batch = BatchFor(users.Length, perPositive);
        batch.Set(users, positives, negatives);
        PushE0();
        _backend.Forward();
        var loss = _backend.Bpr(batch, l2);
        _backend.Backward(batch, l2);
        if (UserGrad.Length == 0) (UserGrad, ItemGrad) = (new float[Users * Dim], new float[Items * Dim]);
        _backend.GetGradient(UserGrad, ItemGrad);
        if (!_sharesHostArrays) _backend.GetFinal(UserFinal, ItemFinal);
        return loss;
    }

    /// <summary>One Adam step (torch.optim.Adam: beta1 0.9, beta2 0.999, eps 1e-8, bias correction) on all of E0, with the gradient of the last batch.</summary>
    public void AdamStep(double learningRate)
    {
        PushE0();
        Step(learningRate);
        PullE0();
    }

    private void Step(double learningRate)
    {
        Steps++;
        var (stepSize, root2) = AdamConstants.Corrections(learningRate, Steps);
        _backend.Adam(stepSize, root2);
    }

    /// <summary>
    /// Draws one batch as the official code does: users uniform among users with an item, the
    /// positive uniform among the user's items, each negative uniform among the items the user
    /// has not interacted with (rejection, binary search in the user's sorted row).
    /// </summary>
    public void Sample(Span<int> users, Span<int> positives, Span<int> negatives)
    {
        var perPositive = negatives.Length / users.Length;
        for (var s = 0; s < users.Length; s++)
        {
            var user = _activeUsers[_random.NextInt(_activeUsers.Length)];
            var start = _offsets[user];
            var degree = _offsets[user + 1] - start;
            users[s] = user;
            positives[s] = _columns[start + _random.NextInt(degree)];
            for (var k = 0; k < perPositive; k++)
            {
                int negative;
                do negative = _random.NextInt(Items);
                while (Array.BinarySearch(_columns, start, degree, negative) >= 0);
                negatives[s * perPositive + k] = negative;
            }
        }
    }

    /// <summary>
    /// One epoch: as many positive samples as training pairs, in batches of <paramref name="batch"/>,
    /// each followed by an Adam step. Calls <paramref name="onBatch"/> after every batch (done, total).
    /// </summary>
    /// <returns>The mean batch loss.</returns>
    public double Epoch(int batch, int negativesPerPositive, double learningRate, double l2, Action<int, int>? onBatch)
    {
        var samples = Pairs;
        var batches = (samples + batch - 1) / batch;
        var prepared = BatchFor(Math.Min(batch, samples), negativesPerPositive);
        PushE0();
        double total = 0;
        for (var b = 0; b < batches; b++)
        {
            var size = Math.Min(batch, samples - b * batch);
            Sample(prepared.Users.AsSpan(0, size), prepared.Positives.AsSpan(0, size), prepared.Negatives.AsSpan(0, size * negativesPerPositive));
            prepared.Prepare(size);
            _backend.ForwardForBatch(prepared);
            total += _backend.Bpr(prepared, l2);
            _backend.Backward(prepared, l2);
            Step(learningRate);
            onBatch?.Invoke(b + 1, batches);
        }
        PullE0();
        return total / batches;
    }

    /// <inheritdoc/>
    public void Dispose() => _backend.Dispose();

    private BprBatch BatchFor(int size, int perPositive)
    {
        if (_batch is null || _batch.Capacity < size || _batch.PerPositive != perPositive)
            _batch = new BprBatch(Users, Items, Math.Max(size, 1), perPositive);
        return _batch;
    }

    // E0 lives on the host between calls (callers may write it); a device backend gets it at the
    // start of each call and gives it back after the calls that change it. 18 MB each way on
    // Gowalla, once per epoch: nothing next to an epoch's work.
    private void PushE0()
    {
        if (!_sharesHostArrays) _backend.SetE0(UserE0, ItemE0);
    }

    private void PullE0()
    {
        if (!_sharesHostArrays) _backend.GetE0(UserE0, ItemE0);
    }
}
