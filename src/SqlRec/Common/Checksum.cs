using System.Buffers.Binary;
using System.Numerics;

namespace SqlRec.Common;

/// <summary>
/// XXH64 (Yann Collet's xxHash, 64-bit): the checksum SqlRec stores beside every array part, id
/// map and collection vector, and checks when it loads them, so a damaged file is refused instead of
/// ranked from. Not a cryptographic hash: it finds accidental damage (a torn write, a flipped bit,
/// an edited row), not a forgery. Written here rather than taken from System.IO.Hashing so the
/// library keeps its one-dependency layers; tests check it against xxHash's reference vectors.
/// </summary>
internal static class Checksum
{
    private const ulong Prime1 = 0x9E3779B185EBCA87UL;
    private const ulong Prime2 = 0xC2B2AE3D27D4EB4FUL;
    private const ulong Prime3 = 0x165667B19E3779F9UL;
    private const ulong Prime4 = 0x85EBCA77C2B2AE63UL;
    private const ulong Prime5 = 0x27D4EB2F165667C5UL;

    /// <summary>The XXH64 of <paramref name="data"/> with <paramref name="seed"/>.</summary>
    public static ulong Hash(ReadOnlySpan<byte> data, ulong seed = 0)
    {
        var length = (ulong)data.Length;
        ulong hash;
        if (data.Length >= 32)
        {
            ulong v1 = seed + Prime1 + Prime2, v2 = seed + Prime2, v3 = seed, v4 = seed - Prime1;
            while (data.Length >= 32)
            {
                v1 = Round(v1, BinaryPrimitives.ReadUInt64LittleEndian(data));
                v2 = Round(v2, BinaryPrimitives.ReadUInt64LittleEndian(data[8..]));
                v3 = Round(v3, BinaryPrimitives.ReadUInt64LittleEndian(data[16..]));
                v4 = Round(v4, BinaryPrimitives.ReadUInt64LittleEndian(data[24..]));
                data = data[32..];
            }
            hash = BitOperations.RotateLeft(v1, 1) + BitOperations.RotateLeft(v2, 7) + BitOperations.RotateLeft(v3, 12) + BitOperations.RotateLeft(v4, 18);
            hash = Merge(hash, v1);
            hash = Merge(hash, v2);
            hash = Merge(hash, v3);
            hash = Merge(hash, v4);
        }
        else
        {
            hash = seed + Prime5;
        }
        hash += length;
        while (data.Length >= 8)
        {
            hash ^= Round(0, BinaryPrimitives.ReadUInt64LittleEndian(data));
            hash = BitOperations.RotateLeft(hash, 27) * Prime1 + Prime4;
            data = data[8..];
        }
        if (data.Length >= 4)
        {
            hash ^= BinaryPrimitives.ReadUInt32LittleEndian(data) * Prime1;
            hash = BitOperations.RotateLeft(hash, 23) * Prime2 + Prime3;
            data = data[4..];
        }
        foreach (var b in data)
        {
            hash ^= b * Prime5;
            hash = BitOperations.RotateLeft(hash, 11) * Prime1;
        }
        hash ^= hash >> 33;
        hash *= Prime2;
        hash ^= hash >> 29;
        hash *= Prime3;
        hash ^= hash >> 32;
        return hash;
    }

    /// <summary>The checksum as SQLite stores it: the same 64 bits as a signed INTEGER.</summary>
    public static long Stored(ReadOnlySpan<byte> data, ulong seed = 0) => unchecked((long)Hash(data, seed));

    /// <summary>
    /// The checksum of an id map (user ids, then item ids, in index order): each id as a type byte
    /// (1 INTEGER, 2 TEXT) and its value (8 bytes little-endian, or the UTF-8 length and bytes).
    /// </summary>
    public static long OfIds(IdIndex users, IdIndex items)
    {
        var buffer = new List<byte>(16 * (users.Count + items.Count) + 16);
        Span<byte> word = stackalloc byte[8];
        foreach (var space in new[] { users, items })
        {
            BinaryPrimitives.WriteInt64LittleEndian(word, space.Count);
            buffer.AddRange(word);
            foreach (var id in space.Ids)
            {
                if (id.IsInteger)
                {
                    buffer.Add(1);
                    BinaryPrimitives.WriteInt64LittleEndian(word, id.Integer);
                    buffer.AddRange(word);
                }
                else
                {
                    var text = System.Text.Encoding.UTF8.GetBytes(id.Text!);
                    buffer.Add(2);
                    BinaryPrimitives.WriteInt64LittleEndian(word, text.Length);
                    buffer.AddRange(word);
                    buffer.AddRange(text);
                }
            }
        }
        return Stored(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buffer));
    }

    private static ulong Round(ulong accumulator, ulong lane)
    {
        accumulator += lane * Prime2;
        accumulator = BitOperations.RotateLeft(accumulator, 31);
        return accumulator * Prime1;
    }

    private static ulong Merge(ulong hash, ulong lane)
    {
        hash ^= Round(0, lane);
        return hash * Prime1 + Prime4;
    }
}
