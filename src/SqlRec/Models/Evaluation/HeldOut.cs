namespace SqlRec.Models;

/// <summary>
/// The held-out (test) items of each evaluated user, in the index space of the model being
/// evaluated: users ascending, each with its held-out items that the model knows (sorted) and the
/// count of all its held-out items, including items the model does not know (they count in
/// |test| and can never be hit).
/// </summary>
internal sealed class HeldOut
{
    /// <summary>Model user index of each evaluated user, ascending.</summary>
    public required int[] Users { get; init; }

    /// <summary>CSR offsets into <see cref="Items"/>, length <c>Users.Length + 1</c>.</summary>
    public required int[] Offsets { get; init; }

    /// <summary>Held-out model item indices, sorted within each user.</summary>
    public required int[] Items { get; init; }

    /// <summary>|test| of each evaluated user: known plus unknown held-out items.</summary>
    public required int[] Counts { get; init; }

    /// <summary>Number of evaluated users.</summary>
    public int UserCount => Users.Length;

    /// <summary>Held-out pairs in all (known and unknown items).</summary>
    public long PairCount => Counts.Sum(c => (long)c);

    /// <summary>Held-out pairs whose item the model does not know.</summary>
    public long UnknownItemPairs => PairCount - Items.Length;

    /// <summary>The known held-out items of the <paramref name="row"/>-th evaluated user.</summary>
    public ReadOnlySpan<int> ItemsOf(int row) => Items.AsSpan(Offsets[row], Offsets[row + 1] - Offsets[row]);
}

/// <summary>Collects distinct held-out pairs in any order and builds a <see cref="HeldOut"/>.</summary>
internal sealed class HeldOutBuilder
{
    private readonly List<long> _known = [];
    private readonly Dictionary<int, int> _unknown = [];

    /// <summary>Adds a held-out item the model knows. Pairs must be distinct.</summary>
    public void AddKnown(int user, int item) => _known.Add(((long)user << 32) | (uint)item);

    /// <summary>Counts one more distinct held-out item of <paramref name="user"/> that the model does not know.</summary>
    public void AddUnknown(int user) => _unknown[user] = _unknown.GetValueOrDefault(user) + 1;

    /// <summary>The held-out set, users ascending.</summary>
    public HeldOut Build()
    {
        var known = _known.ToArray();
        Array.Sort(known);
        var users = known.Select(k => (int)(k >> 32)).Concat(_unknown.Keys).Distinct().Order().ToArray();
        var offsets = new int[users.Length + 1];
        var items = new int[known.Length];
        var counts = new int[users.Length];
        var next = 0;
        for (var row = 0; row < users.Length; row++)
        {
            var user = users[row];
            while (next < known.Length && (int)(known[next] >> 32) == user)
            {
                items[next] = (int)(known[next] & 0xFFFF_FFFF);
                next++;
            }
            offsets[row + 1] = next;
            counts[row] = offsets[row + 1] - offsets[row] + _unknown.GetValueOrDefault(user);
        }
        return new HeldOut { Users = users, Offsets = offsets, Items = items, Counts = counts };
    }
}
