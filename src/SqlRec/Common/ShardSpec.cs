using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SqlRec.Common;

/// <summary>
/// One shard of a batch scoring job, written <c>i/n</c>: shard <see cref="Index"/> (0 to n - 1) of
/// <see cref="Count"/> shards. A user belongs to shard <c>XXH64(utf8(text of the id), seed 0) mod n</c>,
/// where the text of an INTEGER id is its decimal digits (as <c>CAST(id AS TEXT)</c> gives it:
/// <c>-42</c>) and the text of a TEXT id is the text itself. The hash is fixed (no per-process seed,
/// unlike <c>string.GetHashCode</c>), reads the same bytes on every platform, and any language with an
/// xxHash library computes the same shard; so the n shards of a job are disjoint, cover every user,
/// and a job split across processes or machines scores each user exactly once.
/// </summary>
internal readonly partial record struct ShardSpec(int Index, int Count)
{
    /// <summary>Most shards a job may be split into.</summary>
    public const int MaxCount = 65_536;

    /// <summary>The whole job: one shard.</summary>
    public static readonly ShardSpec Whole = new(0, 1);

    /// <summary>Reads <c>i/n</c> (digits only, no spaces or signs); null when the text is not a valid spec.</summary>
    public static ShardSpec? TryParse(string? text)
    {
        if (text is null) return null;
        var match = Pattern().Match(text);
        if (!match.Success) return null;
        if (!int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var index)) return null;
        if (!int.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var count)) return null;
        if (count < 1 || count > MaxCount || index >= count) return null;
        return new ShardSpec(index, count);
    }

    /// <summary>The shard (0 to <paramref name="count"/> - 1) that <paramref name="id"/> belongs to among <paramref name="count"/>.</summary>
    public static int Of(ExternalId id, int count)
    {
        var text = id.IsInteger ? id.Integer.ToString(CultureInfo.InvariantCulture) : id.Text!;
        var bytes = Encoding.UTF8.GetBytes(text);
        return (int)(Checksum.Hash(bytes) % (ulong)count);
    }

    /// <summary>True when <paramref name="id"/> is in this shard.</summary>
    public bool Contains(ExternalId id) => Count == 1 || Of(id, Count) == Index;

    /// <inheritdoc />
    public override string ToString() => $"{Index.ToString(CultureInfo.InvariantCulture)}/{Count.ToString(CultureInfo.InvariantCulture)}";

    [GeneratedRegex(@"^([0-9]{1,6})/([0-9]{1,6})$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
