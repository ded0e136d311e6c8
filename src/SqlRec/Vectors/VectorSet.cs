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
    /// <summary>
    /// Vectors (and queries) whose largest component lies within 2^-40..2^40 are searched as they are:
    /// squared lengths stay below 2^93 and inner products of two such vectors below 2^94, far inside
    /// float32. Others are searched in a copy scaled by a power of two (see <see cref="ForSearch"/>).
    /// </summary>
    internal const int SafeExponent = 40;

    /// <summary>Cosine needs each row's squared length within 2^-100..2^100 (its inverse length and the products stay normal floats).</summary>
    internal const int SafeSquaredExponent = 100;

    private readonly Lazy<float[]> _squaredNorms;
    private readonly Lazy<float[]> _inverseNorms;
    private readonly Lazy<Int8Codes>[] _int8;
    private readonly Lazy<BitCodes>[] _bits;
    private readonly Lazy<(VectorSet Set, double Scale)> _scaled;
    private readonly Lazy<VectorSet> _unit;

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
        _scaled = new(ScaledIntoRange);
        _unit = new(UnitRowsIfNeeded);
    }

    /// <summary>
    /// The set a search with <paramref name="metric"/> runs on, and the power of two its vectors
    /// were multiplied by: this set, scale 1, when its numbers are safe for float32 arithmetic
    /// (nearly always); else, for dot and l2, a copy scaled so its largest component is about 1
    /// (orders are unchanged by a common positive scale), and for cosine a copy of unit rows
    /// (each normalised in double; cosine ignores lengths). Built once, on first need.
    /// </summary>
    public (VectorSet Set, double Scale) ForSearch(VectorMetric metric) => metric == VectorMetric.Cosine ? (_unit.Value, 1) : _scaled.Value;

    /// <summary>True when the largest magnitude is 0 or within 2^-<see cref="SafeExponent"/>..2^<see cref="SafeExponent"/>.</summary>
    internal static bool InSafeRange(float maxMagnitude) =>
        maxMagnitude == 0 || (maxMagnitude >= MathF.ScaleB(1, -SafeExponent) && maxMagnitude <= MathF.ScaleB(1, SafeExponent));

    /// <summary>The largest |component| of <paramref name="values"/> (0 for none).</summary>
    internal static float MaxMagnitude(ReadOnlySpan<float> values) => values.IsEmpty ? 0 : MathF.Abs(TensorPrimitives.MaxMagnitude(values));

    private (VectorSet, double) ScaledIntoRange()
    {
        var max = MaxMagnitude(Data);
        if (InSafeRange(max)) return (this, 1);
        var exponent = -MathF.ILogB(max);
        var scaled = new float[Data.Length];
        // A power of two is exact: only components below the largest by more than float32's range lose digits.
        for (var i = 0; i < Data.Length; i++) scaled[i] = (float)Math.ScaleB(Data[i], exponent);
        return (new VectorSet(Source, Space, Ids, Dimensions, scaled, DefaultMetric), Math.ScaleB(1.0, exponent));
    }

    private VectorSet UnitRowsIfNeeded()
    {
        if (InSafeRange(MaxMagnitude(Data)) && Enumerable.Range(0, Count).All(SafeForCosine)) return this;
        var unit = new float[Data.Length];
        for (var i = 0; i < Count; i++)
        {
            var row = Row(i);
            var squared = 0.0;
            foreach (var value in row) squared += (double)value * value;
            if (squared == 0) continue;
            var inverse = 1 / Math.Sqrt(squared);
            var target = unit.AsSpan(i * Dimensions, Dimensions);
            for (var j = 0; j < row.Length; j++) target[j] = (float)(row[j] * inverse);
        }
        return new VectorSet(Source, Space, Ids, Dimensions, unit, DefaultMetric);

        // A float32 squared length of 0 may be a zero vector (fine) or a tiny one (underflowed): the latter needs the unit copy.
        bool SafeForCosine(int index) => SquaredNorms[index] is var squared && squared == 0
            ? MaxMagnitude(Row(index)) == 0
            : squared >= MathF.ScaleB(1, -SafeSquaredExponent) && squared <= MathF.ScaleB(1, SafeSquaredExponent);
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
