namespace SqlRec.Models;

/// <summary>
/// Training data read from a <c>source</c> query: the raw rows (for models that need each event,
/// such as time decay) and the merged user-item matrix in CSR form (duplicates merged, weights
/// summed), rows sorted by user, columns by item.
/// </summary>
internal sealed class Interactions
{
    /// <summary>Users in index order.</summary>
    public required IdIndex Users { get; init; }

    /// <summary>Items in index order.</summary>
    public required IdIndex Items { get; init; }

    /// <summary>User index of each raw row.</summary>
    public required int[] RowUsers { get; init; }

    /// <summary>Item index of each raw row.</summary>
    public required int[] RowItems { get; init; }

    /// <summary>Weight of each raw row (1 when the source has no weight column).</summary>
    public required float[] RowWeights { get; init; }

    /// <summary>Unix time in seconds of each raw row, or null when the source has no timestamp column.</summary>
    public double[]? RowTimes { get; init; }

    /// <summary>CSR row offsets, length users + 1.</summary>
    public required int[] UserOffsets { get; init; }

    /// <summary>CSR column indices (items), sorted within each user.</summary>
    public required int[] UserItems { get; init; }

    /// <summary>CSR values: summed weights of the merged pairs (summed in double; the source refuses an item whose weights add up past float32).</summary>
    public required float[] UserItemWeights { get; init; }

    /// <summary>Number of raw rows read.</summary>
    public int RowCount => RowUsers.Length;

    /// <summary>Number of distinct (user, item) pairs.</summary>
    public int PairCount => UserItems.Length;

    /// <summary>The sorted items a user interacted with.</summary>
    public ReadOnlySpan<int> ItemsOf(int user) => UserItems.AsSpan(UserOffsets[user], UserOffsets[user + 1] - UserOffsets[user]);

    /// <summary>
    /// Builds the index maps and the CSR from raw rows whose user/item numbers are provisional
    /// (first-appearance order) codes into <paramref name="userIds"/> and <paramref name="itemIds"/>.
    /// </summary>
    public static Interactions Build(List<ExternalId> userIds, List<ExternalId> itemIds, int[] rowUsers, int[] rowItems, float[] rowWeights, double[]? rowTimes)
    {
        var users = Reindex(userIds, rowUsers);
        var items = Reindex(itemIds, rowItems);

        // Counting sort by user, then sort each row's items and merge duplicates.
        var userCount = users.Count;
        var offsets = new int[userCount + 1];
        foreach (var u in rowUsers) offsets[u + 1]++;
        for (var u = 0; u < userCount; u++) offsets[u + 1] += offsets[u];
        var cursor = offsets[..^1].ToArray();
        var columns = new int[rowUsers.Length];
        var values = new float[rowUsers.Length];
        for (var r = 0; r < rowUsers.Length; r++)
        {
            var slot = cursor[rowUsers[r]]++;
            columns[slot] = rowItems[r];
            values[slot] = rowWeights[r];
        }
        var mergedOffsets = new int[userCount + 1];
        var write = 0;
        for (var u = 0; u < userCount; u++)
        {
            var start = offsets[u];
            var length = offsets[u + 1] - start;
            Array.Sort(columns, values, start, length);
            // Each merged pair's weights add up in double (many small weights keep their precision)
            // and are stored once, when the pair's run ends; write never passes i, so no unread value is overwritten.
            var sum = 0.0;
            for (var i = start; i < start + length; i++)
            {
                if (write > mergedOffsets[u] && columns[write - 1] == columns[i]) sum += values[i];
                else
                {
                    if (write > mergedOffsets[u]) values[write - 1] = (float)sum;
                    columns[write] = columns[i];
                    sum = values[i];
                    write++;
                }
            }
            if (write > mergedOffsets[u]) values[write - 1] = (float)sum;
            mergedOffsets[u + 1] = write;
        }
        return new Interactions
        {
            Users = users,
            Items = items,
            RowUsers = rowUsers,
            RowItems = rowItems,
            RowWeights = rowWeights,
            RowTimes = rowTimes,
            UserOffsets = mergedOffsets,
            // Without duplicate rows nothing was merged: the sorted arrays are the CSR as they are (no copy of nnz).
            UserItems = write == columns.Length ? columns : columns[..write],
            UserItemWeights = write == values.Length ? values : values[..write],
        };
    }

    /// <summary>
    /// The same interactions over a larger item space: the union of <see cref="Items"/> and
    /// <paramref name="extraItems"/>, in id order. Items that only <paramref name="extraItems"/>
    /// names have no rows (content models score them from their features). The old indices map
    /// to the new ones in increasing order, so each user's items stay sorted. Returns this instance
    /// when no id is new.
    /// </summary>
    public Interactions WithItems(IEnumerable<ExternalId> extraItems)
    {
        var added = new SortedSet<ExternalId>();
        foreach (var id in extraItems)
        {
            if (!Items.TryGetIndex(id, out _)) added.Add(id);
        }
        if (added.Count == 0) return this;
        var union = new ExternalId[Items.Count + added.Count];
        var newIndexOf = new int[Items.Count];
        int old = 0, write = 0;
        using (var extra = added.GetEnumerator())
        {
            var more = extra.MoveNext();
            while (old < Items.Count || more)
            {
                if (more && (old == Items.Count || extra.Current.CompareTo(Items.Ids[old]) < 0))
                {
                    union[write++] = extra.Current;
                    more = extra.MoveNext();
                }
                else
                {
                    newIndexOf[old] = write;
                    union[write++] = Items.Ids[old++];
                }
            }
        }
        return new Interactions
        {
            Users = Users,
            Items = new IdIndex(union),
            RowUsers = RowUsers,
            RowItems = Array.ConvertAll(RowItems, i => newIndexOf[i]),
            RowWeights = RowWeights,
            RowTimes = RowTimes,
            UserOffsets = UserOffsets,
            UserItems = Array.ConvertAll(UserItems, i => newIndexOf[i]),
            UserItemWeights = UserItemWeights,
        };
    }

    /// <summary>Sorts the ids and rewrites <paramref name="codes"/> from provisional codes to sorted indices.</summary>
    private static IdIndex Reindex(List<ExternalId> provisional, int[] codes)
    {
        var order = Enumerable.Range(0, provisional.Count).ToArray();
        var keys = provisional.ToArray();
        Array.Sort(keys, order);
        var newIndexOf = new int[order.Length];
        for (var i = 0; i < order.Length; i++) newIndexOf[order[i]] = i;
        for (var r = 0; r < codes.Length; r++) codes[r] = newIndexOf[codes[r]];
        return new IdIndex(keys);
    }
}
