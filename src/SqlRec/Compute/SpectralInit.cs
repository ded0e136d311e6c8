using System.Numerics.Tensors;

namespace SqlRec.Compute;

/// <summary>
/// A spectral starting point for LightGCN's E0. With R~ = U S V^T (top <c>dim</c> singular
/// triplets, <see cref="RandomizedSvd"/>), the stacked vectors [u_k; v_k] are eigenvectors of
/// the normalised adjacency A^ with eigenvalue s_k, so E0 = [U S^p; V S^p] is left in place (up to
/// a per-column scale) by LightGCN's smoothing, and F_u . F_i starts as a low-pass graph filter
/// score, the same signal the <c>graph_filter</c> kind serves. BPR then refines it instead of
/// starting from noise, which saves a large share of the epochs on Gowalla.
/// </summary>
internal static class SpectralInit
{
    /// <summary>Exponent p on the singular values: the square root splits S evenly between users and items.</summary>
    private const double Power = 0.5;

    /// <summary>
    /// Fills <paramref name="users"/> (users x dim) and <paramref name="items"/> (items x dim) with
    /// [U S^p; V S^p], scaled so the entries' root mean square is <paramref name="rms"/> (the
    /// random initialisation's standard deviation, so learning rates carry over). Columns past the
    /// graph's numerical rank stay zero.
    /// </summary>
    /// <param name="graph">R~ (users x items).</param>
    /// <param name="transposed">R~^T.</param>
    /// <param name="dim">Embedding width (number of singular triplets).</param>
    /// <param name="seed">Seeds the randomized SVD.</param>
    /// <param name="rms">Target root mean square of the entries.</param>
    /// <param name="users">Output user rows.</param>
    /// <param name="items">Output item rows.</param>
    /// <param name="progress">Called with (step, steps) as the SVD proceeds.</param>
    public static void Fill(SparseMatrix graph, SparseMatrix transposed, int dim, int seed, float rms, float[] users, float[] items,
        Action<int, int>? progress = null)
    {
        var svd = RandomizedSvd.Compute(graph, transposed, Math.Min(dim, Math.Min(graph.Rows, graph.Columns)), 16, 4, seed, progress);
        var kept = svd.Components;
        // U = R~ V S^-1, so U S^p = R~ V S^(p-1).
        var userVectors = new float[graph.Rows * kept];
        graph.MultiplyDense(svd.RightVectors, kept, userVectors);
        var userScale = new float[kept];
        var itemScale = new float[kept];
        for (var c = 0; c < kept; c++)
        {
            var sigma = (double)svd.SingularValues[c];
            itemScale[c] = (float)Math.Pow(sigma, Power);
            userScale[c] = (float)Math.Pow(sigma, Power - 1);
        }
        Array.Clear(users);
        Array.Clear(items);
        Scatter(userVectors, graph.Rows, kept, userScale, users, dim);
        Scatter(svd.RightVectors, graph.Columns, kept, itemScale, items, dim);

        var squares = (double)TensorPrimitives.Dot(users, users) + TensorPrimitives.Dot(items, items);
        var current = Math.Sqrt(squares / ((double)(users.Length + items.Length)));
        if (current <= 0 || !double.IsFinite(current)) return;
        var factor = (float)(rms / current);
        TensorPrimitives.Multiply(users, factor, users);
        TensorPrimitives.Multiply(items, factor, items);
    }

    private static void Scatter(float[] source, int rows, int width, float[] columnScale, float[] target, int dim)
    {
        for (var r = 0; r < rows; r++)
        {
            var from = source.AsSpan(r * width, width);
            var to = target.AsSpan(r * dim, width);
            TensorPrimitives.Multiply(from, columnScale, to);
        }
    }
}
