using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace SqlRec.Compute;

/// <summary>
/// LightGCN's kernels as ILGPU kernels, on a CUDA or OpenCL GPU or on ILGPU's CPU accelerator
/// (which runs the same kernels thread by thread: slow, but it checks the GPU code without a GPU).
/// Kernels are compiled once per backend; E0, F, the gradients, Adam's moments and the graph stay
/// in device memory for the whole training; each step uploads only the sampled batch and its
/// scatter segments and reads back the per-triple losses. Thread layout: the element-wise and row
/// kernels use one thread per (row, column), so the dim threads of a row read its contiguous
/// neighbour rows together (coalesced on a GPU); SpMM is CSR (work proportional to the
/// non-zeros of the power-law graph, no ELL padding); the BPR gradient scatter is a segmented
/// gather (see <see cref="BprBatch"/>), deterministic without atomics.
/// </summary>
internal sealed class IlgpuBackend : ILightGcnBackend
{
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly int _users, _items, _dim, _layers;
    private MemoryBuffer1D<int, Stride1D.Dense> _graphOffsets, _graphIndices, _transposedOffsets, _transposedIndices;
    private MemoryBuffer1D<float, Stride1D.Dense> _graphValues, _transposedValues;
    private ItemGraphBuffers? _itemGraph;
    private MemoryBuffer1D<float, Stride1D.Dense>? _userRowScratch;
    private readonly Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int> _gatherRows;
    private readonly Action<Index1D, ArrayView<int>, int, ArrayView<float>, ArrayView<float>, int, int> _addRows;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _userE0, _itemE0, _userFinal, _itemFinal, _userFinalGrad, _itemFinalGrad, _userGrad, _itemGrad;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _userM, _userV, _itemM, _itemV, _userA, _userB, _itemA, _itemB;
    private readonly List<MemoryBuffer> _owned = [];
    private BatchBuffers? _batch;
    private long _uploaded = -1;
    private BprBatch? _batchSource;
    private float[] _losses = [];
    private bool _finalGradDirty;

    private readonly Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, HopParameters> _hop;
    private readonly Action<Index1D, ArrayView<int>, ArrayView<int>, int> _mark;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _userActive, _itemActive;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, BprParameters> _margins;
    private readonly Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int> _scatterUsers;
    private readonly Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int> _scatterItems;
    private readonly Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float> _decayAndClear;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float> _adam;

    /// <summary>Creates the accelerator on <paramref name="device"/>, compiles the kernels and uploads the graph.</summary>
    public IlgpuBackend(IlgpuDevice device, SparseMatrix graph, SparseMatrix transposed, int dim, int layers)
    {
        _users = graph.Rows;
        _items = graph.Columns;
        _dim = dim;
        _layers = layers;
        (_context, _accelerator) = device.Open();
        try
        {
            Description = device.Description;
            _graphOffsets = Upload(graph.Offsets);
            _graphIndices = Upload(graph.Indices);
            _graphValues = Upload(graph.Values);
            _transposedOffsets = Upload(transposed.Offsets);
            _transposedIndices = Upload(transposed.Indices);
            _transposedValues = Upload(transposed.Values);
            MemoryBuffer1D<float, Stride1D.Dense> Block(int rows) => Allocate<float>(Math.Max(1L, (long)rows * dim));
            (_userE0, _itemE0, _userFinal, _itemFinal) = (Block(_users), Block(_items), Block(_users), Block(_items));
            (_userFinalGrad, _itemFinalGrad, _userGrad, _itemGrad) = (Block(_users), Block(_items), Block(_users), Block(_items));
            (_userM, _userV, _itemM, _itemV) = (Block(_users), Block(_users), Block(_items), Block(_items));
            (_userA, _itemA) = layers >= 2 ? (Block(_users), Block(_items)) : (Block(0), Block(0));
            (_userB, _itemB) = layers >= 3 ? (Block(_users), Block(_items)) : (Block(0), Block(0));
            _userActive = Allocate<int>(_users);
            _itemActive = Allocate<int>(_items);

            _hop = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, HopParameters>(IlgpuKernels.Hop);
            _mark = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, int>(IlgpuKernels.MarkRows);
            _margins = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, BprParameters>(IlgpuKernels.BprMargins);
            _scatterUsers = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>(IlgpuKernels.ScatterUsers);
            _scatterItems = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>(IlgpuKernels.ScatterItems);
            _decayAndClear = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(IlgpuKernels.DecayAndClearRows);
            _adam = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float>(IlgpuKernels.Adam);
            _gatherRows = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>(IlgpuKernels.GatherRows);
            _addRows = _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, int, ArrayView<float>, ArrayView<float>, int, int>(IlgpuKernels.AddRows);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public string Description { get; }

    private MemoryBuffer1D<T, Stride1D.Dense> Allocate<T>(long length) where T : unmanaged
    {
        var buffer = _accelerator.Allocate1D<T>(Math.Max(1, length));
        _owned.Add(buffer);
        buffer.MemSetToZero();
        return buffer;
    }

    private MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(T[] values) where T : unmanaged
    {
        var buffer = Allocate<T>(values.Length);
        if (values.Length > 0) buffer.View.SubView(0, values.Length).CopyFromCPU(_accelerator.DefaultStream, values);
        return buffer;
    }

    private void Write(MemoryBuffer1D<float, Stride1D.Dense> target, ReadOnlySpan<float> values)
    {
        if (values.Length > 0) target.View.SubView(0, values.Length).CopyFromCPU(_accelerator.DefaultStream, values);
    }

    private void Write(MemoryBuffer1D<int, Stride1D.Dense> target, ReadOnlySpan<int> values)
    {
        if (values.Length > 0) target.View.SubView(0, values.Length).CopyFromCPU(_accelerator.DefaultStream, values);
    }

    private void Read(MemoryBuffer1D<float, Stride1D.Dense> source, Span<float> values)
    {
        if (values.Length > 0) source.View.SubView(0, values.Length).CopyToCPU(_accelerator.DefaultStream, values);
    }

    /// <inheritdoc/>
    public void SetE0(ReadOnlySpan<float> users, ReadOnlySpan<float> items)
    {
        Write(_userE0, users);
        Write(_itemE0, items);
    }

    /// <inheritdoc/>
    public void GetE0(Span<float> users, Span<float> items)
    {
        Read(_userE0, users);
        Read(_itemE0, items);
    }

    /// <inheritdoc/>
    public void Forward()
    {
        Smooth(_userE0, _itemE0, _userFinal, _itemFinal, null, false);
        AddItemGraph(forward: true, null);
    }

    /// <inheritdoc/>
    public void ForwardForBatch(BprBatch batch)
    {
        var b = UploadBatch(batch);
        Smooth(_userE0, _itemE0, _userFinal, _itemFinal, b, false);
        AddItemGraph(forward: true, b);
    }

    /// <inheritdoc/>
    public void SetGraph(SparseMatrix graph, SparseMatrix transposed)
    {
        if (graph.Rows != _users || graph.Columns != _items || transposed.Rows != _items || transposed.Columns != _users)
            throw new ArgumentException($"the graph must stay {_users} x {_items}");
        Replace(ref _graphOffsets, graph.Offsets);
        Replace(ref _graphIndices, graph.Indices);
        Replace(ref _graphValues, graph.Values);
        Replace(ref _transposedOffsets, transposed.Offsets);
        Replace(ref _transposedIndices, transposed.Indices);
        Replace(ref _transposedValues, transposed.Values);
    }

    // Writes values into buffer, replacing it by a larger one when they do not fit (a pruned graph fits the full one's buffers).
    private void Replace<T>(ref MemoryBuffer1D<T, Stride1D.Dense> buffer, T[] values) where T : unmanaged
    {
        if (values.Length > buffer.Length)
        {
            _owned.Remove(buffer);
            buffer.Dispose();
            buffer = Allocate<T>(values.Length);
        }
        if (values.Length > 0) buffer.View.SubView(0, values.Length).CopyFromCPU(_accelerator.DefaultStream, values);
    }

    /// <inheritdoc/>
    public void SetItemGraph(SparseMatrix graph, SparseMatrix transposed, int layers)
    {
        if (graph.Rows != _items || graph.Columns != _items || transposed.Rows != _items || transposed.Columns != _items)
            throw new ArgumentException($"the item graph must be {_items} x {_items}");
        ArgumentOutOfRangeException.ThrowIfNegative(layers);
        _itemGraph = new ItemGraphBuffers(Upload(graph.Offsets), Upload(graph.Indices), Upload(graph.Values),
            Upload(transposed.Offsets), Upload(transposed.Indices), Upload(transposed.Values), layers,
            layers >= 2 ? Allocate<float>((long)_items * _dim) : null, layers >= 3 ? Allocate<float>((long)_items * _dim) : null,
            layers >= 2 ? Allocate<float>((long)_items * _dim) : null);
    }

    private sealed record ItemGraphBuffers(
        MemoryBuffer1D<int, Stride1D.Dense> Offsets, MemoryBuffer1D<int, Stride1D.Dense> Indices, MemoryBuffer1D<float, Stride1D.Dense> Values,
        MemoryBuffer1D<int, Stride1D.Dense> TransposedOffsets, MemoryBuffer1D<int, Stride1D.Dense> TransposedIndices, MemoryBuffer1D<float, Stride1D.Dense> TransposedValues,
        int Layers, MemoryBuffer1D<float, Stride1D.Dense>? HopA, MemoryBuffer1D<float, Stride1D.Dense>? HopB, MemoryBuffer1D<float, Stride1D.Dense>? Junk);

    // As ManagedBackend.AddItemGraph: forward F_items += S^L' E0_items (the last hop at the batch's
    // item rows only when a batch is given); backward dE0_items += (S^T)^L' dF_items, the first hop
    // gathering only the batch's (marked) item rows.
    private void AddItemGraph(bool forward, BatchBuffers? rows)
    {
        var g = _itemGraph;
        if (g is null) return;
        var (offsets, indices, values) = forward ? (g.Offsets, g.Indices, g.Values) : (g.TransposedOffsets, g.TransposedIndices, g.TransposedValues);
        var input = forward ? _itemE0 : _itemFinalGrad;
        var target = forward ? _itemFinal : _itemGrad;
        if (g.Layers == 0)
        {
            if (rows is null) _addRows(_items * _dim, _graphOffsets.View, 0, input.View, target.View, _dim, 1);
            else if (rows.ItemRowCount > 0) _addRows(rows.ItemRowCount * _dim, rows.ItemRows.View, 1, input.View, target.View, _dim, 1);
            return;
        }
        var sparse = !forward && rows is not null;
        if (sparse) Mark(rows!, 1);
        var current = input;
        for (var layer = 0; layer < g.Layers; layer++)
        {
            var last = layer == g.Layers - 1;
            var next = last ? target : layer % 2 == 0 ? g.HopA! : g.HopB!;
            var sum = last ? target : g.Junk!;
            var restricted = last && forward && rows is not null;
            var parameters = new HopParameters(_dim, last ? 0 : 1, 1f, restricted ? 1 : 0, sparse && layer == 0 ? 1 : 0);
            var count = restricted ? rows!.ItemRowCount : _items;
            if (count > 0)
                _hop(count * _dim, offsets.View, indices.View, values.View, current.View, sum.View, sum.View, next.View,
                    restricted ? rows!.ItemRows.View : offsets.View, _itemActive.View, parameters);
            current = next;
        }
        if (sparse) Mark(rows!, 0);
    }

    /// <inheritdoc/>
    public void GetUserRows(BprBatch batch, Span<float> rows)
    {
        var count = batch.UserRowCount * _dim;
        if (count == 0) return;
        var b = BatchOf(batch);
        _userRowScratch ??= Allocate<float>((long)_users * _dim);
        _gatherRows(count, b.UserRows.View, _userFinal.View, _userRowScratch.View, _dim);
        _userRowScratch.View.SubView(0, count).CopyToCPU(_accelerator.DefaultStream, rows[..count]);
    }

    /// <inheritdoc/>
    public void AddUserGradient(BprBatch batch, ReadOnlySpan<float> rows)
    {
        var count = batch.UserRowCount * _dim;
        if (count == 0) return;
        var b = BatchOf(batch);
        _userRowScratch ??= Allocate<float>((long)_users * _dim);
        _userRowScratch.View.SubView(0, count).CopyFromCPU(_accelerator.DefaultStream, rows[..count]);
        _addRows(count, b.UserRows.View, 1, _userRowScratch.View, _userFinalGrad.View, _dim, 0);
    }

    private BatchBuffers BatchOf(BprBatch batch) =>
        _batch is not null && ReferenceEquals(_batchSource, batch) && _uploaded == batch.Version ? _batch : UploadBatch(batch);

    /// <inheritdoc/>
    public void GetFinal(Span<float> users, Span<float> items)
    {
        Read(_userFinal, users);
        Read(_itemFinal, items);
    }

    /// <inheritdoc/>
    public double Bpr(BprBatch batch, double l2)
    {
        if (_finalGradDirty)
        {
            _userFinalGrad.MemSetToZero();
            _itemFinalGrad.MemSetToZero();
        }
        // ForwardForBatch has uploaded this batch already when it ran just before.
        var b = BatchOf(batch);
        var triples = batch.Triples;
        _margins(triples, _userFinal.View, _itemFinal.View, _userE0.View, _itemE0.View, b.Users.View, b.Positives.View, b.Negatives.View, b.G.View, b.Loss.View,
            new BprParameters(batch.PerPositive, _dim, (float)(1.0 / triples), (float)(0.5 * l2)));
        if (batch.UserRowCount > 0)
            _scatterUsers(batch.UserRowCount * _dim, b.UserRows.View, b.UserOffsets.View, b.UserEntries.View, b.G.View, b.Positives.View, b.Negatives.View, _itemFinal.View, _userFinalGrad.View, _dim, batch.PerPositive);
        if (batch.ItemRowCount > 0)
            _scatterItems(batch.ItemRowCount * _dim, b.ItemRows.View, b.ItemOffsets.View, b.ItemEntries.View, b.G.View, b.Users.View, _userFinal.View, _itemFinalGrad.View, _dim, batch.PerPositive);
        _finalGradDirty = true;
        // The per-triple losses come back (the one read per step, which also waits for the kernels)
        // and are summed here in triple order, so the reported loss is deterministic too.
        if (_losses.Length < triples) _losses = new float[triples];
        b.Loss.View.SubView(0, triples).CopyToCPU(_accelerator.DefaultStream, _losses.AsSpan(0, triples));
        double total = 0;
        for (var t = 0; t < triples; t++) total += _losses[t];
        return total / triples;
    }

    /// <inheritdoc/>
    public void GetFinalGradient(Span<float> users, Span<float> items)
    {
        Read(_userFinalGrad, users);
        Read(_itemFinalGrad, items);
    }

    /// <inheritdoc/>
    public void Backward(BprBatch batch, double l2)
    {
        var b = _batch ?? throw new InvalidOperationException("Backward needs the batch of a preceding Bpr.");
        Smooth(_userFinalGrad, _itemFinalGrad, _userGrad, _itemGrad, null, true);
        AddItemGraph(forward: false, b);
        var decay = (float)(l2 / batch.Triples);
        if (batch.UserRowCount > 0)
            _decayAndClear(batch.UserRowCount * _dim, b.UserRows.View, b.UserOffsets.View, _userE0.View, _userGrad.View, _userFinalGrad.View, _dim, decay);
        if (batch.ItemRowCount > 0)
            _decayAndClear(batch.ItemRowCount * _dim, b.ItemRows.View, b.ItemOffsets.View, _itemE0.View, _itemGrad.View, _itemFinalGrad.View, _dim, decay);
        _finalGradDirty = false;
    }

    /// <inheritdoc/>
    public void GetGradient(Span<float> users, Span<float> items)
    {
        Read(_userGrad, users);
        Read(_itemGrad, items);
    }

    /// <inheritdoc/>
    public void SetGradient(ReadOnlySpan<float> users, ReadOnlySpan<float> items)
    {
        Write(_userGrad, users);
        Write(_itemGrad, items);
    }

    /// <inheritdoc/>
    public void Adam(float stepSize, float root2)
    {
        if (_users > 0) _adam(_users * _dim, _userE0.View, _userGrad.View, _userM.View, _userV.View, stepSize, root2);
        if (_items > 0) _adam(_items * _dim, _itemE0.View, _itemGrad.View, _itemM.View, _itemV.View, stepSize, root2);
    }

    /// <summary>Waits for queued kernels (timings).</summary>
    public void Synchronize() => _accelerator.Synchronize();

    /// <inheritdoc/>
    public void Dispose()
    {
        _batch?.Dispose();
        foreach (var buffer in _owned) buffer.Dispose();
        _owned.Clear();
        _accelerator.Dispose();
        _context.Dispose();
    }

    // As ManagedBackend.Smooth: fused accumulation; the last hop only on the batch's rows when
    // lastHopRows is given; the first hop gathering only the batch's rows when the input is sparse
    // (dF), which the active flags of the uploaded batch mark.
    private void Smooth(MemoryBuffer1D<float, Stride1D.Dense> inUsers, MemoryBuffer1D<float, Stride1D.Dense> inItems,
        MemoryBuffer1D<float, Stride1D.Dense> outUsers, MemoryBuffer1D<float, Stride1D.Dense> outItems, BatchBuffers? lastHopRows, bool sparseInput)
    {
        if (_layers == 0)
        {
            inUsers.View.CopyTo(outUsers.View);
            inItems.View.CopyTo(outItems.View);
            return;
        }
        var b = _batch!;
        if (sparseInput) Mark(b, 1);
        var (currentUsers, currentItems) = (inUsers, inItems);
        for (var layer = 0; layer < _layers; layer++)
        {
            var last = layer == _layers - 1;
            // The next rows are not written on the last hop; any buffer of the right kind stands in.
            var nextUsers = last ? outUsers : layer % 2 == 0 ? _userA : _userB;
            var nextItems = last ? outItems : layer % 2 == 0 ? _itemA : _itemB;
            var baseUsers = layer == 0 ? inUsers : outUsers;
            var baseItems = layer == 0 ? inItems : outItems;
            var restricted = last && lastHopRows is not null;
            var parameters = new HopParameters(_dim, last ? 0 : 1, last ? 1f / (_layers + 1) : 1f, restricted ? 1 : 0, layer == 0 && sparseInput ? 1 : 0);
            var userRows = restricted ? lastHopRows!.UserRowCount : _users;
            var itemRows = restricted ? lastHopRows!.ItemRowCount : _items;
            var userList = restricted ? lastHopRows!.UserRows.View : _graphOffsets.View;
            var itemList = restricted ? lastHopRows!.ItemRows.View : _graphOffsets.View;
            if (userRows > 0)
                _hop(userRows * _dim, _graphOffsets.View, _graphIndices.View, _graphValues.View, currentItems.View, baseUsers.View, outUsers.View, nextUsers.View,
                    userList, _itemActive.View, parameters);
            if (itemRows > 0)
                _hop(itemRows * _dim, _transposedOffsets.View, _transposedIndices.View, _transposedValues.View, currentUsers.View, baseItems.View, outItems.View, nextItems.View,
                    itemList, _userActive.View, parameters);
            (currentUsers, currentItems) = (nextUsers, nextItems);
        }
        if (sparseInput) Mark(b, 0);
    }

    private void Mark(BatchBuffers b, int value)
    {
        if (b.UserRowCount > 0) _mark(b.UserRowCount, b.UserRows.View, _userActive.View, value);
        if (b.ItemRowCount > 0) _mark(b.ItemRowCount, b.ItemRows.View, _itemActive.View, value);
    }

    private BatchBuffers UploadBatch(BprBatch batch)
    {
        // Device buffers are sized for one BprBatch object (its capacity and row bounds); another object gets its own.
        if (_batch is null || !ReferenceEquals(_batchSource, batch))
        {
            _batch?.Dispose();
            _batch = new BatchBuffers(_accelerator, batch);
            _batchSource = batch;
        }
        var b = _batch;
        var triples = batch.Triples;
        b.UserRowCount = batch.UserRowCount;
        b.ItemRowCount = batch.ItemRowCount;
        _uploaded = batch.Version;
        Write(b.Users, batch.Users.AsSpan(0, batch.Count));
        Write(b.Positives, batch.Positives.AsSpan(0, batch.Count));
        Write(b.Negatives, batch.Negatives.AsSpan(0, triples));
        Write(b.UserRows, batch.UserRows.AsSpan(0, batch.UserRowCount));
        Write(b.UserOffsets, batch.UserOffsets.AsSpan(0, batch.UserRowCount + 1));
        Write(b.UserEntries, batch.UserEntries.AsSpan(0, triples));
        Write(b.ItemRows, batch.ItemRows.AsSpan(0, batch.ItemRowCount));
        Write(b.ItemOffsets, batch.ItemOffsets.AsSpan(0, batch.ItemRowCount + 1));
        Write(b.ItemEntries, batch.ItemEntries.AsSpan(0, 2 * triples));
        return b;
    }

    /// <summary>Device copies of one batch, allocated for the largest batch and reused.</summary>
    private sealed class BatchBuffers : IDisposable
    {
        public BatchBuffers(Accelerator accelerator, BprBatch batch)
        {
            Capacity = batch.Capacity * batch.PerPositive;
            MemoryBuffer1D<int, Stride1D.Dense> Ints(int length) => accelerator.Allocate1D<int>(Math.Max(1, length));
            Users = Ints(batch.Capacity);
            Positives = Ints(batch.Capacity);
            Negatives = Ints(Capacity);
            UserRows = Ints(batch.UserRows.Length);
            UserOffsets = Ints(batch.UserOffsets.Length);
            UserEntries = Ints(batch.UserEntries.Length);
            ItemRows = Ints(batch.ItemRows.Length);
            ItemOffsets = Ints(batch.ItemOffsets.Length);
            ItemEntries = Ints(batch.ItemEntries.Length);
            G = accelerator.Allocate1D<float>(Math.Max(1, Capacity));
            Loss = accelerator.Allocate1D<float>(Math.Max(1, Capacity));
        }

        public int Capacity { get; }
        public int UserRowCount { get; set; }
        public int ItemRowCount { get; set; }
        public MemoryBuffer1D<int, Stride1D.Dense> Users { get; }
        public MemoryBuffer1D<int, Stride1D.Dense> Positives { get; }
        public MemoryBuffer1D<int, Stride1D.Dense> Negatives { get; }
        public MemoryBuffer1D<int, Stride1D.Dense> UserRows { get; }
        public MemoryBuffer1D<int, Stride1D.Dense> UserOffsets { get; }
        public MemoryBuffer1D<int, Stride1D.Dense> UserEntries { get; }
        public MemoryBuffer1D<int, Stride1D.Dense> ItemRows { get; }
        public MemoryBuffer1D<int, Stride1D.Dense> ItemOffsets { get; }
        public MemoryBuffer1D<int, Stride1D.Dense> ItemEntries { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> G { get; }
        public MemoryBuffer1D<float, Stride1D.Dense> Loss { get; }

        public void Dispose()
        {
            foreach (var buffer in new MemoryBuffer[] { Users, Positives, Negatives, UserRows, UserOffsets, UserEntries, ItemRows, ItemOffsets, ItemEntries, G, Loss })
                buffer.Dispose();
        }
    }
}

/// <summary>Scalar arguments of the propagation kernel.</summary>
/// <param name="Dim">Embedding width.</param>
/// <param name="WriteNext">1: write the hop's rows for the next hop (not on the last hop).</param>
/// <param name="Scale">1, or 1/(L+1) on the last hop.</param>
/// <param name="UseRowList">1: thread group r works on row rows[r] (the batch's rows), else on row r.</param>
/// <param name="SparseInput">1: skip neighbours whose active flag is 0 (their input rows are zero).</param>
internal readonly record struct HopParameters(int Dim, int WriteNext, float Scale, int UseRowList, int SparseInput);

/// <summary>Scalar arguments of the BPR margin kernel (kernels take at most 14 arguments).</summary>
/// <param name="PerPositive">Negatives per positive.</param>
/// <param name="Dim">Embedding width.</param>
/// <param name="Weight">1 / triples.</param>
/// <param name="HalfL2">l2 / 2 (the L2 term of the reported loss).</param>
internal readonly record struct BprParameters(int PerPositive, int Dim, float Weight, float HalfL2);

/// <summary>
/// The ILGPU kernels. Each is a static method over array views; plain loops, one thread per output
/// element, written so that every output is produced by exactly one thread in a fixed order.
/// </summary>
internal static class IlgpuKernels
{
    /// <summary>
    /// One propagation hop for one side, thread = (row, column): acc = sum over the row's
    /// non-zeros of value * input[neighbour, column] in CSR order (skipping inactive neighbours
    /// when the input is sparse); next = acc (when asked); sum = (base + acc) * scale. Layer
    /// accumulation and the final mean are fused in. With a row list, only those rows.
    /// </summary>
    public static void Hop(Index1D index, ArrayView<int> offsets, ArrayView<int> indices, ArrayView<float> values, ArrayView<float> input,
        ArrayView<float> baseRows, ArrayView<float> sum, ArrayView<float> next, ArrayView<int> rowList, ArrayView<int> active, HopParameters p)
    {
        var dim = p.Dim;
        var r = index / dim;
        var column = index - r * dim;
        int row = p.UseRowList != 0 ? rowList[r] : (int)r;
        var acc = 0f;
        var end = offsets[row + 1];
        for (var q = offsets[row]; q < end; q++)
        {
            var neighbour = indices[q];
            if (p.SparseInput != 0 && active[neighbour] == 0) continue;
            acc += values[q] * input[neighbour * dim + column];
        }
        var at = row * dim + column;
        if (p.WriteNext != 0) next[at] = acc;
        sum[at] = (baseRows[at] + acc) * p.Scale;
    }

    /// <summary>target[r] = source[rows[r]] row by row, thread = (r, column): gathers rows into a packed block.</summary>
    public static void GatherRows(Index1D index, ArrayView<int> rows, ArrayView<float> source, ArrayView<float> target, int dim)
    {
        var r = index / dim;
        target[index] = source[rows[r] * dim + index - r * dim];
    }

    /// <summary>
    /// Row-wise add, thread = (r, column), row = rows[r] (or r without a row list). Same layout
    /// (1): target[row] += source[row]; packed (0): target[row] += source[r] (a gathered block).
    /// Rows are distinct, so no two threads write one element.
    /// </summary>
    public static void AddRows(Index1D index, ArrayView<int> rows, int useRowList, ArrayView<float> source, ArrayView<float> target, int dim, int sameLayout)
    {
        var r = index / dim;
        var column = index - r * dim;
        var row = useRowList != 0 ? rows[r] : (int)r;
        target[row * dim + column] += source[sameLayout != 0 ? row * dim + column : index];
    }

    /// <summary>flags[rows[r]] = value: marks (1) or unmarks (0) the batch's rows.</summary>
    public static void MarkRows(Index1D r, ArrayView<int> rows, ArrayView<int> flags, int value) => flags[rows[r]] = value;

    /// <summary>
    /// BPR per triple t: x = F_u.F_i - F_u.F_j, g = -(1 - sigmoid(x)) * weight, and the triple's
    /// loss softplus(-x) + l2 / 2 * (|E0_u|^2 + |E0_i|^2 + |E0_j|^2).
    /// </summary>
    public static void BprMargins(Index1D t, ArrayView<float> userFinal, ArrayView<float> itemFinal, ArrayView<float> userE0, ArrayView<float> itemE0,
        ArrayView<int> users, ArrayView<int> positives, ArrayView<int> negatives, ArrayView<float> g, ArrayView<float> loss, BprParameters p)
    {
        var dim = p.Dim;
        var user = users[t / p.PerPositive] * dim;
        var positive = positives[t / p.PerPositive] * dim;
        var negative = negatives[t] * dim;
        float toPositive = 0, toNegative = 0, norms = 0;
        for (var c = 0; c < dim; c++)
        {
            var fu = userFinal[user + c];
            toPositive += fu * itemFinal[positive + c];
            toNegative += fu * itemFinal[negative + c];
            norms += userE0[user + c] * userE0[user + c] + itemE0[positive + c] * itemE0[positive + c] + itemE0[negative + c] * itemE0[negative + c];
        }
        var x = toPositive - toNegative;
        g[t] = -(1f / (1f + XMath.Exp(x))) * p.Weight;
        var softplus = x > 0 ? XMath.Log(1f + XMath.Exp(-x)) : -x + XMath.Log(1f + XMath.Exp(x));
        loss[t] = softplus + p.HalfL2 * norms;
    }

    /// <summary>
    /// dF of the batch's users, thread = (distinct user r, column): the sum over the user's
    /// triples, in triple order, of g_t (F_i - F_j); written, not added (the row is whole).
    /// </summary>
    public static void ScatterUsers(Index1D index, ArrayView<int> rows, ArrayView<int> offsets, ArrayView<int> entries, ArrayView<float> g,
        ArrayView<int> positives, ArrayView<int> negatives, ArrayView<float> itemFinal, ArrayView<float> userFinalGrad, int dim, int perPositive)
    {
        var r = index / dim;
        var column = index - r * dim;
        var acc = 0f;
        for (var e = offsets[r]; e < offsets[r + 1]; e++)
        {
            var t = entries[e];
            var gt = g[t];
            acc += gt * itemFinal[positives[t / perPositive] * dim + column];
            acc += -gt * itemFinal[negatives[t] * dim + column];
        }
        userFinalGrad[rows[r] * dim + column] = acc;
    }

    /// <summary>
    /// dF of the batch's items, thread = (distinct item r, column): the sum over the item's
    /// occurrences, in order, of +g_t F_u (as a positive) or -g_t F_u (as a negative).
    /// </summary>
    public static void ScatterItems(Index1D index, ArrayView<int> rows, ArrayView<int> offsets, ArrayView<int> entries, ArrayView<float> g,
        ArrayView<int> users, ArrayView<float> userFinal, ArrayView<float> itemFinalGrad, int dim, int perPositive)
    {
        var r = index / dim;
        var column = index - r * dim;
        var acc = 0f;
        for (var e = offsets[r]; e < offsets[r + 1]; e++)
        {
            var entry = entries[e];
            var t = entry >> 1;
            var gt = (entry & 1) == 0 ? g[t] : -g[t];
            acc += gt * userFinal[users[t / perPositive] * dim + column];
        }
        itemFinalGrad[rows[r] * dim + column] = acc;
    }

    /// <summary>
    /// For each of the batch's rows, thread = (distinct row r, column): the L2 gradient
    /// grad += decay * occurrences * E0, and dF's row back to zero for the next step.
    /// </summary>
    public static void DecayAndClearRows(Index1D index, ArrayView<int> rows, ArrayView<int> offsets, ArrayView<float> e0, ArrayView<float> grad,
        ArrayView<float> finalGrad, int dim, float decay)
    {
        var r = index / dim;
        var at = rows[r] * dim + index - r * dim;
        grad[at] += decay * (offsets[r + 1] - offsets[r]) * e0[at];
        finalGrad[at] = 0;
    }

    /// <summary>Adam on one parameter (torch.optim.Adam; bias corrections folded into stepSize and root2).</summary>
    public static void Adam(Index1D x, ArrayView<float> parameters, ArrayView<float> gradient, ArrayView<float> m, ArrayView<float> v, float stepSize, float root2)
    {
        const float b1 = AdamConstants.Beta1, b2 = AdamConstants.Beta2;
        const float c1 = (float)(1 - (double)b1), c2 = (float)(1 - (double)b2);
        var g = gradient[x];
        var mx = b1 * m[x] + c1 * g;
        var vx = b2 * v[x] + c2 * g * g;
        m[x] = mx;
        v[x] = vx;
        parameters[x] -= stepSize * mx / (XMath.Sqrt(vx) / root2 + AdamConstants.Epsilon);
    }
}
