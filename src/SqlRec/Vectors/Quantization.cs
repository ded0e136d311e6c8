using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SqlRec.Vectors;

/// <summary>How a search's first pass reads the vectors.</summary>
internal enum Quantization
{
    /// <summary>Exact float32 scores for every candidate.</summary>
    None,
    /// <summary>int8 codes (a quarter of the bytes) for a shortlist, then exact float re-scoring.</summary>
    Int8,
    /// <summary>One sign bit per dimension (1/32 of the bytes), Hamming distance for a shortlist, then exact float re-scoring.</summary>
    Bit,
}

/// <summary>
/// Symmetric per-dimension int8 codes: <c>x[d] ~ scale[d] * code[d]</c> with
/// <c>scale[d] = max |x[d]| / 127</c>. A query is folded with the scales and rounded to int16, so an
/// approximate inner product is one integer dot product (16 lanes per AVX2 instruction) times a factor.
/// </summary>
internal sealed class Int8Codes
{
    private Int8Codes(int dimensions, sbyte[] codes, float[] scales)
    {
        Dimensions = dimensions;
        Codes = codes;
        Scales = scales;
    }

    /// <summary>Length of each code.</summary>
    public int Dimensions { get; }

    /// <summary>Codes, row-major.</summary>
    public sbyte[] Codes { get; }

    /// <summary>Scale of each dimension.</summary>
    public float[] Scales { get; }

    /// <summary>Quantizes the set's raw or unit vectors.</summary>
    public static Int8Codes Build(VectorSet set, bool normalized)
    {
        int n = set.Count, d = set.Dimensions;
        var row = new float[d];
        var maxAbs = new float[d];
        for (var i = 0; i < n; i++)
        {
            set.CopyPrepared(i, normalized, row);
            for (var j = 0; j < d; j++) maxAbs[j] = MathF.Max(maxAbs[j], MathF.Abs(row[j]));
        }
        var scales = Array.ConvertAll(maxAbs, m => m > 0 ? m / 127f : 1f);
        var codes = new sbyte[(long)n * d];
        for (var i = 0; i < n; i++)
        {
            set.CopyPrepared(i, normalized, row);
            var target = codes.AsSpan(i * d, d);
            for (var j = 0; j < d; j++) target[j] = (sbyte)Math.Clamp(MathF.Round(row[j] / scales[j]), -127, 127);
        }
        return new Int8Codes(d, codes, scales);
    }

    /// <summary>
    /// The query as int16 codes and the factor that turns <see cref="Dot"/> back into an inner
    /// product. The int16 range is cut so that no int32 accumulator can overflow at this length.
    /// </summary>
    public (short[] Codes, float Factor) EncodeQuery(ReadOnlySpan<float> query)
    {
        var folded = new float[Dimensions];
        var largest = 0f;
        for (var j = 0; j < Dimensions; j++)
        {
            folded[j] = query[j] * Scales[j];
            largest = MathF.Max(largest, MathF.Abs(folded[j]));
        }
        var limit = (float)Math.Min(short.MaxValue, int.MaxValue / (Dimensions * 128L));
        var step = largest > 0 ? largest / limit : 1f;
        var codes = new short[Dimensions];
        for (var j = 0; j < Dimensions; j++) codes[j] = (short)MathF.Round(folded[j] / step);
        return (codes, step);
    }

    /// <summary>The integer dot product of a query's codes with vector <paramref name="index"/>'s.</summary>
    public int Dot(ReadOnlySpan<short> query, int index) => DotKernel(query, Codes.AsSpan(index * Dimensions, Dimensions));

    /// <summary>Integer dot product, AVX2 where present (exact: the same value as <see cref="DotReference"/>).</summary>
    internal static int DotKernel(ReadOnlySpan<short> query, ReadOnlySpan<sbyte> code)
    {
        var n = query.Length;
        var i = 0;
        var sum = 0;
        if (Avx2.IsSupported && n >= 16)
        {
            ref var q = ref MemoryMarshal.GetReference(query);
            ref var c = ref MemoryMarshal.GetReference(code);
            var acc0 = Vector256<int>.Zero;
            var acc1 = Vector256<int>.Zero;
            for (; i + 32 <= n; i += 32)
            {
                var c0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref c, (nuint)i));
                var c1 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref c, (nuint)(i + 16)));
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(c0, Vector256.LoadUnsafe(ref q, (nuint)i)));
                acc1 = Avx2.Add(acc1, Avx2.MultiplyAddAdjacent(c1, Vector256.LoadUnsafe(ref q, (nuint)(i + 16))));
            }
            for (; i + 16 <= n; i += 16)
            {
                var c0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref c, (nuint)i));
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(c0, Vector256.LoadUnsafe(ref q, (nuint)i)));
            }
            sum = Vector256.Sum(Avx2.Add(acc0, acc1));
        }
        for (; i < n; i++) sum += query[i] * code[i];
        return sum;
    }

    /// <summary>The plain loop the kernel must equal.</summary>
    internal static int DotReference(ReadOnlySpan<short> query, ReadOnlySpan<sbyte> code)
    {
        var sum = 0;
        for (var i = 0; i < query.Length; i++) sum += query[i] * code[i];
        return sum;
    }
}

/// <summary>
/// One bit per dimension: the sign of the vector, for unit vectors (cosine) taken against the
/// set's mean so the bits split evenly (embeddings share a common direction). The Hamming distance
/// h between a query's bits and a vector's estimates the angle between them as pi h / d, at 1/32
/// of the bytes of float32; it only picks a shortlist, which is then re-scored exactly.
/// </summary>
internal sealed class BitCodes
{
    private BitCodes(int words, ulong[] bits, float[] mean)
    {
        Words = words;
        Bits = bits;
        Mean = mean;
    }

    /// <summary>64-bit words per vector.</summary>
    public int Words { get; }

    /// <summary>The bits, <see cref="Words"/> per vector.</summary>
    public ulong[] Bits { get; }

    /// <summary>The per-dimension mean the bits are taken against (zeros for raw vectors).</summary>
    public float[] Mean { get; }

    /// <summary>Encodes the set's raw or unit vectors.</summary>
    public static BitCodes Build(VectorSet set, bool normalized)
    {
        int n = set.Count, d = set.Dimensions;
        var row = new float[d];
        var sum = new double[d];
        for (var i = 0; i < n; i++)
        {
            set.CopyPrepared(i, normalized, row);
            for (var j = 0; j < d; j++) sum[j] += row[j];
        }
        var mean = normalized ? Array.ConvertAll(sum, s => (float)(s / Math.Max(1, n))) : new float[d];
        var words = (d + 63) / 64;
        var bits = new ulong[(long)n * words];
        for (var i = 0; i < n; i++)
        {
            set.CopyPrepared(i, normalized, row);
            Encode(row, mean, bits.AsSpan(i * words, words));
        }
        return new BitCodes(words, bits, mean);
    }

    /// <summary>The bits of a (prepared) query vector.</summary>
    public ulong[] EncodeQuery(ReadOnlySpan<float> prepared)
    {
        var bits = new ulong[Words];
        Encode(prepared, Mean, bits);
        return bits;
    }

    private static void Encode(ReadOnlySpan<float> vector, ReadOnlySpan<float> mean, Span<ulong> target)
    {
        target.Clear();
        for (var j = 0; j < vector.Length; j++)
        {
            if (vector[j] > mean[j]) target[j >> 6] |= 1UL << (j & 63);
        }
    }

    /// <summary>Hamming distance between a query's bits and vector <paramref name="index"/>'s.</summary>
    public int Hamming(ReadOnlySpan<ulong> query, int index)
    {
        var row = Bits.AsSpan(index * Words, Words);
        var distance = 0;
        for (var w = 0; w < row.Length; w++) distance += BitOperations.PopCount(query[w] ^ row[w]);
        return distance;
    }
}
