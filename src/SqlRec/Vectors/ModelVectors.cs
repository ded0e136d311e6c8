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
/// <item><c>graph_filter</c> with <c>components</c> &gt; 0: item i's row of the top right singular
/// vectors V of the normalised matrix, and a user's projection r D^-1/2 V of their training row
/// (the low-rank half of the filter; the linear half has no vectors).</item>
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
                    return components == 0 ? null : new VectorSet(source, "item", items, components, (float[])arrays[GraphFilterKind.Vectors], VectorMetric.Dot);
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
                    if (components == 0) return null;
                    var projections = GraphFilterProjections((int[])arrays[ArrayNames.SeenOffsets], (int[])arrays[ArrayNames.SeenItems],
                        arrays.TryGetValue(GraphFilterKind.Weights, out var w) ? (float[])w : null, (float[])arrays[GraphFilterKind.Vectors], components, itemCount);
                    return new VectorSet(source, "user", users, components, projections, VectorMetric.Dot);
                }
            default:
                return null;
        }
    }

    private static int GraphFilterComponents(IReadOnlyDictionary<string, Array> arrays) =>
        arrays.TryGetValue(GraphFilterKind.Parameters, out var p) && arrays.ContainsKey(GraphFilterKind.Vectors) ? (int)((float[])p)[1] : 0;

    /// <summary>
    /// r D_i^-1/2 V for each user's training row r (binary, or the summed weights with
    /// 'weighting' 'weight'), with D_i the item degrees of the same matrix: the projection the
    /// graph filter's ideal low-pass half scores with.
    /// </summary>
    internal static float[] GraphFilterProjections(int[] offsets, int[] columns, float[]? weights, float[] vectors, int components, int itemCount)
    {
        var degree = new double[itemCount];
        for (var p = 0; p < columns.Length; p++) degree[columns[p]] += weights?[p] ?? 1f;
        var users = offsets.Length - 1;
        var result = new float[(long)users * components];
        for (var u = 0; u < users; u++)
        {
            var target = result.AsSpan(u * components, components);
            for (var p = offsets[u]; p < offsets[u + 1]; p++)
            {
                var item = columns[p];
                if (degree[item] <= 0) continue;
                var scale = (float)((weights?[p] ?? 1f) / Math.Sqrt(degree[item]));
                TensorPrimitives.MultiplyAdd(vectors.AsSpan(item * components, components), scale, target, target);
            }
        }
        return result;
    }
}
