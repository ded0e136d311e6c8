namespace SqlRec.Common;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny generator whose sequence is fixed by its seed
/// on every platform and runtime version, unlike <see cref="System.Random"/>'s, so a split is
/// reproducible from its seed alone.
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A number in [0, <paramref name="bound"/>) (multiply-shift on the high 32 bits; bias below 2^-32 * bound).</summary>
    public int NextInt(int bound) => (int)(((Next() >> 32) * (ulong)bound) >> 32);
}
