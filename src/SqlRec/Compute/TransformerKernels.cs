using System.Buffers;
using System.Numerics.Tensors;

namespace SqlRec.Compute;

/// <summary>
/// The kernels of a small causal transformer (SASRec's self-attention blocks), forward and
/// backward, on row-major float blocks of one sequence: a dense layer, layer normalisation,
/// multi-head causal self-attention, the point-wise feed-forward network and dropout. Every
/// backward pass <em>adds</em> into its gradient outputs (residual connections and shared
/// weights need sums), and each has a plain reference and a finite-difference check in the tests.
/// One call works on one sequence; callers run sequences in parallel, each with its own buffers.
/// </summary>
internal static class TransformerKernels
{
    /// <summary>Added to the variance in layer normalisation.</summary>
    public const float LayerNormEpsilon = 1e-6f;

    /// <summary><c>y = x W + b</c>: x is rows x inWidth, W inWidth x outWidth, b outWidth, y rows x outWidth (overwritten).</summary>
    public static void LinearForward(ReadOnlySpan<float> x, int rows, int inWidth, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int outWidth, Span<float> y)
    {
        for (var r = 0; r < rows; r++) b[..outWidth].CopyTo(y.Slice(r * outWidth, outWidth));
        // As a product of rows (DenseMath's blocked kernel): y[r, o] += x_r . W^T_o.
        var transposed = ArrayPool<float>.Shared.Rent(inWidth * outWidth);
        try
        {
            Transpose(w, inWidth, outWidth, transposed);
            DenseMath.MultiplyTransposedAdd(x[..(rows * inWidth)], rows, transposed.AsSpan(0, inWidth * outWidth), outWidth, inWidth, y[..(rows * outWidth)]);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(transposed);
        }
    }

    /// <summary>
    /// The dense layer's backward pass: <c>dx += dy W^T</c> (skipped when <paramref name="dx"/> is
    /// empty), <c>dW += x^T dy</c>, <c>db += sum of dy's rows</c>.
    /// </summary>
    public static void LinearBackward(ReadOnlySpan<float> x, int rows, int inWidth, ReadOnlySpan<float> w, int outWidth, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> db)
    {
        for (var r = 0; r < rows; r++) TensorPrimitives.Add(db[..outWidth], dy.Slice(r * outWidth, outWidth), db[..outWidth]);
        // dx[r, k] += dy_r . W_k (W's rows are its input units).
        if (!dx.IsEmpty) DenseMath.MultiplyTransposedAdd(dy[..(rows * outWidth)], rows, w[..(inWidth * outWidth)], inWidth, outWidth, dx[..(rows * inWidth)]);
        // dW[k, o] += x^T_k . dy^T_o.
        var xt = ArrayPool<float>.Shared.Rent(rows * inWidth);
        var dyt = ArrayPool<float>.Shared.Rent(rows * outWidth);
        try
        {
            Transpose(x, rows, inWidth, xt);
            Transpose(dy, rows, outWidth, dyt);
            DenseMath.MultiplyTransposedAdd(xt.AsSpan(0, rows * inWidth), inWidth, dyt.AsSpan(0, rows * outWidth), outWidth, rows, dw[..(inWidth * outWidth)]);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(xt);
            ArrayPool<float>.Shared.Return(dyt);
        }
    }

    /// <summary>Writes the transpose of the rows x columns block <paramref name="a"/> (columns x rows) into <paramref name="target"/>.</summary>
    private static void Transpose(ReadOnlySpan<float> a, int rows, int columns, Span<float> target)
    {
        for (var r = 0; r < rows; r++)
        {
            var row = a.Slice(r * columns, columns);
            for (var c = 0; c < columns; c++) target[c * rows + r] = row[c];
        }
    }

    /// <summary>
    /// Layer normalisation of each row: <c>y = (x - mean) / sqrt(var + eps) * gamma + beta</c>, keeping
    /// each row's mean and reciprocal standard deviation for the backward pass.
    /// </summary>
    public static void LayerNormForward(ReadOnlySpan<float> x, int rows, int width, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> y, Span<float> mean, Span<float> rstd)
    {
        for (var r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * width, width);
            var mu = TensorPrimitives.Sum(xr) / width;
            var variance = 0f;
            for (var i = 0; i < width; i++)
            {
                var c = xr[i] - mu;
                variance += c * c;
            }
            var inv = 1f / MathF.Sqrt(variance / width + LayerNormEpsilon);
            mean[r] = mu;
            rstd[r] = inv;
            var yr = y.Slice(r * width, width);
            for (var i = 0; i < width; i++) yr[i] = (xr[i] - mu) * inv * gamma[i] + beta[i];
        }
    }

    /// <summary>
    /// Layer normalisation's backward pass: with xhat the normalised input and g = dy * gamma,
    /// <c>dx += rstd * (g - mean(g) - xhat * mean(g * xhat))</c>, <c>dgamma += dy * xhat</c>, <c>dbeta += dy</c>.
    /// </summary>
    public static void LayerNormBackward(ReadOnlySpan<float> x, int rows, int width, ReadOnlySpan<float> gamma, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> rstd, ReadOnlySpan<float> dy, Span<float> dx, Span<float> dgamma, Span<float> dbeta)
    {
        for (var r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * width, width);
            var dyr = dy.Slice(r * width, width);
            float mu = mean[r], inv = rstd[r];
            float sumG = 0, sumGx = 0;
            for (var i = 0; i < width; i++)
            {
                var xhat = (xr[i] - mu) * inv;
                var g = dyr[i] * gamma[i];
                sumG += g;
                sumGx += g * xhat;
                dgamma[i] += dyr[i] * xhat;
                dbeta[i] += dyr[i];
            }
            sumG /= width;
            sumGx /= width;
            var dxr = dx.Slice(r * width, width);
            for (var i = 0; i < width; i++)
            {
                var xhat = (xr[i] - mu) * inv;
                dxr[i] += inv * (dyr[i] * gamma[i] - sumG - xhat * sumGx);
            }
        }
    }

    /// <summary>
    /// Multi-head causal self-attention over <paramref name="rows"/> positions (all valid, oldest
    /// first): head h of position t attends to positions 0..t with softmax(q_t . k_j / sqrt(dh)),
    /// dh = width / heads, and its output is the weighted sum of the v_j. The attention weights go
    /// to <paramref name="probs"/> (heads x rows x rows, zero above the diagonal) for the backward pass.
    /// </summary>
    public static void CausalAttentionForward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int rows, int width, int heads,
        Span<float> probs, Span<float> output)
    {
        var dh = width / heads;
        var scale = 1f / MathF.Sqrt(dh);
        output[..(rows * width)].Clear();
        for (var h = 0; h < heads; h++)
        {
            var off = h * dh;
            for (var t = 0; t < rows; t++)
            {
                var p = probs.Slice((h * rows + t) * rows, rows);
                p.Clear();
                var qt = q.Slice(t * width + off, dh);
                var max = float.NegativeInfinity;
                for (var j = 0; j <= t; j++)
                {
                    p[j] = TensorPrimitives.Dot(qt, k.Slice(j * width + off, dh)) * scale;
                    if (p[j] > max) max = p[j];
                }
                var sum = 0f;
                for (var j = 0; j <= t; j++)
                {
                    p[j] = MathF.Exp(p[j] - max);
                    sum += p[j];
                }
                var o = output.Slice(t * width + off, dh);
                for (var j = 0; j <= t; j++)
                {
                    p[j] /= sum;
                    TensorPrimitives.MultiplyAdd(v.Slice(j * width + off, dh), p[j], o, o);
                }
            }
        }
    }

    /// <summary>
    /// The attention's backward pass from the weights the forward pass kept: <c>dv_j += p_tj do_t</c>,
    /// <c>ds_tj = p_tj (do_t . v_j - sum_j' p_tj' do_t . v_j')</c>, <c>dq_t += ds_tj k_j / sqrt(dh)</c>,
    /// <c>dk_j += ds_tj q_t / sqrt(dh)</c>. <paramref name="scratch"/> holds at least <paramref name="rows"/> floats.
    /// </summary>
    public static void CausalAttentionBackward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int rows, int width, int heads,
        ReadOnlySpan<float> probs, ReadOnlySpan<float> dOutput, Span<float> dq, Span<float> dk, Span<float> dv, Span<float> scratch)
    {
        var dh = width / heads;
        var scale = 1f / MathF.Sqrt(dh);
        for (var h = 0; h < heads; h++)
        {
            var off = h * dh;
            for (var t = 0; t < rows; t++)
            {
                var p = probs.Slice((h * rows + t) * rows, rows);
                var dot = dOutput.Slice(t * width + off, dh);
                var dp = scratch[..rows];
                var weighted = 0f;
                for (var j = 0; j <= t; j++)
                {
                    dp[j] = TensorPrimitives.Dot(dot, v.Slice(j * width + off, dh));
                    weighted += p[j] * dp[j];
                    var dvj = dv.Slice(j * width + off, dh);
                    TensorPrimitives.MultiplyAdd(dot, p[j], dvj, dvj);
                }
                var qt = q.Slice(t * width + off, dh);
                var dqt = dq.Slice(t * width + off, dh);
                for (var j = 0; j <= t; j++)
                {
                    var ds = p[j] * (dp[j] - weighted) * scale;
                    if (ds == 0) continue;
                    TensorPrimitives.MultiplyAdd(k.Slice(j * width + off, dh), ds, dqt, dqt);
                    var dkj = dk.Slice(j * width + off, dh);
                    TensorPrimitives.MultiplyAdd(qt, ds, dkj, dkj);
                }
            }
        }
    }

    /// <summary>
    /// The point-wise feed-forward network, <c>y = relu(x W1 + b1) W2 + b2</c>, for every row;
    /// the hidden activations (after the ReLU) stay in <paramref name="hidden"/> (rows x hiddenWidth) for the backward pass.
    /// </summary>
    public static void FeedForwardForward(ReadOnlySpan<float> x, int rows, int width, int hiddenWidth, ReadOnlySpan<float> w1, ReadOnlySpan<float> b1,
        ReadOnlySpan<float> w2, ReadOnlySpan<float> b2, Span<float> hidden, Span<float> y)
    {
        var hid = hidden[..(rows * hiddenWidth)];
        LinearForward(x, rows, width, w1, b1, hiddenWidth, hid);
        TensorPrimitives.Max(hid, 0f, hid);
        LinearForward(hid, rows, hiddenWidth, w2, b2, width, y);
    }

    /// <summary>
    /// The feed-forward network's backward pass from the kept activations; <paramref name="dHidden"/>
    /// is scratch of rows x hiddenWidth floats.
    /// </summary>
    public static void FeedForwardBackward(ReadOnlySpan<float> x, int rows, int width, int hiddenWidth, ReadOnlySpan<float> w1, ReadOnlySpan<float> w2,
        ReadOnlySpan<float> hidden, ReadOnlySpan<float> dy, Span<float> dx, Span<float> dw1, Span<float> db1, Span<float> dw2, Span<float> db2,
        Span<float> dHidden)
    {
        var dh = dHidden[..(rows * hiddenWidth)];
        dh.Clear();
        LinearBackward(hidden, rows, hiddenWidth, w2, width, dy, dh, dw2, db2);
        for (var i = 0; i < dh.Length; i++)
        {
            if (hidden[i] <= 0) dh[i] = 0;
        }
        LinearBackward(x, rows, width, w1, hiddenWidth, dh, dx, dw1, db1);
    }

    /// <summary>
    /// Inverted dropout: each value is kept with probability 1 - rate and scaled by 1 / (1 - rate),
    /// else zeroed; the factor of each value goes to <paramref name="mask"/> for the backward pass
    /// (which multiplies the gradient by it). Rate 0 leaves values alone and fills the mask with ones.
    /// </summary>
    public static void Dropout(Span<float> values, Span<float> mask, float rate, ref SplitMix64 random)
    {
        if (rate <= 0)
        {
            mask[..values.Length].Fill(1);
            return;
        }
        var keep = 1f / (1 - rate);
        var threshold = (ulong)(rate * (double)ulong.MaxValue);
        for (var i = 0; i < values.Length; i++)
        {
            var factor = random.Next() >= threshold ? keep : 0f;
            mask[i] = factor;
            values[i] *= factor;
        }
    }
}
