using System.Numerics.Tensors;

namespace SqlRec.Vectors;

/// <summary>How two vectors are compared.</summary>
internal enum VectorMetric
{
    /// <summary>Inner product; higher is closer. What the CF models score with.</summary>
    Dot,
    /// <summary>Cosine similarity; the distance is 1 - cosine (sqlite-vec's <c>cosine</c>).</summary>
    Cosine,
    /// <summary>Euclidean distance (sqlite-vec's <c>l2</c>).</summary>
    L2,
}

/// <summary>Names of metrics as SQL options and vec0 spell them.</summary>
internal static class VectorMetrics
{
    /// <summary>The option values, in the order messages list them.</summary>
    public static readonly string[] Names = ["dot", "cosine", "l2"];

    /// <summary>The option value of a metric.</summary>
    public static string Name(VectorMetric metric) => Names[(int)metric];

    /// <summary>The metric of an option value already checked against <see cref="Names"/>.</summary>
    public static VectorMetric Parse(string name) => (VectorMetric)Array.IndexOf(Names, name);
}

/// <summary>
/// Vectors of one id space (a model's items or users, or a collection's items) held in memory for
/// search: row i belongs to <c>Ids.Ids[i]</c>, and ids are in SqlRec's id order, so ties between
/// equal scores break by id. Immutable; the derived data (norms, quantized codes) is built once,
/// on first use, and shared by every caller.
/// </summary>
internal sealed class VectorSet
{
    private readonly Lazy<float[]> _squaredNorms;
    private readonly Lazy<float[]> _inverseNorms;
    private readonly Lazy<Int8Codes>[] _int8;
    private readonly Lazy<BitCodes>[] _bits;

    /// <summary>Wraps row-major vectors (<paramref name="ids"/>.Count x <paramref name="dimensions"/>); the array is kept, not copied.</summary>
    public VectorSet(string source, string space, IdIndex ids, int dimensions, float[] data, VectorMetric defaultMetric)
    {
        if ((long)ids.Count * dimensions != data.Length) throw new ArgumentException($"{source}: {ids.Count} x {dimensions} vectors need {(long)ids.Count * dimensions} floats, got {data.Length}");
        Source = source;
        Space = space;
        Ids = ids;
        Dimensions = dimensions;
        Data = data;
        DefaultMetric = defaultMetric;
        _squaredNorms = new(() =>
        {
            var norms = new float[Count];
            for (var i = 0; i < Count; i++) norms[i] = TensorPrimitives.Dot(Row(i), Row(i));
            return norms;
        });
        _inverseNorms = new(() => Array.ConvertAll(SquaredNorms, n => n > 0 ? 1 / MathF.Sqrt(n) : 0f));
        // One set of codes for raw vectors (dot, l2) and one for unit vectors (cosine), built on demand.
        _int8 = [new(() => Int8Codes.Build(this, normalized: false)), new(() => Int8Codes.Build(this, normalized: true))];
        _bits = [new(() => BitCodes.Build(this, normalized: false)), new(() => BitCodes.Build(this, normalized: true))];
    }

    /// <summary>What holds the vectors, for messages: <c>model 'lgcn'</c> or <c>collection 'movie_text'</c>.</summary>
    public string Source { get; }

    /// <summary><c>item</c> or <c>user</c>.</summary>
    public string Space { get; }

    /// <summary>The ids, in row order.</summary>
    public IdIndex Ids { get; }

    /// <summary>Number of vectors.</summary>
    public int Count => Ids.Count;

    /// <summary>Length of each vector.</summary>
    public int Dimensions { get; }

    /// <summary>The vectors, row-major.</summary>
    public float[] Data { get; }

    /// <summary>The metric searches use unless they name one.</summary>
    public VectorMetric DefaultMetric { get; }

    /// <summary>Vector <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Row(int index) => Data.AsSpan(index * Dimensions, Dimensions);

    /// <summary>|x|^2 of each vector.</summary>
    public float[] SquaredNorms => _squaredNorms.Value;

    /// <summary>1 / |x| of each vector (0 for a zero vector, whose cosine with anything is taken as 0).</summary>
    public float[] InverseNorms => _inverseNorms.Value;

    /// <summary>int8 codes of the raw (<paramref name="normalized"/> false) or unit vectors.</summary>
    public Int8Codes Int8(bool normalized) => _int8[normalized ? 1 : 0].Value;

    /// <summary>Sign bits of the raw or (centred) unit vectors.</summary>
    public BitCodes Bits(bool normalized) => _bits[normalized ? 1 : 0].Value;

    /// <summary>The vectors as they enter quantization: raw, or scaled to unit length.</summary>
    internal void CopyPrepared(int index, bool normalized, Span<float> target)
    {
        var row = Row(index);
        if (normalized) TensorPrimitives.Multiply(row, InverseNorms[index], target);
        else row.CopyTo(target);
    }
}
