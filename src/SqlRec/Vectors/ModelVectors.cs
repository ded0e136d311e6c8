using System.Numerics.Tensors;
using SqlRec.Data;
using SqlRec.Models;
using SqlRec.Store;

namespace SqlRec.Vectors;

/// <summary>
/// The item and user vectors a trained model carries, by kind, read from the version's stored
/// arrays (the model kinds themselves are not touched):
/// <list type="bullet">
/// <item><c>lightgcn</c>: the final embeddings F of items and users (<c>lgcn_items</c>,
/// <c>lgcn_users</c>); <c>recommend()</c> scores F_u . F_i, so dot-product search over them is
/// the model's own ranking.</item>
/// <item><c>graph_filter</c> with <c>components</c> &gt; 0: the factors of the truncated SVD
/// R~ ~ U S V^T of the normalised matrix the filter was built from: item i's vector is V_i S and
/// user u's is U_u S = R~_u V (their training row projected). Dot products between item vectors
/// then approximate R~^T R~, the normalised co-occurrence that is the filter's linear half, and
/// between users R~ R~^T. S is not stored with the model: |R~ v_j| = s_j, so it comes out of the
/// user projections.</item>
/// <item><c>popular</c>, and a graph filter with no components: none.</item>
/// </list>
/// </summary>
internal static class ModelVectors
{
    /// <summary>What to say when a model has no vectors.</summary>
    public const string NoVectorsHint = "vectors come from a 'lightgcn' model, a 'graph_filter' model with 'components' > 0, or a collection made with rec_publish(name, json_object('source', ...))";

    /// <summary>How messages name a model.</summary>
    public static string Label(string model) => $"model '{model}'";

    /// <summary>The item vectors of a version, or null when its kind has none.</summary>
    public static VectorSet? Items(ServingVersion version, IReadOnlyDictionary<string, Array> arrays, IdIndex items)
    {
        var source = Label(version.Model);
        switch (version.Kind)
        {
            case "lightgcn":
                {
                    var dim = ((int[])arrays[LightGcnKind.Shape])[0];
                    return new VectorSet(source, "item", items, dim, (float[])arrays[LightGcnKind.ItemEmbeddings], VectorMetric.Dot);
                }
            case "graph_filter":
                {
                    var components = GraphFilterComponents(arrays);
                    return components == 0 ? null : new VectorSet(source, "item", items, components, GraphFilterFactors(arrays, components, items.Count).Items, VectorMetric.Dot);
                }
            default:
                return null;
        }
    }

    /// <summary>The user vectors of a version, or null when its kind has none.</summary>
    public static VectorSet? Users(ServingVersion version, IReadOnlyDictionary<string, Array> arrays, IdIndex users, int itemCount)
    {
        var source = Label(version.Model);
        switch (version.Kind)
        {
            case "lightgcn":
                {
                    var dim = ((int[])arrays[LightGcnKind.Shape])[0];
                    return new VectorSet(source, "user", users, dim, (float[])arrays[LightGcnKind.UserEmbeddings], VectorMetric.Dot);
                }
            case "graph_filter":
                {
                    var components = GraphFilterComponents(arrays);
                    return components == 0 ? null : new VectorSet(source, "user", users, components, GraphFilterFactors(arrays, components, itemCount).Users, VectorMetric.Dot);
                }
            default:
                return null;
        }
    }

    private static int GraphFilterComponents(IReadOnlyDictionary<string, Array> arrays) =>
        arrays.TryGetValue(GraphFilterKind.Parameters, out var p) && arrays.ContainsKey(GraphFilterKind.Vectors) ? (int)((float[])p)[1] : 0;

    private static (float[] Users, float[] Items) GraphFilterFactors(IReadOnlyDictionary<string, Array> arrays, int components, int itemCount) =>
        GraphFilterFactors((int[])arrays[ArrayNames.SeenOffsets], (int[])arrays[ArrayNames.SeenItems],
            arrays.TryGetValue(GraphFilterKind.Weights, out var w) ? (float[])w : null, (float[])arrays[GraphFilterKind.Vectors], components, itemCount);

    /// <summary>
    /// U S = R~ V and V S for the training matrix R (binary, or the summed weights with 'weighting'
    /// 'weight'), R~ = D_u^-1/2 R D_i^-1/2, and the stored right singular vectors V (items x
    /// components): each user's row projected, then s_j as the length of column j of R~ V.
    /// </summary>
    internal static (float[] Users, float[] Items) GraphFilterFactors(int[] offsets, int[] columns, float[]? weights, float[] vectors, int components, int itemCount)
    {
        var itemDegree = new double[itemCount];
        for (var p = 0; p < columns.Length; p++) itemDegree[columns[p]] += weights?[p] ?? 1f;
        var userCount = offsets.Length - 1;
        var users = new float[(long)userCount * components];
        var squares = new double[components];
        for (var u = 0; u < userCount; u++)
        {
            double userDegree = 0;
            for (var p = offsets[u]; p < offsets[u + 1]; p++) userDegree += weights?[p] ?? 1f;
            var target = users.AsSpan(u * components, components);
            for (var p = offsets[u]; p < offsets[u + 1]; p++)
            {
                var item = columns[p];
                var scale = (float)((weights?[p] ?? 1f) / Math.Sqrt(userDegree * itemDegree[item]));
                if (float.IsFinite(scale) && scale != 0) TensorPrimitives.MultiplyAdd(vectors.AsSpan(item * components, components), scale, target, target);
            }
            for (var j = 0; j < components; j++) squares[j] += (double)target[j] * target[j];
        }
        var singular = Array.ConvertAll(squares, s => (float)Math.Sqrt(s));
        var items = new float[(long)itemCount * components];
        for (var i = 0; i < itemCount; i++) TensorPrimitives.Multiply(vectors.AsSpan(i * components, components), singular, items.AsSpan(i * components, components));
        return (users, items);
    }
}
