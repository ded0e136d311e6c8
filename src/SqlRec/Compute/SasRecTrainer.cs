using System.Numerics.Tensors;

namespace SqlRec.Compute;

/// <summary>SASRec's training settings.</summary>
/// <param name="Shape">The network's shape.</param>
/// <param name="Dropout">Dropout rate on the embedded input, the attention output and the feed-forward output.</param>
/// <param name="LearningRate">Adam's learning rate.</param>
/// <param name="L2">L2 weight on every parameter (added to the gradient, as Adam's weight decay).</param>
/// <param name="Negatives">Negatives sampled per position: 1 = binary cross-entropy as in the paper; more = sampled softmax.</param>
/// <param name="Batch">Sequences per Adam step.</param>
/// <param name="Seed">Seed of the initialisation, the order, the negatives and the dropout.</param>
/// <param name="UseIdEmbedding">Give each item a free ID embedding.</param>
internal sealed record SasRecSettings(SasRecShape Shape, float Dropout, double LearningRate, double L2, int Negatives, int Batch, int Seed, bool UseIdEmbedding);

/// <summary>
/// Trains SASRec on users' item sequences with Adam. Each epoch visits every user with at least
/// two items once, in a seeded shuffle: the input is the newest <c>MaxLength</c> items but the
/// last, and at every position the next item is the positive, scored against sampled negatives
/// (items the user never had) by binary cross-entropy (one negative, the paper's loss) or a
/// sampled softmax (several). Item vectors are an ID embedding, a frozen text vector through a
/// trained linear adapter (<c>T_i Wa + ba</c>), or their sum. A batch is cut into fixed chunks of
/// sequences that run in parallel, each into its own gradient buffers, summed in chunk order: the
/// result depends on the seed alone, not on the number of threads.
/// </summary>
internal sealed class SasRecTrainer
{
    private const int ChunkSequences = 8;
    private const double Beta1 = 0.9, Beta2 = 0.98, AdamEpsilon = 1e-8;

    private readonly SasRecSettings _settings;
    private readonly int _items, _dim, _textDim;
    private readonly float[]? _text;
    private readonly bool[]? _hasText;
    private readonly int[][] _sequences;
    private readonly int[][] _distinct;
    private readonly int[] _trainable;
    private readonly float[] _theta, _gradient, _m, _v;
    private readonly int _embeddingOffset, _adapterOffset, _adapterBiasOffset;
    private readonly float[] _itemVectors;
    private readonly float[] _dItems;
    private readonly bool[] _touched;
    private readonly List<int> _touchedList = [];
    private readonly Chunk[] _chunks;
    private long _step;

    private sealed class Chunk
    {
        public required SasRecWorkspace Workspace;
        public required float[] DNetwork;
        public required float[] DItems;
        public required bool[] Touched;
        public readonly List<int> TouchedList = [];
        public required float[] DOutput;
        public required int[] Negatives;
        public required float[] Scores;
        public double Loss;
    }

    /// <summary>Builds the trainer and initialises the parameters.</summary>
    /// <param name="settings">The settings.</param>
    /// <param name="items">Number of items.</param>
    /// <param name="sequences">Each user's training items, oldest first (any length; users with fewer than 2 items give no training positions).</param>
    /// <param name="text">Frozen text vectors, items x <paramref name="textDim"/>, or null for ID embeddings only.</param>
    /// <param name="hasText">Which items have a text vector (rows of the others are ignored).</param>
    /// <param name="textDim">Width of the text vectors.</param>
    public SasRecTrainer(SasRecSettings settings, int items, int[][] sequences, float[]? text, bool[]? hasText, int textDim)
    {
        _settings = settings;
        _items = items;
        _dim = settings.Shape.Dim;
        _text = text;
        _hasText = hasText;
        _textDim = text is null ? 0 : textDim;
        _sequences = sequences;
        _distinct = [.. sequences.Select(s => s.Distinct().Order().ToArray())];
        _trainable = [.. Enumerable.Range(0, sequences.Length).Where(u => sequences[u].Length >= 2)];
        var shape = settings.Shape;
        _embeddingOffset = shape.Count;
        _adapterOffset = _embeddingOffset + (settings.UseIdEmbedding ? items * _dim : 0);
        _adapterBiasOffset = _adapterOffset + _textDim * _dim;
        var count = _adapterBiasOffset + (text is null ? 0 : _dim);
        _theta = new float[count];
        _gradient = new float[count];
        _m = new float[count];
        _v = new float[count];
        var random = new SplitMix64((ulong)(uint)settings.Seed * 0x9E3779B97F4A7C15UL + 1);
        shape.Initialize(_theta, ref random);
        if (settings.UseIdEmbedding) SasRecShape.Gaussian(_theta.AsSpan(_embeddingOffset, items * _dim), MathF.Sqrt(2f / (items + _dim)), ref random);
        if (text is not null) SasRecShape.Gaussian(_theta.AsSpan(_adapterOffset, _textDim * _dim), MathF.Sqrt(2f / (_textDim + _dim)), ref random);
        _itemVectors = new float[items * _dim];
        _dItems = new float[items * _dim];
        _touched = new bool[items];
        var chunks = (settings.Batch + ChunkSequences - 1) / ChunkSequences;
        _chunks = [.. Enumerable.Range(0, chunks).Select(_ => new Chunk
        {
            Workspace = new SasRecWorkspace(shape),
            DNetwork = new float[shape.Count],
            DItems = new float[items * _dim],
            Touched = new bool[items],
            DOutput = new float[shape.MaxLength * _dim],
            Negatives = new int[Math.Max(1, settings.Negatives)],
            Scores = new float[Math.Max(1, settings.Negatives) + 1],
        })];
        UpdateItemVectors();
    }

    /// <summary>Users that give training positions (at least two items).</summary>
    public int TrainingSequences => _trainable.Length;

    /// <summary>Positions trained per epoch (each an input item followed by a target).</summary>
    public long PositionsPerEpoch => _trainable.Sum(u => (long)Math.Min(_sequences[u].Length - 1, _settings.Shape.MaxLength));

    /// <summary>The network's parameters (<see cref="SasRecShape.Count"/> floats), live.</summary>
    public ReadOnlySpan<float> Network => _theta.AsSpan(0, _settings.Shape.Count);

    /// <summary>The current item vectors (items x dim), live.</summary>
    public float[] ItemVectors => _itemVectors;

    /// <summary>All trained parameters, live (tests).</summary>
    internal float[] Parameters => _theta;

    /// <summary>
    /// One epoch; returns the mean loss per position. <paramref name="onBatch"/> is called after each
    /// batch with (batches done, batches in all).
    /// </summary>
    public double Epoch(int epoch, Action<int, int>? onBatch = null)
    {
        var order = (int[])_trainable.Clone();
        var shuffle = new SplitMix64(((ulong)(uint)_settings.Seed << 20) ^ ((ulong)epoch * 0xD1B54A32D192ED03UL));
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = shuffle.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var batches = (order.Length + _settings.Batch - 1) / _settings.Batch;
        double loss = 0;
        long positions = 0;
        for (var b = 0; b < batches; b++)
        {
            var batch = order.AsSpan(b * _settings.Batch, Math.Min(_settings.Batch, order.Length - b * _settings.Batch)).ToArray();
            var (batchLoss, batchPositions) = Step(batch, epoch);
            loss += batchLoss;
            positions += batchPositions;
            onBatch?.Invoke(b + 1, batches);
        }
        return positions == 0 ? 0 : loss / positions;
    }

    /// <summary>One Adam step on a batch of users; returns the summed loss and the number of positions.</summary>
    internal (double Loss, long Positions) Step(int[] batch, int epoch)
    {
        var maxLength = _settings.Shape.MaxLength;
        long positions = 0;
        foreach (var u in batch) positions += Math.Min(_sequences[u].Length - 1, maxLength);
        if (positions == 0) return (0, 0);
        var scale = 1f / positions;
        var chunkCount = (batch.Length + ChunkSequences - 1) / ChunkSequences;
        Parallel.For(0, chunkCount, Parallelism.Options, c =>
        {
            var chunk = _chunks[c];
            chunk.Loss = 0;
            for (var i = c * ChunkSequences; i < Math.Min(batch.Length, (c + 1) * ChunkSequences); i++)
                chunk.Loss += Sequence(batch[i], epoch, scale, chunk);
        });
        // Sums in chunk order, whatever thread ran each chunk.
        var network = _settings.Shape.Count;
        Array.Clear(_gradient);
        double loss = 0;
        for (var c = 0; c < chunkCount; c++)
        {
            var chunk = _chunks[c];
            loss += chunk.Loss;
            TensorPrimitives.Add(_gradient.AsSpan(0, network), chunk.DNetwork, _gradient.AsSpan(0, network));
            Array.Clear(chunk.DNetwork);
            foreach (var item in chunk.TouchedList)
            {
                if (!_touched[item])
                {
                    _touched[item] = true;
                    _touchedList.Add(item);
                }
                var row = _dItems.AsSpan(item * _dim, _dim);
                var source = chunk.DItems.AsSpan(item * _dim, _dim);
                TensorPrimitives.Add(row, source, row);
                source.Clear();
                chunk.Touched[item] = false;
            }
            chunk.TouchedList.Clear();
        }
        // Item vectors' gradients to the ID embeddings and the text adapter.
        foreach (var item in _touchedList)
        {
            var dRow = _dItems.AsSpan(item * _dim, _dim);
            if (_settings.UseIdEmbedding) dRow.CopyTo(_gradient.AsSpan(_embeddingOffset + item * _dim, _dim));
            if (_text is not null && _hasText![item])
            {
                var bias = _gradient.AsSpan(_adapterBiasOffset, _dim);
                TensorPrimitives.Add(bias, dRow, bias);
                for (var k = 0; k < _textDim; k++)
                {
                    var t = _text[(long)item * _textDim + k];
                    if (t == 0) continue;
                    var g = _gradient.AsSpan(_adapterOffset + k * _dim, _dim);
                    TensorPrimitives.MultiplyAdd(dRow, t, g, g);
                }
            }
            dRow.Clear();
            _touched[item] = false;
        }
        _touchedList.Clear();
        Adam();
        UpdateItemVectors();
        return (loss, positions);
    }

    /// <summary>Forward and backward of one user's sequence into the chunk's buffers; returns its summed loss.</summary>
    private double Sequence(int user, int epoch, float scale, Chunk chunk)
    {
        var sequence = _sequences[user];
        var maxLength = _settings.Shape.MaxLength;
        var m = Math.Min(sequence.Length - 1, maxLength);
        var start = sequence.Length - 1 - m;
        var input = sequence.AsSpan(start, m);
        var random = new SplitMix64(((ulong)(uint)_settings.Seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)epoch << 32) ^ (ulong)(uint)user ^ 0x5851F42D4C957F2DUL);
        var workspace = chunk.Workspace;
        SasRecNetwork.Forward(input, _itemVectors, _theta, workspace, _settings.Dropout, ref random);
        var d = _dim;
        var dOutput = chunk.DOutput.AsSpan(0, m * d);
        dOutput.Clear();
        double loss = 0;
        var negatives = chunk.Negatives;
        var own = _distinct[user];
        for (var t = 0; t < m; t++)
        {
            var h = workspace.Output.AsSpan(t * d, d);
            var target = sequence[start + t + 1];
            for (var n = 0; n < negatives.Length; n++) negatives[n] = SampleNegative(own, ref random);
            var dh = dOutput.Slice(t * d, d);
            var positive = TensorPrimitives.Dot(h, _itemVectors.AsSpan(target * d, d));
            if (negatives.Length == 1)
            {
                var negative = TensorPrimitives.Dot(h, _itemVectors.AsSpan(negatives[0] * d, d));
                loss += Softplus(-positive) + Softplus(negative);
                AddScoreGradient(chunk, h, dh, target, (Sigmoid(positive) - 1) * scale);
                AddScoreGradient(chunk, h, dh, negatives[0], Sigmoid(negative) * scale);
            }
            else
            {
                var scores = chunk.Scores.AsSpan(0, negatives.Length + 1);
                scores[0] = positive;
                for (var n = 0; n < negatives.Length; n++) scores[n + 1] = TensorPrimitives.Dot(h, _itemVectors.AsSpan(negatives[n] * d, d));
                var max = TensorPrimitives.Max(scores);
                double sum = 0;
                for (var j = 0; j < scores.Length; j++) sum += Math.Exp(scores[j] - max);
                loss += max + Math.Log(sum) - positive;
                for (var j = 0; j < scores.Length; j++)
                {
                    var p = (float)(Math.Exp(scores[j] - max) / sum);
                    AddScoreGradient(chunk, h, dh, j == 0 ? target : negatives[j - 1], (j == 0 ? p - 1 : p) * scale);
                }
            }
        }
        SasRecNetwork.Backward(_theta, workspace, dOutput, chunk.DNetwork);
        for (var t = 0; t < m; t++) AddItemGradient(chunk, input[t], workspace.DX.AsSpan(t * d, d), 1);
        return loss;
    }

    /// <summary>A score s = h . v_item with dLoss/ds = g: dh += g v_item, dv_item += g h.</summary>
    private void AddScoreGradient(Chunk chunk, ReadOnlySpan<float> h, Span<float> dh, int item, float g)
    {
        TensorPrimitives.MultiplyAdd(_itemVectors.AsSpan(item * _dim, _dim), g, dh, dh);
        AddItemGradient(chunk, item, h, g);
    }

    private void AddItemGradient(Chunk chunk, int item, ReadOnlySpan<float> gradient, float factor)
    {
        if (!chunk.Touched[item])
        {
            chunk.Touched[item] = true;
            chunk.TouchedList.Add(item);
        }
        var row = chunk.DItems.AsSpan(item * _dim, _dim);
        TensorPrimitives.MultiplyAdd(gradient, factor, row, row);
    }

    /// <summary>A uniformly drawn item the user never had (the paper's sampler); the data is checked to leave one.</summary>
    private int SampleNegative(int[] own, ref SplitMix64 random)
    {
        while (true)
        {
            var item = random.NextInt(_items);
            if (Array.BinarySearch(own, item) < 0) return item;
        }
    }

    private static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    private static double Softplus(float x) => x > 20 ? x : Math.Log(1 + Math.Exp(x));

    private void Adam()
    {
        _step++;
        var lr = _settings.LearningRate;
        var l2 = (float)_settings.L2;
        var correction1 = 1 - Math.Pow(Beta1, _step);
        var correction2 = 1 - Math.Pow(Beta2, _step);
        var stepSize = (float)(lr * Math.Sqrt(correction2) / correction1);
        var epsilon = (float)(AdamEpsilon * Math.Sqrt(correction2));
        for (var i = 0; i < _theta.Length; i++)
        {
            var g = _gradient[i] + l2 * _theta[i];
            _m[i] = (float)(Beta1 * _m[i] + (1 - Beta1) * g);
            _v[i] = (float)(Beta2 * _v[i] + (1 - Beta2) * g * g);
            _theta[i] -= stepSize * _m[i] / (MathF.Sqrt(_v[i]) + epsilon);
        }
    }

    /// <summary>V_i = E_i (ID embedding) + T_i Wa + ba (items with text), for every item.</summary>
    private void UpdateItemVectors()
    {
        var d = _dim;
        Parallel.For(0, (_items + 255) / 256, Parallelism.Options, block =>
        {
            for (var i = block * 256; i < Math.Min(_items, (block + 1) * 256); i++)
            {
                var row = _itemVectors.AsSpan(i * d, d);
                if (_settings.UseIdEmbedding) _theta.AsSpan(_embeddingOffset + i * d, d).CopyTo(row);
                else row.Clear();
                if (_text is null || !_hasText![i]) continue;
                var bias = _theta.AsSpan(_adapterBiasOffset, d);
                TensorPrimitives.Add(row, bias, row);
                for (var k = 0; k < _textDim; k++)
                {
                    var t = _text[(long)i * _textDim + k];
                    if (t != 0) TensorPrimitives.MultiplyAdd(_theta.AsSpan(_adapterOffset + k * d, d), t, row, row);
                }
            }
        });
    }

    /// <summary>Scores every item as the next one after <paramref name="sequence"/> (its newest MaxLength items) with the current parameters.</summary>
    public void ScoreNext(ReadOnlySpan<int> sequence, SasRecWorkspace workspace, Span<float> scores) =>
        SasRecScoring.ScoreNext(_settings.Shape, Network, _itemVectors, _items, sequence, workspace, scores);
}

/// <summary>Scoring with a trained SASRec network: the newest position's hidden vector against every item vector.</summary>
internal static class SasRecScoring
{
    /// <summary>
    /// Writes one score per item (<paramref name="items"/> of them) for what follows <paramref name="sequence"/>
    /// (oldest first; only its newest MaxLength items are read). The sequence must not be empty.
    /// </summary>
    public static void ScoreNext(SasRecShape shape, ReadOnlySpan<float> network, ReadOnlySpan<float> itemVectors, int items, ReadOnlySpan<int> sequence,
        SasRecWorkspace workspace, Span<float> scores)
    {
        var window = sequence.Length > shape.MaxLength ? sequence[^shape.MaxLength..] : sequence;
        var random = new SplitMix64(0);
        SasRecNetwork.Forward(window, itemVectors, network, workspace, 0, ref random);
        var d = shape.Dim;
        var last = workspace.Output.AsSpan((window.Length - 1) * d, d);
        scores[..items].Clear();
        DenseMath.MultiplyTransposedAdd(last, 1, itemVectors, items, d, scores);
    }
}
