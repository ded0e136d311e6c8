using System.Numerics.Tensors;
using SqlRec.Compute;
using SqlRec.Models;

namespace SqlRec.Benchmarks;

/// <summary>
/// A frozen copy of the managed LightGCN trainer as it was before the compute backends (one
/// TensorPrimitives call per non-zero, separate add/copy/scale passes per layer, full clears of the
/// gradient of F per step, single-threaded scatter): the same-run baseline for the epoch and
/// propagation figures of <see cref="LightGcnBenchmark"/>.
/// Original summary: the LightGCN training loop (He et al., SIGIR 2020) on the CPU. With R~ = D_u^-1/2 R D_i^-1/2
/// (R binary), the normalised adjacency A^ of the user-item graph has R~ and R~^T as its two
/// off-diagonal blocks, so one propagation hop is two sparse products: users' = R~ items,
/// items' = R~^T users. Final embeddings are F = mean(E0, A^ E0, ..., A^^L E0); a batch scores
/// sampled (user, positive, negative) triples with BPR on F, adds L2 on the batch's E0 rows
/// (as the official code does), and back-propagates through the same smoothing operator
/// (A^ is symmetric, so dE0 = mean_l A^^l dF). Adam then updates every parameter.
/// Everything is deterministic for a seed: sampling is single-threaded with
/// <see cref="SplitMix64"/>, parallel parts write disjoint rows, and sums run in a fixed order.
/// </summary>
internal sealed class PreviousLightGcnTrainer
{
    private const double Beta1 = 0.9;
    private const double Beta2 = 0.999;
    private const double Epsilon = 1e-8;

    private readonly int[] _offsets;
    private readonly int[] _columns;
    private readonly int[] _activeUsers;
    private SplitMix64 _random;

    // Scratch for the smoothing operator.
    private readonly float[] _currentUsers, _currentItems, _nextUsers, _nextItems;

    // Gradients with respect to F (scattered from the batch) and to E0.
    private readonly float[] _finalUserGrad, _finalItemGrad;

    // Adam moments.
    private readonly float[] _userM, _userV, _itemM, _itemV;

    /// <summary>Builds the normalised graph and initialises E0 ~ N(0, 0.1^2) from <paramref name="seed"/>.</summary>
    /// <param name="users">Number of users (rows of the CSR).</param>
    /// <param name="items">Number of items.</param>
    /// <param name="offsets">CSR offsets of the distinct user-item pairs.</param>
    /// <param name="columns">CSR item indices, sorted within each user.</param>
    /// <param name="dim">Embedding width.</param>
    /// <param name="layers">Propagation layers L.</param>
    /// <param name="seed">Seeds the initial embeddings and the sampling.</param>
    public PreviousLightGcnTrainer(int users, int items, int[] offsets, int[] columns, int dim, int layers, int seed)
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

        UserFinal = new float[users * dim];
        ItemFinal = new float[items * dim];
        UserGrad = new float[users * dim];
        ItemGrad = new float[items * dim];
        _currentUsers = new float[users * dim];
        _currentItems = new float[items * dim];
        _nextUsers = new float[users * dim];
        _nextItems = new float[items * dim];
        _finalUserGrad = new float[users * dim];
        _finalItemGrad = new float[items * dim];
        _userM = new float[users * dim];
        _userV = new float[users * dim];
        _itemM = new float[items * dim];
        _itemV = new float[items * dim];
    }

    public int Users { get; }
    public int Items { get; }
    public int Dim { get; }
    public int Layers { get; }

    /// <summary>R~ (users x items).</summary>
    public SparseMatrix Graph { get; }

    /// <summary>R~^T (items x users).</summary>
    public SparseMatrix GraphTransposed { get; }

    /// <summary>E0 of the users (users x dim, row-major): the trained parameters.</summary>
    public float[] UserE0 { get; }

    /// <summary>E0 of the items (items x dim).</summary>
    public float[] ItemE0 { get; }

    /// <summary>Final user embeddings F after <see cref="Forward"/>.</summary>
    public float[] UserFinal { get; }

    /// <summary>Final item embeddings F after <see cref="Forward"/>.</summary>
    public float[] ItemFinal { get; }

    /// <summary>dLoss/dE0 of the users after <see cref="BatchGradient"/>.</summary>
    public float[] UserGrad { get; }

    /// <summary>dLoss/dE0 of the items after <see cref="BatchGradient"/>.</summary>
    public float[] ItemGrad { get; }

    /// <summary>Adam steps taken.</summary>
    public int Steps { get; private set; }

    /// <summary>Training pairs (samples per epoch).</summary>
    public int Pairs => _columns.Length;

    /// <summary>F = mean(E0, ..., A^^L E0) into <see cref="UserFinal"/> and <see cref="ItemFinal"/>.</summary>
    public void Forward() => Smooth(UserE0, ItemE0, UserFinal, ItemFinal);

    /// <summary>
    /// <c>out = (1/(L+1)) sum_{l=0..L} A^^l in</c>, for the users and items halves of a
    /// (users + items) x dim block. Forward propagation and its backward pass are both this.
    /// </summary>
    public void Smooth(float[] users, float[] items, float[] outUsers, float[] outItems)
    {
        Array.Copy(users, outUsers, users.Length);
        Array.Copy(items, outItems, items.Length);
        if (Layers == 0) return;
        Array.Copy(users, _currentUsers, users.Length);
        Array.Copy(items, _currentItems, items.Length);
        for (var layer = 0; layer < Layers; layer++)
        {
            Graph.MultiplyDense(_currentItems, Dim, _nextUsers);
            GraphTransposed.MultiplyDense(_currentUsers, Dim, _nextItems);
            ParallelAdd(_nextUsers, outUsers);
            ParallelAdd(_nextItems, outItems);
            _nextUsers.AsSpan().CopyTo(_currentUsers);
            _nextItems.AsSpan().CopyTo(_currentItems);
        }
        var scale = 1f / (Layers + 1);
        ParallelScale(outUsers, scale);
        ParallelScale(outItems, scale);
    }

    /// <summary>
    /// Runs the forward pass and the loss of one batch, leaving dLoss/dE0 in <see cref="UserGrad"/>
    /// and <see cref="ItemGrad"/>. Each positive pair (users[s], positives[s]) comes with
    /// <paramref name="negatives"/>.Length / users.Length negatives; every triple weighs
    /// 1 / (B * negatives) in both the BPR term and the L2 term.
    /// </summary>
    /// <returns>The batch loss: mean BPR plus l2 * 0.5 * the triples' E0 squared norms / B.</returns>
    public double BatchGradient(ReadOnlySpan<int> users, ReadOnlySpan<int> positives, ReadOnlySpan<int> negatives, double l2)
    {
        Forward();
        var batch = users.Length;
        var perPositive = negatives.Length / batch;
        var triples = negatives.Length;
        var weight = 1.0 / triples;
        var dim = Dim;

        // Margins x = F_u.F_i - F_u.F_j (per triple, in parallel; each value is independent of threads).
        var margins = new double[triples];
        var u = users.ToArray();
        var p = positives.ToArray();
        var n = negatives.ToArray();
        Parallel.For(0, triples, Parallelism.Options, t =>
        {
            var fu = UserFinal.AsSpan(u[t / perPositive] * dim, dim);
            margins[t] = (double)TensorPrimitives.Dot(fu, ItemFinal.AsSpan(p[t / perPositive] * dim, dim))
                - TensorPrimitives.Dot(fu, ItemFinal.AsSpan(n[t] * dim, dim));
        });

        Array.Clear(_finalUserGrad);
        Array.Clear(_finalItemGrad);
        double bpr = 0, norms = 0;
        for (var t = 0; t < triples; t++)
        {
            var x = margins[t];
            bpr += x > 0 ? Math.Log(1 + Math.Exp(-x)) : -x + Math.Log(1 + Math.Exp(x));
            var g = (float)(-(1 / (1 + Math.Exp(x))) * weight); // -(1 - sigmoid(x)) / B
            var user = u[t / perPositive];
            var positive = p[t / perPositive];
            var negative = n[t];
            var fu = UserFinal.AsSpan(user * dim, dim);
            var du = _finalUserGrad.AsSpan(user * dim, dim);
            TensorPrimitives.MultiplyAdd(ItemFinal.AsSpan(positive * dim, dim), g, du, du);
            TensorPrimitives.MultiplyAdd(ItemFinal.AsSpan(negative * dim, dim), -g, du, du);
            var di = _finalItemGrad.AsSpan(positive * dim, dim);
            TensorPrimitives.MultiplyAdd(fu, g, di, di);
            var dj = _finalItemGrad.AsSpan(negative * dim, dim);
            TensorPrimitives.MultiplyAdd(fu, -g, dj, dj);
            norms += (double)TensorPrimitives.Dot(UserE0.AsSpan(user * dim, dim), UserE0.AsSpan(user * dim, dim))
                + TensorPrimitives.Dot(ItemE0.AsSpan(positive * dim, dim), ItemE0.AsSpan(positive * dim, dim))
                + TensorPrimitives.Dot(ItemE0.AsSpan(negative * dim, dim), ItemE0.AsSpan(negative * dim, dim));
        }

        Smooth(_finalUserGrad, _finalItemGrad, UserGrad, ItemGrad);

        // L2 on the E0 rows of each triple: l2 * E0_row / B per occurrence.
        var decay = (float)(l2 * weight);
        if (decay != 0)
        {
            for (var t = 0; t < triples; t++)
            {
                AddScaled(UserE0, UserGrad, u[t / perPositive], decay);
                AddScaled(ItemE0, ItemGrad, p[t / perPositive], decay);
                AddScaled(ItemE0, ItemGrad, n[t], decay);
            }
        }
        return bpr * weight + l2 * 0.5 * norms * weight;

        void AddScaled(float[] source, float[] target, int row, float scale)
        {
            var to = target.AsSpan(row * dim, dim);
            TensorPrimitives.MultiplyAdd(source.AsSpan(row * dim, dim), scale, to, to);
        }
    }

    /// <summary>One Adam step (torch.optim.Adam: beta1 0.9, beta2 0.999, eps 1e-8, bias correction) on all of E0.</summary>
    public void AdamStep(double learningRate)
    {
        Steps++;
        var correction1 = 1 - Math.Pow(Beta1, Steps);
        var correction2 = 1 - Math.Pow(Beta2, Steps);
        var stepSize = (float)(learningRate / correction1);
        var root2 = (float)Math.Sqrt(correction2);
        Adam(UserE0, UserGrad, _userM, _userV, stepSize, root2);
        Adam(ItemE0, ItemGrad, _itemM, _itemV, stepSize, root2);
    }

    private static void Adam(float[] parameters, float[] gradient, float[] m, float[] v, float stepSize, float root2)
    {
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
        var users = new int[batch];
        var positives = new int[batch];
        var negatives = new int[batch * negativesPerPositive];
        double total = 0;
        for (var b = 0; b < batches; b++)
        {
            var size = Math.Min(batch, samples - b * batch);
            Sample(users.AsSpan(0, size), positives.AsSpan(0, size), negatives.AsSpan(0, size * negativesPerPositive));
            total += BatchGradient(users.AsSpan(0, size), positives.AsSpan(0, size), negatives.AsSpan(0, size * negativesPerPositive), l2);
            AdamStep(learningRate);
            onBatch?.Invoke(b + 1, batches);
        }
        return total / batches;
    }

    private static void ParallelAdd(float[] source, float[] target)
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

    private static void ParallelScale(float[] target, float scale)
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
