namespace SqlRec.Compute;

/// <summary>
/// The kernels LightGCN's training loop runs, on one device, over buffers that stay on that device
/// between calls (E0, the final embeddings F, their gradients, Adam's moments, propagation scratch).
/// The host only uploads each step's sampled batch (<see cref="BprBatch"/>) and reads back the
/// per-triple losses; E0 and F cross only when asked for. Two implementations:
/// <see cref="ManagedBackend"/> (multithreaded SIMD .NET) and <see cref="IlgpuBackend"/> (ILGPU
/// kernels on CUDA, OpenCL or ILGPU's CPU accelerator). Both are deterministic for a seed: every
/// output element is written by one thread, and every sum runs in a fixed order; in particular the
/// BPR gradient scatter, where one item appears in several triples, is a segmented gather over
/// the batch's rows (built on the host), not atomics.
/// </summary>
/// <remarks>
/// The graph is R~ = D_u^-1/2 R D_i^-1/2 (users x items) and its transpose; the normalised
/// adjacency A^ of the bipartite graph has them as its off-diagonal blocks, so one propagation hop
/// is users' = R~ items and items' = R~^T users (two CSR SpMMs).
/// </remarks>
internal interface ILightGcnBackend : IDisposable
{
    /// <summary>What runs the kernels: <c>cpu</c>, or <c>ilgpu-cpu</c> / <c>cuda: NAME</c> / <c>opencl: NAME</c>.</summary>
    string Description { get; }

    /// <summary>Replaces E0 (users x dim and items x dim, row-major).</summary>
    void SetE0(ReadOnlySpan<float> users, ReadOnlySpan<float> items);

    /// <summary>Reads E0 back.</summary>
    void GetE0(Span<float> users, Span<float> items);

    /// <summary>
    /// Propagation: F = (1/(L+1)) sum_{l=0..L} A^^l E0. Each hop is a CSR SpMM per side with the
    /// layer accumulation fused into it (and the 1/(L+1) into the last hop).
    /// </summary>
    void Forward();

    /// <summary>
    /// F at the batch's rows only, for the training step: the hops before the last run in full,
    /// the last one only for the rows BPR reads (about a quarter of the forward pass saved at
    /// L = 3). Other rows of F are left stale until the next <see cref="Forward"/>.
    /// </summary>
    void ForwardForBatch(BprBatch batch);

    /// <summary>Reads F (after <see cref="Forward"/>).</summary>
    void GetFinal(Span<float> users, Span<float> items);

    /// <summary>
    /// BPR forward and gradient scatter on F for one batch: per triple the margin
    /// x = F_u.F_i - F_u.F_j and g = -(1 - sigmoid(x)) / triples; then dF on the batch's rows only
    /// (every other row of dF is zero). Returns the batch loss: the mean of softplus(-x) plus
    /// l2 / 2 times the mean of the triples' E0 squared norms.
    /// </summary>
    double Bpr(BprBatch batch, double l2);

    /// <summary>Reads dLoss/dF (after <see cref="Bpr"/>; zero outside the batch's rows).</summary>
    void GetFinalGradient(Span<float> users, Span<float> items);

    /// <summary>
    /// dLoss/dE0 = mean_l A^^l dF (A^ is symmetric, so the backward pass is the same smoothing;
    /// its first hop gathers only the batch's rows, where dF is non-zero), plus the L2 gradient l2 / triples * E0_row once per occurrence of a row in the batch; then
    /// clears dF's batch rows for the next step.
    /// </summary>
    void Backward(BprBatch batch, double l2);

    /// <summary>Reads dLoss/dE0 (after <see cref="Backward"/>).</summary>
    void GetGradient(Span<float> users, Span<float> items);

    /// <summary>Replaces dLoss/dE0 (tests of the optimiser).</summary>
    void SetGradient(ReadOnlySpan<float> users, ReadOnlySpan<float> items);

    /// <summary>
    /// One Adam step on every parameter of E0 with the current gradient (torch.optim.Adam:
    /// m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, E0 -= stepSize m / (sqrt(v) / root2 + eps),
    /// with the bias corrections folded into <paramref name="stepSize"/> and <paramref name="root2"/>).
    /// </summary>
    void Adam(float stepSize, float root2);

    /// <summary>
    /// Replaces the user-item graph R~ and its transpose (same users and items; any number of
    /// non-zeros): FREEDOM propagates each epoch over a pruned graph and infers over the full one.
    /// </summary>
    void SetGraph(SparseMatrix graph, SparseMatrix transposed);

    /// <summary>
    /// Adds a frozen item-item graph S (items x items) and its transpose: from then on the final
    /// item vectors are F_i + h_i with h = S^<paramref name="layers"/> E0_items (h = E0_items for
    /// 0 layers), in <see cref="Forward"/> and, at the batch's item rows, in
    /// <see cref="ForwardForBatch"/>; <see cref="Backward"/> adds (S^T)^layers dF_items to dE0_items.
    /// </summary>
    void SetItemGraph(SparseMatrix graph, SparseMatrix transposed, int layers);

    /// <summary>Reads F at the batch's distinct users (<see cref="BprBatch.UserRows"/> order, UserRowCount x dim), after <see cref="ForwardForBatch"/>.</summary>
    void GetUserRows(BprBatch batch, Span<float> rows);

    /// <summary>
    /// Adds a further loss term's gradient to dLoss/dF at the batch's distinct users
    /// (<see cref="BprBatch.UserRows"/> order): after <see cref="Bpr"/>, before <see cref="Backward"/>.
    /// </summary>
    void AddUserGradient(BprBatch batch, ReadOnlySpan<float> rows);
}

/// <summary>What the trainers on a backend share.</summary>
internal static class BackendHost
{
    /// <summary>
    /// The arrays a trainer exposes as its final vectors: the managed backend's own (it works on the
    /// host arrays themselves, no copies in or out), or new host arrays that a device backend's
    /// results are copied into.
    /// </summary>
    public static (float[] Users, float[] Items, bool Shared) FinalArrays(ILightGcnBackend backend, int users, int items, int dim) =>
        backend is ManagedBackend managed ? (managed.UserFinal, managed.ItemFinal, true) : (new float[users * dim], new float[items * dim], false);
}

/// <summary>Adam's constants (torch.optim.Adam's defaults).</summary>
internal static class AdamConstants
{
    public const float Beta1 = 0.9f;
    public const float Beta2 = 0.999f;
    public const float Epsilon = 1e-8f;

    /// <summary>
    /// Step <paramref name="step"/>'s (1-based) scalars for <see cref="ILightGcnBackend.Adam"/>: the
    /// learning rate over the first moment's bias correction, and the square root of the second's.
    /// </summary>
    public static (float StepSize, float Root2) Corrections(double learningRate, int step) =>
        ((float)(learningRate / (1 - Math.Pow(Beta1, step))), (float)Math.Sqrt(1 - Math.Pow(Beta2, step)));
}

/// <summary>
/// One sampled batch of (user, positive, negative) triples, prepared for the gradient scatter:
/// for each distinct user row and each distinct item row of the batch, the list of its
/// occurrences in triple order (a counting sort on the host, O(triples)). A kernel then gives one
/// row to one thread group and sums that row's contributions in this fixed order, so the scatter
/// needs no atomics and is bitwise reproducible, on the GPU as on the CPU. The occurrence counts
/// are also what the L2 term needs.
/// </summary>
internal sealed class BprBatch
{
    private readonly int[] _userSlot;
    private readonly int[] _itemSlot;
    private readonly int[] _cursor;

    /// <summary>Allocates room for batches of up to <paramref name="capacity"/> positives with <paramref name="perPositive"/> negatives each.</summary>
    public BprBatch(int users, int items, int capacity, int perPositive)
    {
        Capacity = capacity;
        PerPositive = perPositive;
        var triples = capacity * perPositive;
        Users = new int[capacity];
        Positives = new int[capacity];
        Negatives = new int[triples];
        UserRows = new int[Math.Min(users, triples)];
        UserOffsets = new int[UserRows.Length + 1];
        UserEntries = new int[triples];
        ItemRows = new int[Math.Min(items, 2 * triples)];
        ItemOffsets = new int[ItemRows.Length + 1];
        ItemEntries = new int[2 * triples];
        _userSlot = new int[users];
        _itemSlot = new int[items];
        _cursor = new int[Math.Max(UserRows.Length, ItemRows.Length)];
        Array.Fill(_userSlot, -1);
        Array.Fill(_itemSlot, -1);
    }

    /// <summary>Largest number of positives.</summary>
    public int Capacity { get; }

    /// <summary>Negatives per positive.</summary>
    public int PerPositive { get; }

    /// <summary>Counts the batches prepared in this object (a device backend uploads each version once).</summary>
    public long Version { get; private set; }

    /// <summary>Positives in this batch.</summary>
    public int Count { get; private set; }

    /// <summary>Triples in this batch: <see cref="Count"/> x <see cref="PerPositive"/>; triple t belongs to positive t / PerPositive.</summary>
    public int Triples => Count * PerPositive;

    /// <summary>User of each positive.</summary>
    public int[] Users { get; }

    /// <summary>Positive item of each positive.</summary>
    public int[] Positives { get; }

    /// <summary>Negative item of each triple.</summary>
    public int[] Negatives { get; }

    /// <summary>Distinct users, in order of first appearance.</summary>
    public int[] UserRows { get; }

    /// <summary>Number of distinct users.</summary>
    public int UserRowCount { get; private set; }

    /// <summary>Segment of each distinct user in <see cref="UserEntries"/>.</summary>
    public int[] UserOffsets { get; }

    /// <summary>Triples of each distinct user, ascending.</summary>
    public int[] UserEntries { get; }

    /// <summary>Distinct items (positive or negative), in order of first appearance.</summary>
    public int[] ItemRows { get; }

    /// <summary>Number of distinct items.</summary>
    public int ItemRowCount { get; private set; }

    /// <summary>Segment of each distinct item in <see cref="ItemEntries"/>.</summary>
    public int[] ItemOffsets { get; }

    /// <summary>Occurrences of each distinct item, ascending: <c>triple * 2</c> as a positive, <c>triple * 2 + 1</c> as a negative.</summary>
    public int[] ItemEntries { get; }

    /// <summary>
    /// Takes a batch of <paramref name="count"/> positives whose indices are already in
    /// <see cref="Users"/>, <see cref="Positives"/> and <see cref="Negatives"/>, and builds the segments.
    /// </summary>
    public void Prepare(int count)
    {
        if (count < 1 || count > Capacity) throw new ArgumentOutOfRangeException(nameof(count));
        Count = count;
        Version++;
        var triples = Triples;
        UserRowCount = Group(_userSlot, UserRows, UserOffsets, UserEntries, _cursor, triples, t => Users[t / PerPositive]);
        ItemRowCount = Group(_itemSlot, ItemRows, ItemOffsets, ItemEntries, _cursor, 2 * triples,
            e => (e & 1) == 0 ? Positives[(e >> 1) / PerPositive] : Negatives[e >> 1]);
    }

    /// <summary>Copies a batch in and prepares it (tests and callers with their own sampling).</summary>
    public void Set(ReadOnlySpan<int> users, ReadOnlySpan<int> positives, ReadOnlySpan<int> negatives)
    {
        if (positives.Length != users.Length || negatives.Length != users.Length * PerPositive) throw new ArgumentException("batch shape mismatch");
        users.CopyTo(Users);
        positives.CopyTo(Positives);
        negatives.CopyTo(Negatives);
        Prepare(users.Length);
    }

    // A counting sort of the entries 0..count-1 by their row: rows get slots in order of first
    // appearance, then entries are placed in ascending order within each slot. The slot map is
    // restored to -1 for the rows used, so each batch costs O(count), not O(rows).
    private static int Group(int[] slot, int[] rows, int[] offsets, int[] entries, int[] cursor, int count, Func<int, int> rowOf)
    {
        var distinct = 0;
        for (var e = 0; e < count; e++)
        {
            var row = rowOf(e);
            if (slot[row] < 0)
            {
                slot[row] = distinct;
                rows[distinct] = row;
                offsets[distinct + 1] = 0;
                distinct++;
            }
            offsets[slot[row] + 1]++;
        }
        offsets[0] = 0;
        for (var r = 0; r < distinct; r++) offsets[r + 1] += offsets[r];
        cursor.AsSpan(0, distinct).Clear();
        for (var e = 0; e < count; e++)
        {
            var s = slot[rowOf(e)];
            entries[offsets[s] + cursor[s]++] = e;
        }
        for (var r = 0; r < distinct; r++) slot[rows[r]] = -1;
        return distinct;
    }
}
