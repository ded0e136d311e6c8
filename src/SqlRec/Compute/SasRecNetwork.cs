namespace SqlRec.Compute;

/// <summary>
/// The shape of a SASRec network (Kang and McAuley, ICDM 2018) and where each of its parameters
/// lies in one flat array: the learned positions (maxLength x dim), then per block the first
/// layer norm, the query, key, value and output projections with their biases, the second layer
/// norm and the two layers of the point-wise feed-forward network, then the final layer norm.
/// The item vectors the network reads and scores against are kept apart by the caller.
/// </summary>
internal sealed record SasRecShape(int Dim, int Heads, int Blocks, int MaxLength)
{
    /// <summary>Floats of one block.</summary>
    public int BlockSize => 10 * Dim + 6 * Dim * Dim;

    /// <summary>Offset of block <paramref name="b"/>.</summary>
    public int BlockOffset(int b) => MaxLength * Dim + b * BlockSize;

    /// <summary>Offset of the final layer norm's gamma (beta follows).</summary>
    public int FinalNormOffset => MaxLength * Dim + Blocks * BlockSize;

    /// <summary>Floats of all the network's parameters.</summary>
    public int Count => FinalNormOffset + 2 * Dim;

    // Offsets inside a block.
    internal int Ln1Gamma => 0;
    internal int Ln1Beta => Dim;
    internal int Wq => 2 * Dim;
    internal int Bq => Wq + Dim * Dim;
    internal int Wk => Bq + Dim;
    internal int Bk => Wk + Dim * Dim;
    internal int Wv => Bk + Dim;
    internal int Bv => Wv + Dim * Dim;
    internal int Wo => Bv + Dim;
    internal int Bo => Wo + Dim * Dim;
    internal int Ln2Gamma => Bo + Dim;
    internal int Ln2Beta => Ln2Gamma + Dim;
    internal int W1 => Ln2Beta + Dim;
    internal int B1 => W1 + Dim * Dim;
    internal int W2 => B1 + Dim;
    internal int B2 => W2 + Dim * Dim;

    /// <summary>
    /// Fresh parameters: weight matrices Xavier-normal (std sqrt(2 / (fan in + fan out)), as the
    /// reference PyTorch code initialises them), positions N(0, 2 / (maxLength + dim)), layer norms
    /// gamma 1 and beta 0, biases 0.
    /// </summary>
    public void Initialize(Span<float> parameters, ref SplitMix64 random)
    {
        parameters[..Count].Clear();
        Gaussian(parameters[..(MaxLength * Dim)], MathF.Sqrt(2f / (MaxLength + Dim)), ref random);
        var matrixStd = MathF.Sqrt(1f / Dim);
        for (var b = 0; b < Blocks; b++)
        {
            var block = parameters.Slice(BlockOffset(b), BlockSize);
            block.Slice(Ln1Gamma, Dim).Fill(1);
            block.Slice(Ln2Gamma, Dim).Fill(1);
            foreach (var w in new[] { Wq, Wk, Wv, Wo, W1, W2 }) Gaussian(block.Slice(w, Dim * Dim), matrixStd, ref random);
        }
        parameters.Slice(FinalNormOffset, Dim).Fill(1);
    }

    /// <summary>Fills with N(0, std^2) numbers (Box-Muller on a seeded generator).</summary>
    public static void Gaussian(Span<float> target, float std, ref SplitMix64 random)
    {
        for (var i = 0; i < target.Length; i += 2)
        {
            var u1 = 1 - (random.Next() >> 11) * (1.0 / (1UL << 53));
            var u2 = (random.Next() >> 11) * (1.0 / (1UL << 53));
            var radius = Math.Sqrt(-2 * Math.Log(u1)) * std;
            target[i] = (float)(radius * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < target.Length) target[i + 1] = (float)(radius * Math.Sin(2 * Math.PI * u2));
        }
    }
}

/// <summary>
/// The buffers one sequence needs through the network's forward and backward passes (what the
/// forward pass keeps for the backward one, and the backward pass's scratch). One per thread.
/// </summary>
internal sealed class SasRecWorkspace
{
    public SasRecWorkspace(SasRecShape shape)
    {
        Shape = shape;
        int l = shape.MaxLength, d = shape.Dim;
        float[] Rows() => new float[l * d];
        X = [.. Enumerable.Range(0, shape.Blocks + 1).Select(_ => Rows())];
        EmbeddingMask = Rows();
        Blocks = [.. Enumerable.Range(0, shape.Blocks).Select(_ => new BlockState(l, d, shape.Heads))];
        Output = Rows();
        FinalMean = new float[l];
        FinalRstd = new float[l];
        DX = Rows();
        DH = Rows();
        DA = Rows();
        DQ = Rows();
        DK = Rows();
        DV = Rows();
        DO = Rows();
        DHidden = Rows();
        DScratch = Rows();
        Scratch = new float[l];
    }

    /// <summary>The shape the buffers are for.</summary>
    public SasRecShape Shape { get; }

    /// <summary>Rows of the sequence last run forward.</summary>
    public int Rows { get; internal set; }

    /// <summary>X[0]: the embedded input; X[b + 1]: block b's output.</summary>
    internal float[][] X { get; }

    internal float[] EmbeddingMask { get; }

    internal BlockState[] Blocks { get; }

    /// <summary>The final layer norm's output: one hidden vector per position (rows x dim).</summary>
    public float[] Output { get; }

    internal float[] FinalMean { get; }
    internal float[] FinalRstd { get; }

    /// <summary>After <see cref="SasRecNetwork.Backward"/>: the gradient of each input position's item vector (rows x dim).</summary>
    public float[] DX { get; }

    internal float[] DH { get; }
    internal float[] DA { get; }
    internal float[] DQ { get; }
    internal float[] DK { get; }
    internal float[] DV { get; }
    internal float[] DO { get; }
    internal float[] DHidden { get; }
    internal float[] DScratch { get; }
    internal float[] Scratch { get; }

    internal sealed class BlockState(int l, int d, int heads)
    {
        public readonly float[] A1 = new float[l * d], Mean1 = new float[l], Rstd1 = new float[l];
        public readonly float[] Q = new float[l * d], K = new float[l * d], V = new float[l * d];
        public readonly float[] Probs = new float[heads * l * l], O = new float[l * d];
        public readonly float[] AttnMask = new float[l * d], H = new float[l * d];
        public readonly float[] A2 = new float[l * d], Mean2 = new float[l], Rstd2 = new float[l];
        public readonly float[] Hidden = new float[l * d], FfMask = new float[l * d];
    }
}

/// <summary>
/// SASRec's network on one sequence, forward and backward, from <see cref="TransformerKernels"/>:
/// the input at position t is the item's vector times sqrt(dim) plus the learned position
/// (sequences are right-aligned, so the newest item always has the last position), with dropout;
/// each block is pre-norm, <c>h = x + dropout(attention(LN1(x)) Wo + bo)</c>,
/// <c>x' = h + dropout(FFN(LN2(h)))</c>, with causal multi-head attention; a final layer norm
/// gives each position's hidden vector, whose inner product with an item's vector is the score of
/// that item coming next.
/// </summary>
internal static class SasRecNetwork
{
    /// <summary>
    /// Runs <paramref name="sequence"/> (item indices, oldest first, at most MaxLength) through the
    /// network; the hidden vectors end in <c>workspace.Output</c>. With <paramref name="dropout"/> &gt; 0
    /// (training) the masks are drawn from <paramref name="random"/>.
    /// </summary>
    public static void Forward(ReadOnlySpan<int> sequence, ReadOnlySpan<float> items, ReadOnlySpan<float> parameters, SasRecWorkspace workspace,
        float dropout, ref SplitMix64 random)
    {
        var shape = workspace.Shape;
        int d = shape.Dim, m = sequence.Length, first = shape.MaxLength - m;
        if (m == 0 || m > shape.MaxLength) throw new ArgumentOutOfRangeException(nameof(sequence));
        workspace.Rows = m;
        var scale = MathF.Sqrt(d);
        var x0 = workspace.X[0].AsSpan(0, m * d);
        for (var t = 0; t < m; t++)
        {
            var row = x0.Slice(t * d, d);
            System.Numerics.Tensors.TensorPrimitives.Multiply(items.Slice(sequence[t] * d, d), scale, row);
            System.Numerics.Tensors.TensorPrimitives.Add(row, parameters.Slice((first + t) * d, d), row);
        }
        TransformerKernels.Dropout(x0, workspace.EmbeddingMask, dropout, ref random);
        for (var b = 0; b < shape.Blocks; b++)
        {
            var p = parameters.Slice(shape.BlockOffset(b), shape.BlockSize);
            var s = workspace.Blocks[b];
            var x = workspace.X[b].AsSpan(0, m * d);
            TransformerKernels.LayerNormForward(x, m, d, p.Slice(shape.Ln1Gamma, d), p.Slice(shape.Ln1Beta, d), s.A1, s.Mean1, s.Rstd1);
            TransformerKernels.LinearForward(s.A1, m, d, p.Slice(shape.Wq, d * d), p.Slice(shape.Bq, d), d, s.Q);
            TransformerKernels.LinearForward(s.A1, m, d, p.Slice(shape.Wk, d * d), p.Slice(shape.Bk, d), d, s.K);
            TransformerKernels.LinearForward(s.A1, m, d, p.Slice(shape.Wv, d * d), p.Slice(shape.Bv, d), d, s.V);
            TransformerKernels.CausalAttentionForward(s.Q, s.K, s.V, m, d, shape.Heads, s.Probs, s.O);
            var h = s.H.AsSpan(0, m * d);
            TransformerKernels.LinearForward(s.O, m, d, p.Slice(shape.Wo, d * d), p.Slice(shape.Bo, d), d, h);
            TransformerKernels.Dropout(h, s.AttnMask, dropout, ref random);
            System.Numerics.Tensors.TensorPrimitives.Add(h, x, h);
            TransformerKernels.LayerNormForward(h, m, d, p.Slice(shape.Ln2Gamma, d), p.Slice(shape.Ln2Beta, d), s.A2, s.Mean2, s.Rstd2);
            var next = workspace.X[b + 1].AsSpan(0, m * d);
            TransformerKernels.FeedForwardForward(s.A2, m, d, d, p.Slice(shape.W1, d * d), p.Slice(shape.B1, d), p.Slice(shape.W2, d * d),
                p.Slice(shape.B2, d), s.Hidden, next);
            TransformerKernels.Dropout(next, s.FfMask, dropout, ref random);
            System.Numerics.Tensors.TensorPrimitives.Add(next, h, next);
        }
        var final = parameters.Slice(shape.FinalNormOffset, 2 * d);
        TransformerKernels.LayerNormForward(workspace.X[shape.Blocks].AsSpan(0, m * d), m, d, final[..d], final[d..], workspace.Output,
            workspace.FinalMean, workspace.FinalRstd);
    }

    /// <summary>
    /// The backward pass of the last <see cref="Forward"/> on <paramref name="workspace"/>, from the
    /// gradient of the hidden vectors (<paramref name="dOutput"/>, rows x dim): adds the parameters'
    /// gradients into <paramref name="dParameters"/> and leaves the gradient of each input
    /// position's item vector in <c>workspace.DX</c> (the caller adds it to the item's row).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> parameters, SasRecWorkspace workspace, ReadOnlySpan<float> dOutput, Span<float> dParameters)
    {
        var shape = workspace.Shape;
        int d = shape.Dim, m = workspace.Rows, first = shape.MaxLength - m, n = m * d;
        var dx = workspace.DX.AsSpan(0, n);
        dx.Clear();
        var final = parameters.Slice(shape.FinalNormOffset, 2 * d);
        var dFinal = dParameters.Slice(shape.FinalNormOffset, 2 * d);
        TransformerKernels.LayerNormBackward(workspace.X[shape.Blocks], m, d, final[..d], workspace.FinalMean, workspace.FinalRstd, dOutput, dx,
            dFinal[..d], dFinal[d..]);
        for (var b = shape.Blocks - 1; b >= 0; b--)
        {
            var p = parameters.Slice(shape.BlockOffset(b), shape.BlockSize);
            var g = dParameters.Slice(shape.BlockOffset(b), shape.BlockSize);
            var s = workspace.Blocks[b];
            // x' = h + mask_ff * FFN(LN2(h)): dh = dx' + LN2'(FFN'(mask_ff * dx')).
            var dh = workspace.DH.AsSpan(0, n);
            dx.CopyTo(dh);
            var dff = workspace.DScratch.AsSpan(0, n);
            System.Numerics.Tensors.TensorPrimitives.Multiply(dx, s.FfMask.AsSpan(0, n), dff);
            var da = workspace.DA.AsSpan(0, n);
            da.Clear();
            TransformerKernels.FeedForwardBackward(s.A2, m, d, d, p.Slice(shape.W1, d * d), p.Slice(shape.W2, d * d), s.Hidden, dff, da,
                g.Slice(shape.W1, d * d), g.Slice(shape.B1, d), g.Slice(shape.W2, d * d), g.Slice(shape.B2, d), workspace.DHidden);
            TransformerKernels.LayerNormBackward(s.H, m, d, p.Slice(shape.Ln2Gamma, d), s.Mean2, s.Rstd2, da, dh, g.Slice(shape.Ln2Gamma, d),
                g.Slice(shape.Ln2Beta, d));
            // h = x + mask_attn * (attention(LN1(x)) Wo + bo): dx = dh + LN1'(QKV'(attention'(Wo'(mask_attn * dh)))).
            dh.CopyTo(dx);
            var dAttn = workspace.DScratch.AsSpan(0, n);
            System.Numerics.Tensors.TensorPrimitives.Multiply(dh, s.AttnMask.AsSpan(0, n), dAttn);
            var dO = workspace.DO.AsSpan(0, n);
            dO.Clear();
            TransformerKernels.LinearBackward(s.O, m, d, p.Slice(shape.Wo, d * d), d, dAttn, dO, g.Slice(shape.Wo, d * d), g.Slice(shape.Bo, d));
            var dq = workspace.DQ.AsSpan(0, n);
            var dk = workspace.DK.AsSpan(0, n);
            var dv = workspace.DV.AsSpan(0, n);
            dq.Clear();
            dk.Clear();
            dv.Clear();
            TransformerKernels.CausalAttentionBackward(s.Q, s.K, s.V, m, d, shape.Heads, s.Probs, dO, dq, dk, dv, workspace.Scratch);
            da.Clear();
            TransformerKernels.LinearBackward(s.A1, m, d, p.Slice(shape.Wq, d * d), d, dq, da, g.Slice(shape.Wq, d * d), g.Slice(shape.Bq, d));
            TransformerKernels.LinearBackward(s.A1, m, d, p.Slice(shape.Wk, d * d), d, dk, da, g.Slice(shape.Wk, d * d), g.Slice(shape.Bk, d));
            TransformerKernels.LinearBackward(s.A1, m, d, p.Slice(shape.Wv, d * d), d, dv, da, g.Slice(shape.Wv, d * d), g.Slice(shape.Bv, d));
            TransformerKernels.LayerNormBackward(workspace.X[b], m, d, p.Slice(shape.Ln1Gamma, d), s.Mean1, s.Rstd1, da, dx, g.Slice(shape.Ln1Gamma, d),
                g.Slice(shape.Ln1Beta, d));
        }
        // x0 = mask_emb * (item * sqrt(d) + position).
        System.Numerics.Tensors.TensorPrimitives.Multiply(dx, workspace.EmbeddingMask.AsSpan(0, n), dx);
        var dPositions = dParameters.Slice(first * d, n);
        System.Numerics.Tensors.TensorPrimitives.Add(dPositions, dx, dPositions);
        System.Numerics.Tensors.TensorPrimitives.Multiply(dx, MathF.Sqrt(d), dx);
    }
}
