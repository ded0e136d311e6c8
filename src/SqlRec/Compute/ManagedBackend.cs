using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SqlRec.Compute;

/// <summary>
/// LightGCN's kernels in .NET on all cores: the fast CPU path. Work is split into fixed chunks
/// (by row, balanced by non-zeros for the power-law graph), each output row is written by one
/// thread, and each row's sum runs in CSR or triple order, so results are bitwise reproducible
/// whatever the scheduling. The SpMM inner loop keeps a 64-wide block of the output row in eight
/// 256-bit registers and streams the neighbours' rows through fused multiply-adds.
/// </summary>
internal sealed class ManagedBackend : ILightGcnBackend
{
    private SparseMatrix _graph, _transposed;
    private SparseMatrix? _itemGraph, _itemGraphTransposed;
    private int _itemLayers;
    private float[] _itemHopA = [], _itemHopB = [], _itemJunk = [];
    private (int Start, int End)[] _itemGraphChunks = [], _itemGraphTransposedChunks = [];
    private readonly int _users, _items, _dim, _layers;
    private readonly float[] _userE0, _itemE0, _userFinal, _itemFinal, _userFinalGrad, _itemFinalGrad, _userGrad, _itemGrad;
    private readonly float[] _userM, _userV, _itemM, _itemV;
    private readonly float[] _userA, _userB, _itemA, _itemB;
    private (bool Users, int Start, int End)[] _hopChunks;
    private readonly byte[] _userActive, _itemActive;
    private float[] _g = [];
    private double[] _loss = [];
    private bool _finalGradDirty;

    /// <summary>Keeps the graph and allocates the buffers; E0 starts at zero.</summary>
    public ManagedBackend(SparseMatrix graph, SparseMatrix transposed, int dim, int layers, float[]? userE0 = null, float[]? itemE0 = null)
    {
        _graph = graph;
        _transposed = transposed;
        _users = graph.Rows;
        _items = graph.Columns;
        _dim = dim;
        _layers = layers;
        float[] Block(int rows) => new float[(long)rows * dim];
        _userE0 = userE0 ?? Block(_users);
        _itemE0 = itemE0 ?? Block(_items);
        (_userFinal, _itemFinal, _userFinalGrad, _itemFinalGrad) = (Block(_users), Block(_items), Block(_users), Block(_items));
        (_userGrad, _itemGrad, _userM, _userV, _itemM, _itemV) = (Block(_users), Block(_items), Block(_users), Block(_users), Block(_items), Block(_items));
        // Hop l writes the rows hop l + 1 reads (not the last hop): A, B, A, ... so L >= 2 needs A and L >= 3 needs B.
        (_userA, _itemA) = layers >= 2 ? (Block(_users), Block(_items)) : ([], []);
        (_userB, _itemB) = layers >= 3 ? (Block(_users), Block(_items)) : ([], []);
        _userActive = new byte[_users];
        _itemActive = new byte[_items];
        _hopChunks = [.. Chunks(graph).Select(c => (true, c.Start, c.End)), .. Chunks(transposed).Select(c => (false, c.Start, c.End))];
    }

    /// <inheritdoc/>
    public string Description => "cpu";

    /// <summary>E0 of the users, shared with the caller when it was passed in (no copies on the CPU).</summary>
    internal float[] UserE0 => _userE0;

    /// <summary>E0 of the items.</summary>
    internal float[] ItemE0 => _itemE0;

    /// <summary>F of the users.</summary>
    internal float[] UserFinal => _userFinal;

    /// <summary>F of the items.</summary>
    internal float[] ItemFinal => _itemFinal;

    /// <inheritdoc/>
    public void SetE0(ReadOnlySpan<float> users, ReadOnlySpan<float> items)
    {
        // The trainer passes the very arrays this backend works on: nothing to copy then.
        if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(users), ref MemoryMarshal.GetArrayDataReference(_userE0))) users.CopyTo(_userE0);
        if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(items), ref MemoryMarshal.GetArrayDataReference(_itemE0))) items.CopyTo(_itemE0);
    }

    /// <inheritdoc/>
    public void GetE0(Span<float> users, Span<float> items)
    {
        _userE0.CopyTo(users);
        _itemE0.CopyTo(items);
    }

    /// <inheritdoc/>
    public void Forward()
    {
        Smooth(_userE0, _itemE0, _userFinal, _itemFinal);
        AddItemGraph(forward: true, null);
    }

    /// <inheritdoc/>
    public void ForwardForBatch(BprBatch batch)
    {
        Smooth(_userE0, _itemE0, _userFinal, _itemFinal, lastHopRows: batch);
        AddItemGraph(forward: true, batch);
    }

    /// <inheritdoc/>
    public void SetGraph(SparseMatrix graph, SparseMatrix transposed)
    {
        if (graph.Rows != _users || graph.Columns != _items || transposed.Rows != _items || transposed.Columns != _users)
            throw new ArgumentException($"the graph must stay {_users} x {_items}");
        (_graph, _transposed) = (graph, transposed);
        _hopChunks = [.. Chunks(graph).Select(c => (true, c.Start, c.End)), .. Chunks(transposed).Select(c => (false, c.Start, c.End))];
    }

    /// <inheritdoc/>
    public void SetItemGraph(SparseMatrix graph, SparseMatrix transposed, int layers)
    {
        if (graph.Rows != _items || graph.Columns != _items || transposed.Rows != _items || transposed.Columns != _items)
            throw new ArgumentException($"the item graph must be {_items} x {_items}");
        ArgumentOutOfRangeException.ThrowIfNegative(layers);
        (_itemGraph, _itemGraphTransposed, _itemLayers) = (graph, transposed, layers);
        _itemGraphChunks = [.. Chunks(graph)];
        _itemGraphTransposedChunks = [.. Chunks(transposed)];
        if (layers >= 2)
        {
            (_itemHopA, _itemJunk) = (new float[_itemE0.Length], new float[_itemE0.Length]);
            if (layers >= 3) _itemHopB = new float[_itemE0.Length];
        }
    }

    /// <summary>
    /// The item-item path. Forward: F_items += S^L' E0_items (at <paramref name="rows"/>' item rows
    /// only when given). Backward: dE0_items += (S^T)^L' dF_items, where dF_items is zero outside
    /// the batch's item rows (<paramref name="rows"/>, marked active while the first hop gathers).
    /// Intermediate hops write their rows into a scratch block (and a discarded sum).
    /// </summary>
    private void AddItemGraph(bool forward, BprBatch? rows)
    {
        if (_itemGraph is null) return;
        var graph = forward ? _itemGraph : _itemGraphTransposed!;
        var chunks = forward ? _itemGraphChunks : _itemGraphTransposedChunks;
        var input = forward ? _itemE0 : _itemFinalGrad;
        var target = forward ? _itemFinal : _itemGrad;
        var dim = _dim;
        if (_itemLayers == 0)
        {
            if (rows is null)
            {
                Kernels.Add(input, target);
                return;
            }
            ForRows(rows.ItemRowCount, r =>
            {
                var at = rows.ItemRows[r] * dim;
                var to = target.AsSpan(at, dim);
                TensorPrimitives.Add(to, input.AsSpan(at, dim), to);
            });
            return;
        }
        var sparse = !forward && rows is not null;
        if (sparse) Mark(rows!, 1);
        var current = input;
        for (var layer = 0; layer < _itemLayers; layer++)
        {
            var last = layer == _itemLayers - 1;
            var next = last ? null : layer % 2 == 0 ? _itemHopA : _itemHopB;
            var (sum, baseRows) = last ? (target, target) : (_itemJunk, _itemJunk);
            var layerInput = current;
            var sparseHop = sparse && layer == 0;
            if (last && forward && rows is not null)
            {
                var rowChunks = (rows.ItemRowCount + RowChunk - 1) / RowChunk;
                Parallel.For(0, rowChunks, Parallelism.Options, c =>
                    Hop(graph, layerInput, baseRows, sum, null, 1f, dim, rows.ItemRows, c * RowChunk, Math.Min(rows.ItemRowCount, (c + 1) * RowChunk), false, _userActive));
            }
            else
            {
                Parallel.For(0, chunks.Length, Parallelism.Options, c =>
                    Hop(graph, layerInput, baseRows, sum, next, 1f, dim, null, chunks[c].Start, chunks[c].End, sparseHop, _itemActive));
            }
            if (!last) current = next!;
        }
        if (sparse) Mark(rows!, 0);
    }

    /// <inheritdoc/>
    public void GetUserRows(BprBatch batch, Span<float> rows)
    {
        var dim = _dim;
        for (var r = 0; r < batch.UserRowCount; r++) _userFinal.AsSpan(batch.UserRows[r] * dim, dim).CopyTo(rows.Slice(r * dim, dim));
    }

    /// <inheritdoc/>
    public void AddUserGradient(BprBatch batch, ReadOnlySpan<float> rows)
    {
        var dim = _dim;
        for (var r = 0; r < batch.UserRowCount; r++)
        {
            var target = _userFinalGrad.AsSpan(batch.UserRows[r] * dim, dim);
            TensorPrimitives.Add(target, rows.Slice(r * dim, dim), target);
        }
    }

    /// <inheritdoc/>
    public void GetFinal(Span<float> users, Span<float> items)
    {
        _userFinal.CopyTo(users);
        _itemFinal.CopyTo(items);
    }

    /// <inheritdoc/>
    public double Bpr(BprBatch batch, double l2)
    {
        if (_finalGradDirty)
        {
            Array.Clear(_userFinalGrad);
            Array.Clear(_itemFinalGrad);
        }
        var triples = batch.Triples;
        var perPositive = batch.PerPositive;
        var dim = _dim;
        if (_g.Length < triples)
        {
            _g = new float[triples];
            _loss = new double[triples];
        }
        var weight = 1.0 / triples;
        var g = _g;
        var loss = _loss;
        var chunk = Math.Max(256, Parallelism.ChunkSize(triples));
        Parallel.For(0, (triples + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            var end = Math.Min(triples, (block + 1) * chunk);
            for (var t = block * chunk; t < end; t++)
            {
                int user = batch.Users[t / perPositive], positive = batch.Positives[t / perPositive], negative = batch.Negatives[t];
                var fu = _userFinal.AsSpan(user * dim, dim);
                double x = (double)TensorPrimitives.Dot(fu, _itemFinal.AsSpan(positive * dim, dim)) - TensorPrimitives.Dot(fu, _itemFinal.AsSpan(negative * dim, dim));
                g[t] = (float)(-(1 / (1 + Math.Exp(x))) * weight); // -(1 - sigmoid(x)) / triples
                var softplus = x > 0 ? Math.Log(1 + Math.Exp(-x)) : -x + Math.Log(1 + Math.Exp(x));
                var norms = (double)SquaredNorm(_userE0, user, dim) + SquaredNorm(_itemE0, positive, dim) + SquaredNorm(_itemE0, negative, dim);
                loss[t] = softplus + l2 * 0.5 * norms;
            }
        });

        // The scatter: each distinct row sums its own occurrences in triple order (disjoint rows, no atomics).
        ForRows(batch.UserRowCount, r =>
        {
            var target = _userFinalGrad.AsSpan(batch.UserRows[r] * dim, dim);
            target.Clear();
            for (var e = batch.UserOffsets[r]; e < batch.UserOffsets[r + 1]; e++)
            {
                var t = batch.UserEntries[e];
                TensorPrimitives.MultiplyAdd(_itemFinal.AsSpan(batch.Positives[t / perPositive] * dim, dim), g[t], target, target);
                TensorPrimitives.MultiplyAdd(_itemFinal.AsSpan(batch.Negatives[t] * dim, dim), -g[t], target, target);
            }
        });
        ForRows(batch.ItemRowCount, r =>
        {
            var target = _itemFinalGrad.AsSpan(batch.ItemRows[r] * dim, dim);
            target.Clear();
            for (var e = batch.ItemOffsets[r]; e < batch.ItemOffsets[r + 1]; e++)
            {
                var entry = batch.ItemEntries[e];
                var t = entry >> 1;
                var gt = (entry & 1) == 0 ? g[t] : -g[t];
                TensorPrimitives.MultiplyAdd(_userFinal.AsSpan(batch.Users[t / perPositive] * dim, dim), gt, target, target);
            }
        });
        _finalGradDirty = true;

        double total = 0;
        for (var t = 0; t < triples; t++) total += loss[t];
        return total * weight;
    }

    /// <inheritdoc/>
    public void GetFinalGradient(Span<float> users, Span<float> items)
    {
        _userFinalGrad.CopyTo(users);
        _itemFinalGrad.CopyTo(items);
    }

    /// <inheritdoc/>
    public void Backward(BprBatch batch, double l2)
    {
        Smooth(_userFinalGrad, _itemFinalGrad, _userGrad, _itemGrad, sparseInput: batch);
        AddItemGraph(forward: false, batch);
        var decay = (float)(l2 / batch.Triples);
        var dim = _dim;
        ForRows(batch.UserRowCount, r =>
        {
            var row = batch.UserRows[r];
            var target = _userGrad.AsSpan(row * dim, dim);
            if (decay != 0) TensorPrimitives.MultiplyAdd(_userE0.AsSpan(row * dim, dim), decay * (batch.UserOffsets[r + 1] - batch.UserOffsets[r]), target, target);
            _userFinalGrad.AsSpan(row * dim, dim).Clear();
        });
        ForRows(batch.ItemRowCount, r =>
        {
            var row = batch.ItemRows[r];
            var target = _itemGrad.AsSpan(row * dim, dim);
            if (decay != 0) TensorPrimitives.MultiplyAdd(_itemE0.AsSpan(row * dim, dim), decay * (batch.ItemOffsets[r + 1] - batch.ItemOffsets[r]), target, target);
            _itemFinalGrad.AsSpan(row * dim, dim).Clear();
        });
        _finalGradDirty = false;
    }

    /// <inheritdoc/>
    public void GetGradient(Span<float> users, Span<float> items)
    {
        _userGrad.CopyTo(users);
        _itemGrad.CopyTo(items);
    }

    /// <inheritdoc/>
    public void SetGradient(ReadOnlySpan<float> users, ReadOnlySpan<float> items)
    {
        users.CopyTo(_userGrad);
        items.CopyTo(_itemGrad);
    }

    /// <inheritdoc/>
    public void Adam(float stepSize, float root2)
    {
        var userLength = _userE0.Length;
        var total = userLength + _itemE0.Length;
        const int chunk = 1 << 16;
        Parallel.For(0, (total + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            var start = block * chunk;
            var end = Math.Min(total, start + chunk);
            // A chunk lies in one of the two blocks except the one that straddles the boundary.
            if (start < userLength) AdamRange(_userE0, _userGrad, _userM, _userV, start, Math.Min(end, userLength), stepSize, root2);
            if (end > userLength) AdamRange(_itemE0, _itemGrad, _itemM, _itemV, Math.Max(start, userLength) - userLength, end - userLength, stepSize, root2);
        });
    }

    internal static void AdamRange(float[] parameters, float[] gradient, float[] m, float[] v, int start, int end, float stepSize, float root2)
    {
        const float b1 = AdamConstants.Beta1, b2 = AdamConstants.Beta2, eps = AdamConstants.Epsilon;
        const float c1 = (float)(1 - (double)b1), c2 = (float)(1 - (double)b2);
        var x = start;
        if (Vector256.IsHardwareAccelerated)
        {
            ref var p = ref MemoryMarshal.GetArrayDataReference(parameters);
            ref var gr = ref MemoryMarshal.GetArrayDataReference(gradient);
            ref var mr = ref MemoryMarshal.GetArrayDataReference(m);
            ref var vr = ref MemoryMarshal.GetArrayDataReference(v);
            var vb1 = Vector256.Create(b1);
            var vc1 = Vector256.Create(c1);
            var vb2 = Vector256.Create(b2);
            var vc2 = Vector256.Create(c2);
            var vStep = Vector256.Create(stepSize);
            var vRoot = Vector256.Create(root2);
            var vEps = Vector256.Create(eps);
            for (; x + 8 <= end; x += 8)
            {
                var i = (nuint)x;
                var g = Vector256.LoadUnsafe(ref gr, i);
                var mx = vb1 * Vector256.LoadUnsafe(ref mr, i) + vc1 * g;
                var vx = vb2 * Vector256.LoadUnsafe(ref vr, i) + vc2 * g * g;
                mx.StoreUnsafe(ref mr, i);
                vx.StoreUnsafe(ref vr, i);
                (Vector256.LoadUnsafe(ref p, i) - vStep * mx / (Vector256.Sqrt(vx) / vRoot + vEps)).StoreUnsafe(ref p, i);
            }
        }
        for (; x < end; x++)
        {
            var g = gradient[x];
            var mx = m[x] = b1 * m[x] + c1 * g;
            var vx = v[x] = b2 * v[x] + c2 * g * g;
            parameters[x] -= stepSize * mx / (MathF.Sqrt(vx) / root2 + eps);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
    }

    private static float SquaredNorm(float[] rows, int row, int dim)
    {
        var span = rows.AsSpan(row * dim, dim);
        return TensorPrimitives.Dot(span, span);
    }

    private static void ForRows(int count, Action<int> body)
    {
        if (count == 0) return;
        var chunk = Math.Max(16, Parallelism.ChunkSize(count));
        Parallel.For(0, (count + chunk - 1) / chunk, Parallelism.Options, block =>
        {
            var end = Math.Min(count, (block + 1) * chunk);
            for (var r = block * chunk; r < end; r++) body(r);
        });
    }

    /// <summary>
    /// <c>out = (1/(L+1)) sum_{l=0..L} A^^l in</c> for the users and items halves. Hop l reads the
    /// previous hop's rows of the other side and, for each output row, adds the new row into the
    /// running sum while it is in registers (layer 0 is the input itself; the last hop also
    /// scales), so there is no separate accumulate, copy or scale pass; two scratch blocks per
    /// side alternate between hops. With <paramref name="lastHopRows"/>, the last hop runs only for
    /// that batch's rows (the rows BPR reads), leaving <paramref name="outUsers"/> /
    /// <paramref name="outItems"/> valid there only. With <paramref name="sparseInput"/>, the input
    /// is zero outside that batch's rows, and the first hop gathers only those rows.
    /// </summary>
    private void Smooth(float[] inUsers, float[] inItems, float[] outUsers, float[] outItems, BprBatch? lastHopRows = null, BprBatch? sparseInput = null)
    {
        if (_layers == 0)
        {
            inUsers.AsSpan().CopyTo(outUsers);
            inItems.AsSpan().CopyTo(outItems);
            return;
        }
        if (sparseInput is not null) Mark(sparseInput, 1);
        float[] currentUsers = inUsers, currentItems = inItems;
        for (var layer = 0; layer < _layers; layer++)
        {
            var last = layer == _layers - 1;
            var nextUsers = last ? null : layer % 2 == 0 ? _userA : _userB;
            var nextItems = last ? null : layer % 2 == 0 ? _itemA : _itemB;
            var baseUsers = layer == 0 ? inUsers : outUsers;
            var baseItems = layer == 0 ? inItems : outItems;
            var scale = last ? 1f / (_layers + 1) : 1f;
            var (cu, ci) = (currentUsers, currentItems);
            var sparse = layer == 0 && sparseInput is not null;
            if (last && lastHopRows is not null)
            {
                var (userRows, itemRows) = (lastHopRows.UserRows, lastHopRows.ItemRows);
                var userChunks = (lastHopRows.UserRowCount + RowChunk - 1) / RowChunk;
                var itemChunks = (lastHopRows.ItemRowCount + RowChunk - 1) / RowChunk;
                Parallel.For(0, userChunks + itemChunks, Parallelism.Options, c =>
                {
                    if (c < userChunks)
                        Hop(_graph, ci, baseUsers, outUsers, null, scale, _dim, userRows, c * RowChunk, Math.Min(lastHopRows.UserRowCount, (c + 1) * RowChunk), sparse, _itemActive);
                    else
                        Hop(_transposed, cu, baseItems, outItems, null, scale, _dim, itemRows, (c - userChunks) * RowChunk, Math.Min(lastHopRows.ItemRowCount, (c - userChunks + 1) * RowChunk), sparse, _userActive);
                });
            }
            else
            {
                Parallel.For(0, _hopChunks.Length, Parallelism.Options, c =>
                {
                    var (users, start, end) = _hopChunks[c];
                    if (users) Hop(_graph, ci, baseUsers, outUsers, nextUsers, scale, _dim, null, start, end, sparse, _itemActive);
                    else Hop(_transposed, cu, baseItems, outItems, nextItems, scale, _dim, null, start, end, sparse, _userActive);
                });
            }
            if (!last) (currentUsers, currentItems) = (nextUsers!, nextItems!);
        }
        if (sparseInput is not null) Mark(sparseInput, 0);
    }

    private const int RowChunk = 64;

    private void Mark(BprBatch batch, byte value)
    {
        for (var r = 0; r < batch.UserRowCount; r++) _userActive[batch.UserRows[r]] = value;
        for (var r = 0; r < batch.ItemRowCount; r++) _itemActive[batch.ItemRows[r]] = value;
    }

    /// <summary>Prefetch distance in non-zeros for the SpMM gathers (measured on Gowalla: 8 is about best, none is clearly worse).</summary>
    private const int PrefetchDistance = 8;

    /// <summary>
    /// For rows [start, end) of <paramref name="matrix"/> (or rowList[start..end)):
    /// acc = (matrix * input)_row; next_row = acc (when asked); sum_row = (base_row + acc) * scale.
    /// With <paramref name="sparse"/>, neighbours whose <paramref name="active"/> flag is 0 are
    /// skipped (their input rows are zero).
    /// </summary>
    internal static void Hop(SparseMatrix matrix, float[] input, float[] baseRows, float[] sum, float[]? next, float scale, int dim,
        int[]? rowList, int start, int end, bool sparse, byte[] active)
    {
        if (sparse) Hop(matrix, input, baseRows, sum, next, scale, dim, rowList, start, end, new ActiveNeighbours(active));
        else Hop(matrix, input, baseRows, sum, next, scale, dim, rowList, start, end, default(AllNeighbours));
    }

    private interface INeighbourFilter
    {
        bool Skip(int neighbour);
    }

    private readonly struct AllNeighbours : INeighbourFilter
    {
        public bool Skip(int neighbour) => false;
    }

    private readonly struct ActiveNeighbours(byte[] active) : INeighbourFilter
    {
        public bool Skip(int neighbour) => active[neighbour] == 0;
    }

    // Generic over the filter so the JIT compiles a copy without the test for the dense hops.
    private static unsafe void Hop<TFilter>(SparseMatrix matrix, float[] input, float[] baseRows, float[] sum, float[]? next, float scale, int dim,
        int[]? rowList, int start, int end, TFilter filter) where TFilter : struct, INeighbourFilter
    {
        var offsets = matrix.Offsets;
        var indices = matrix.Indices;
        var values = matrix.Values;
        var nonZeros = matrix.NonZeros;
        if (Vector256.IsHardwareAccelerated && dim % 8 == 0)
        {
            ref var inputRef = ref MemoryMarshal.GetArrayDataReference(input);
            ref var baseRef = ref MemoryMarshal.GetArrayDataReference(baseRows);
            ref var sumRef = ref MemoryMarshal.GetArrayDataReference(sum);
            var vScale = Vector256.Create(scale);
            for (var k = start; k < end; k++)
            {
                var row = rowList is null ? k : rowList[k];
                int from = offsets[row], to = offsets[row + 1];
                var rowBase = (nuint)((long)row * dim);
                // 64 columns at a time in eight registers, then the remaining 8-wide blocks one by one.
                var c = 0;
                for (; c + 64 <= dim; c += 64)
                {
                    Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                    for (var p = from; p < to; p++)
                    {
                        // The neighbours' rows are random reads from a table larger than L2: ask for the
                        // block a few non-zeros ahead (possibly in the next rows) while this one is summed.
                        if (Sse.IsSupported && p + PrefetchDistance < nonZeros && !filter.Skip(indices[p + PrefetchDistance]))
                        {
                            var ahead = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref inputRef, (nint)((long)indices[p + PrefetchDistance] * dim + c)));
                            Sse.Prefetch0(ahead);
                            Sse.Prefetch0(ahead + 64);
                            Sse.Prefetch0(ahead + 128);
                            Sse.Prefetch0(ahead + 192);
                        }
                        if (filter.Skip(indices[p])) continue;
                        var v = Vector256.Create(values[p]);
                        ref var src = ref Unsafe.Add(ref inputRef, (nint)((long)indices[p] * dim + c));
                        a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref src, 0), v, a0);
                        a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref src, 8), v, a1);
                        a2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref src, 16), v, a2);
                        a3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref src, 24), v, a3);
                        a4 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref src, 32), v, a4);
                        a5 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref src, 40), v, a5);
                        a6 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref src, 48), v, a6);
                        a7 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref src, 56), v, a7);
                    }
                    var at = rowBase + (nuint)c;
                    Finish(a0, at, next, ref baseRef, ref sumRef, vScale);
                    Finish(a1, at + 8, next, ref baseRef, ref sumRef, vScale);
                    Finish(a2, at + 16, next, ref baseRef, ref sumRef, vScale);
                    Finish(a3, at + 24, next, ref baseRef, ref sumRef, vScale);
                    Finish(a4, at + 32, next, ref baseRef, ref sumRef, vScale);
                    Finish(a5, at + 40, next, ref baseRef, ref sumRef, vScale);
                    Finish(a6, at + 48, next, ref baseRef, ref sumRef, vScale);
                    Finish(a7, at + 56, next, ref baseRef, ref sumRef, vScale);
                }
                for (; c < dim; c += 8)
                {
                    var acc = Vector256<float>.Zero;
                    for (var p = from; p < to; p++)
                    {
                        if (filter.Skip(indices[p])) continue;
                        acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref inputRef, (nuint)((long)indices[p] * dim + c)), Vector256.Create(values[p]), acc);
                    }
                    Finish(acc, rowBase + (nuint)c, next, ref baseRef, ref sumRef, vScale);
                }
            }
            return;
        }
        Span<float> accumulator = dim <= 1024 ? stackalloc float[dim] : new float[dim];
        for (var k = start; k < end; k++)
        {
            var row = rowList is null ? k : rowList[k];
            accumulator.Clear();
            for (var p = offsets[row]; p < offsets[row + 1]; p++)
            {
                if (filter.Skip(indices[p])) continue;
                TensorPrimitives.MultiplyAdd(input.AsSpan(indices[p] * dim, dim), values[p], accumulator, accumulator);
            }
            if (next is not null) accumulator.CopyTo(next.AsSpan(row * dim, dim));
            var target = sum.AsSpan(row * dim, dim);
            TensorPrimitives.Add(baseRows.AsSpan(row * dim, dim), accumulator, target);
            TensorPrimitives.Multiply(target, scale, target);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector256<float> acc, nuint i, float[]? next, ref float baseRef, ref float sumRef, Vector256<float> scale)
    {
        if (next is not null) acc.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(next), i);
        ((Vector256.LoadUnsafe(ref baseRef, i) + acc) * scale).StoreUnsafe(ref sumRef, i);
    }

    /// <summary>Row ranges of about equal work (non-zeros plus one per row), about 16 per core, for load balance on power-law degrees.</summary>
    private static List<(int Start, int End)> Chunks(SparseMatrix matrix)
    {
        var pieces = 16 * Environment.ProcessorCount;
        var work = (long)matrix.NonZeros + matrix.Rows;
        var target = Math.Max(1, work / pieces);
        var chunks = new List<(int, int)>();
        var start = 0;
        long done = 0;
        for (var row = 0; row < matrix.Rows; row++)
        {
            done += matrix.Offsets[row + 1] - matrix.Offsets[row] + 1;
            if (done >= target || row == matrix.Rows - 1)
            {
                chunks.Add((start, row + 1));
                start = row + 1;
                done = 0;
            }
        }
        return chunks;
    }
}
