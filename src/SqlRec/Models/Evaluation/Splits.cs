
namespace SqlRec.Models;

/// <summary>How <c>rec_evaluate</c> holds interactions out of the training data.</summary>
internal enum SplitMethod
{
    /// <summary>Per user, a random <c>test_ratio</c> of the distinct items.</summary>
    Random,

    /// <summary>Per user, the item of the newest interaction (leave-last-out).</summary>
    Last,
}

/// <summary>Training part (raw rows, re-indexed) and held-out part (in the training part's index space) of a split.</summary>
/// <param name="Train">The interactions left for training, with their own id maps.</param>
/// <param name="HeldOut">The held-out pairs, users and items as indices of <paramref name="Train"/>.</param>
internal sealed record SplitData(Interactions Train, HeldOut HeldOut);

/// <summary>
/// Splits interactions into training and held-out parts. The unit held out is a distinct
/// (user, item) pair with all its raw rows, so the two parts never share a pair; users with fewer
/// than 2 distinct items keep everything in training. Users are visited in index order (the
/// order of their ids), so a split depends only on the data and the seed, not on the order the
/// source query returned rows in (except for ties of <see cref="SplitMethod.Last"/>).
/// </summary>
internal static class Splits
{
    /// <summary>Splits <paramref name="data"/>; <paramref name="testRatio"/> and <paramref name="seed"/> are used by <see cref="SplitMethod.Random"/> only.</summary>
    /// <param name="data">The interactions to split.</param>
    /// <param name="method">How to choose the held-out pairs.</param>
    /// <param name="testRatio">Share of each user's distinct items held out (random split).</param>
    /// <param name="seed">Seed of the random split.</param>
    /// <param name="keepAllItems">
    /// Keep every item of <paramref name="data"/> in the training part's item index, also items
    /// left with no training row, so both parts share <paramref name="data"/>'s item indices and
    /// no held-out item is unknown. Content models use it: they score such items from their features.
    /// </param>
    public static SplitData Split(Interactions data, SplitMethod method, double testRatio, int seed, bool keepAllItems = false) => method switch
    {
        SplitMethod.Random => Build(data, RandomTestItems(data, testRatio, seed), keepAllItems),
        SplitMethod.Last => Build(data, LastTestItems(data), keepAllItems),
        _ => throw new ArgumentOutOfRangeException(nameof(method)),
    };

    /// <summary>
    /// How many of a user's <paramref name="items"/> distinct items a random split holds out:
    /// <c>round(items * ratio)</c> (halves away from zero), at least 1 and at most items - 1; 0 below 2 items.
    /// </summary>
    public static int TestCount(int items, double ratio) =>
        items < 2 ? 0 : Math.Clamp((int)Math.Round(items * ratio, MidpointRounding.AwayFromZero), 1, items - 1);

    /// <summary>Per user, sorted held-out items (CSR offsets and items, in <paramref name="data"/>'s indices).</summary>
    private static (int[] Offsets, int[] Items) RandomTestItems(Interactions data, double ratio, int seed)
    {
        var random = new SplitMix64((ulong)seed);
        var offsets = new int[data.Users.Count + 1];
        var items = new List<int>();
        var scratch = new List<int>();
        for (var user = 0; user < data.Users.Count; user++)
        {
            var own = data.ItemsOf(user);
            var take = TestCount(own.Length, ratio);
            if (take > 0)
            {
                // A partial Fisher-Yates shuffle picks `take` distinct items uniformly.
                scratch.Clear();
                foreach (var item in own) scratch.Add(item);
                for (var i = 0; i < take; i++)
                {
                    var j = i + random.NextInt(own.Length - i);
                    (scratch[i], scratch[j]) = (scratch[j], scratch[i]);
                }
                scratch.Sort(0, take, Comparer<int>.Default);
                items.AddRange(scratch.GetRange(0, take));
            }
            offsets[user + 1] = items.Count;
        }
        return (offsets, [.. items]);
    }

    /// <summary>Per user with 2 or more distinct items, the item of its newest raw row; a later row wins a tie.</summary>
    private static (int[] Offsets, int[] Items) LastTestItems(Interactions data)
    {
        var times = data.RowTimes ?? throw new InvalidOperationException("a 'last' split needs timestamps");
        var newest = new int[data.Users.Count];
        Array.Fill(newest, -1);
        for (var row = 0; row < data.RowCount; row++)
        {
            var user = data.RowUsers[row];
            if (newest[user] < 0 || times[row] >= times[newest[user]]) newest[user] = row;
        }
        var offsets = new int[data.Users.Count + 1];
        var items = new List<int>();
        for (var user = 0; user < data.Users.Count; user++)
        {
            if (data.ItemsOf(user).Length >= 2) items.Add(data.RowItems[newest[user]]);
            offsets[user + 1] = items.Count;
        }
        return (offsets, [.. items]);
    }

    private static SplitData Build(Interactions data, (int[] Offsets, int[] Items) test, bool keepAllItems)
    {
        var (testOffsets, testItems) = test;
        bool IsTest(int user, int item) =>
            Array.BinarySearch(testItems, testOffsets[user], testOffsets[user + 1] - testOffsets[user], item) >= 0;

        // Training rows: every raw row whose pair is not held out, with new dense codes for the users and items left.
        var userCode = new int[data.Users.Count];
        var itemCode = new int[data.Items.Count];
        Array.Fill(userCode, -1);
        Array.Fill(itemCode, -1);
        var keep = new List<int>(data.RowCount);
        for (var row = 0; row < data.RowCount; row++)
        {
            if (IsTest(data.RowUsers[row], data.RowItems[row])) continue;
            keep.Add(row);
            userCode[data.RowUsers[row]] = 0;
            itemCode[data.RowItems[row]] = 0;
        }
        if (keepAllItems) Array.Fill(itemCode, 0);
        var userIds = Compact(userCode, data.Users);
        var itemIds = Compact(itemCode, data.Items);
        var rowUsers = new int[keep.Count];
        var rowItems = new int[keep.Count];
        var rowWeights = new float[keep.Count];
        var rowTimes = data.RowTimes is null ? null : new double[keep.Count];
        for (var i = 0; i < keep.Count; i++)
        {
            var row = keep[i];
            rowUsers[i] = userCode[data.RowUsers[row]];
            rowItems[i] = itemCode[data.RowItems[row]];
            rowWeights[i] = data.RowWeights[row];
            if (rowTimes != null) rowTimes[i] = data.RowTimes![row];
        }
        var train = Interactions.Build(userIds, itemIds, rowUsers, rowItems, rowWeights, rowTimes);

        // Held-out pairs in the training part's indices; an item held out by every user that has it is unknown to the model.
        var heldOut = new HeldOutBuilder();
        for (var user = 0; user < data.Users.Count; user++)
        {
            if (testOffsets[user] == testOffsets[user + 1]) continue;
            if (!train.Users.TryGetIndex(data.Users.Ids[user], out var trainUser))
                throw new InvalidOperationException("a split left a user with a held-out item and no training item");
            for (var i = testOffsets[user]; i < testOffsets[user + 1]; i++)
            {
                if (train.Items.TryGetIndex(data.Items.Ids[testItems[i]], out var trainItem)) heldOut.AddKnown(trainUser, trainItem);
                else heldOut.AddUnknown(trainUser);
            }
        }
        return new SplitData(train, heldOut.Build());
    }

    /// <summary>Numbers the marked entries (code 0) in index order and returns their ids; unmarked ones stay -1.</summary>
    private static List<ExternalId> Compact(int[] codes, IdIndex index)
    {
        var ids = new List<ExternalId>();
        for (var i = 0; i < codes.Length; i++)
        {
            if (codes[i] < 0) continue;
            codes[i] = ids.Count;
            ids.Add(index.Ids[i]);
        }
        return ids;
    }
}
