using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SqlRec.Vectors;

/// <summary>
/// The vector format SqlRec reads and writes: a BLOB of little-endian IEEE float32 values, 4 bytes
/// each, no header - exactly what sqlite-vec's <c>vec0</c> tables and <c>vec_*</c> functions take
/// for a <c>float[N]</c> vector. Every conversion checks strictly: a whole number of floats, no NaN
/// or infinity (the message names the element), and the expected dimension when one is given.
/// </summary>
internal static class VectorBlob
{
    /// <summary>Bytes per element.</summary>
    public const int ElementSize = sizeof(float);

    /// <summary>
    /// Encodes <paramref name="values"/> as a vector BLOB. Non-finite elements are refused with
    /// <paramref name="function"/> and <paramref name="argument"/> in the message.
    /// </summary>
    public static byte[] FromFloats(string function, string argument, ReadOnlySpan<float> values)
    {
        var index = IndexOfNonFinite(values);
        if (index >= 0) throw Errors.VectorNotFinite(function, argument, index, values[index]);
        return Encode(values);
    }

    /// <summary>Encodes already-checked values (little-endian regardless of the machine).</summary>
    public static byte[] Encode(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * ElementSize];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(bytes);
        }
        else
        {
            for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * ElementSize), values[i]);
        }
        return bytes;
    }

    /// <summary>
    /// Decodes a vector BLOB. Fails when its length is not a multiple of 4, when an element is NaN
    /// or infinite, or when <paramref name="expectedDimension"/> is given and differs.
    /// </summary>
    public static float[] ToFloats(string function, string argument, ReadOnlySpan<byte> blob, int? expectedDimension = null)
    {
        if (blob.Length % ElementSize != 0) throw Errors.VectorBlobLength(function, argument, blob.Length);
        var dimension = blob.Length / ElementSize;
        if (expectedDimension is { } expected && expected != dimension) throw Errors.VectorDimensionMismatch(function, argument, expected, dimension);
        var values = new float[dimension];
        for (var i = 0; i < dimension; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(blob[(i * ElementSize)..]);
        var index = IndexOfNonFinite(values);
        if (index >= 0) throw Errors.VectorNotFinite(function, argument, index, values[index]);
        return values;
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
}
