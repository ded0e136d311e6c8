using System.Runtime.InteropServices;

namespace SqlRec.Common;

/// <summary>
/// Vectors as SQL values: a BLOB of little-endian IEEE float32 values, 4 bytes each, no header -
/// exactly what sqlite-vec's <c>vec_f32()</c> produces and <c>vec0</c> float columns store.
/// Decoding is strict: the length must be a whole number of 4-byte values within
/// <see cref="MaxDimensions"/>, every element must be finite, and the dimension must be the
/// expected one when one is given; an error names the element. <c>what</c> names the value in
/// messages as a ready phrase (<c>'query'</c>, <c>the 'source' query's vector in row 3</c>).
/// </summary>
internal static class VectorBlob
{
    /// <summary>Bytes per element.</summary>
    public const int ElementSize = sizeof(float);

    /// <summary>Most dimensions a vector may have (sqlite-vec's own limit for a <c>vec0</c> column).</summary>
    public const int MaxDimensions = 8192;

    /// <summary>Decodes a SQL value into a float vector; anything but a BLOB is refused.</summary>
    public static float[] Decode(string function, string what, object? value) => value switch
    {
        byte[] blob => Decode(function, what, blob.AsSpan()),
        _ => throw Errors.VectorNotBlob(function, what, value),
    };

    /// <summary>Decodes BLOB bytes into a float vector, checking length and finiteness.</summary>
    public static float[] Decode(string function, string what, ReadOnlySpan<byte> blob)
    {
        if (blob.Length == 0 || blob.Length % ElementSize != 0 || blob.Length / ElementSize > MaxDimensions)
            throw Errors.VectorBlobLength(function, what, blob.Length, MaxDimensions);
        // UseSqlRec() refuses big-endian machines, so the bytes are the floats as they are.
        var vector = MemoryMarshal.Cast<byte, float>(blob).ToArray();
        CheckFinite(function, what, vector);
        return vector;
    }

    /// <summary>Decodes like <see cref="Decode(string, string, ReadOnlySpan{byte})"/> and also checks the dimension.</summary>
    public static float[] ToFloats(string function, string what, ReadOnlySpan<byte> blob, int? expectedDimension = null)
    {
        var vector = Decode(function, what, blob);
        if (expectedDimension is { } expected && expected != vector.Length)
            throw Errors.VectorDimensionMismatch(function, what, expected, vector.Length);
        return vector;
    }

    /// <summary>Encodes checked values: non-finite elements are refused, naming the element.</summary>
    public static byte[] FromFloats(string function, string what, ReadOnlySpan<float> values)
    {
        CheckFinite(function, what, values);
        return Encode(values);
    }

    /// <summary>Fails on the first NaN or infinite element, naming its index.</summary>
    public static void CheckFinite(string function, string what, ReadOnlySpan<float> vector)
    {
        var index = IndexOfNonFinite(vector);
        if (index >= 0) throw Errors.VectorNotFinite(function, what, index, vector[index]);
    }

    /// <summary>The index of the first NaN or infinite element, or -1.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i])) return i;
        }
        return -1;
    }

    /// <summary>The BLOB of already-checked values (the machine is little-endian: UseSqlRec() refuses others).</summary>
    public static byte[] Encode(ReadOnlySpan<float> values) => MemoryMarshal.AsBytes(values).ToArray();
}
