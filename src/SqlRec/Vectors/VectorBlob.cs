using System.Runtime.InteropServices;

namespace SqlRec.Vectors;

/// <summary>
/// Vectors as SQL values: a BLOB of little-endian float32 values, the format sqlite-vec's
/// <c>vec_f32()</c> produces and <c>vec0</c> float columns store. Decoding is strict: the length
/// must be a whole number of 4-byte values within <see cref="MaxDimensions"/>, and every element
/// must be finite; an error names the element.
/// </summary>
internal static class VectorBlob
{
    /// <summary>Most dimensions a vector may have (sqlite-vec's own limit for a <c>vec0</c> column).</summary>
    public const int MaxDimensions = 8192;

    /// <summary>
    /// Decodes a SQL value into a float vector. <paramref name="what"/> names the value in
    /// messages (<c>'query'</c>, <c>the 'source' query's vector in row 3</c>).
    /// </summary>
    public static float[] Decode(string function, string what, object? value) => value switch
    {
        byte[] blob => Decode(function, what, blob.AsSpan()),
        _ => throw Errors.VectorNotBlob(function, what, value),
    };

    /// <summary>Decodes BLOB bytes into a float vector, checking length and finiteness.</summary>
    public static float[] Decode(string function, string what, ReadOnlySpan<byte> blob)
    {
        if (blob.Length == 0 || blob.Length % sizeof(float) != 0 || blob.Length / sizeof(float) > MaxDimensions)
            throw Errors.VectorBlobLength(function, what, blob.Length, MaxDimensions);
        var vector = MemoryMarshal.Cast<byte, float>(blob).ToArray();
        CheckFinite(function, what, vector);
        return vector;
    }

    /// <summary>Fails on the first NaN or infinite element, naming its index.</summary>
    public static void CheckFinite(string function, string what, ReadOnlySpan<float> vector)
    {
        for (var i = 0; i < vector.Length; i++)
        {
            if (!float.IsFinite(vector[i])) throw Errors.VectorNotFinite(function, what, i, vector[i]);
        }
    }

    /// <summary>The BLOB for a vector (little-endian float32, as <c>vec_f32()</c> makes it).</summary>
    public static byte[] Encode(ReadOnlySpan<float> vector) => MemoryMarshal.AsBytes(vector).ToArray();
}
