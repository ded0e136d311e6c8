using SqlRec.Compute;
using SqlRec.Vectors;

namespace SqlRec.Models;

/// <summary>
/// A trained version ready to rank: its id maps, each user's training items, the popularity
/// order every kind falls back on, and the kind's trained model (scorer, live scoring, vectors).
/// Built from a version's arrays wherever they come from - the store, or a training in memory
/// (<c>rec_evaluate</c>'s splits, early stopping's validation). Immutable and thread-safe.
/// </summary>
internal sealed class ServableModel
{
    /// <summary>Source label of the rows of items a content model knows only from their features.</summary>
    public const string ContentSource = "content";

    private readonly bool[]? _contentOnly;

    /// <summary>Builds the model from a version's arrays and id maps, loading the kind's part with its options.</summary>
    public static ServableModel Load(IModelKind kind, IKindOptions options, IdIndex users, IdIndex items, IReadOnlyDictionary<string, Array> arrays) =>
        new(kind.Name, kind.Load(new StoredArrays(arrays, users.Count, items.Count), options), users, items, arrays);

    /// <summary>
    /// <see cref="Load"/> for arrays read from a file: they are checked first, once (the arrays every
    /// version carries, then the kind's, see <see cref="IModelKind.CheckStored"/>), so serving never
    /// indexes or ranks from damaged data. The arrays are the caller's to give away: a kind may
    /// transform them in place (<see cref="StoredArrays.Owned"/>). Throws <see cref="StoredDataDamage"/>.
    /// </summary>
    public static ServableModel LoadStored(IModelKind kind, IKindOptions options, IdIndex users, IdIndex items, IReadOnlyDictionary<string, Array> arrays)
    {
        var stored = new StoredArrays(arrays, users.Count, items.Count) { Owned = true };
        stored.CheckCommon();
        kind.CheckStored(stored, options);
        return new(kind.Name, kind.Load(stored, options), users, items, arrays);
    }

    /// <summary>Builds the model around a kind's trained part and the arrays every version carries.</summary>
    public ServableModel(string kind, ITrainedModel trained, IdIndex users, IdIndex items, IReadOnlyDictionary<string, Array> arrays)
    {
        Kind = kind;
        Trained = trained;
        Users = users;
        Items = items;
        SeenOffsets = (int[])arrays[ArrayNames.SeenOffsets];
        SeenItems = (int[])arrays[ArrayNames.SeenItems];
        Popularity = (float[])arrays[ArrayNames.Popularity];
        PopularityOrder = TopK.Order(Popularity);
        if (arrays.TryGetValue(ArrayNames.ContentItems, out var content))
        {
            _contentOnly = new bool[items.Count];
            foreach (var index in (int[])content) _contentOnly[index] = true;
        }
    }

    /// <summary>The name of the kind the version was trained as.</summary>
    public string Kind { get; }

    /// <summary>The users of the training data, in index order.</summary>
    public IdIndex Users { get; }

    /// <summary>The items of the training data (and a content model's items with features), in index order.</summary>
    public IdIndex Items { get; }

    /// <summary>CSR offsets of each user's training items.</summary>
    public int[] SeenOffsets { get; }

    /// <summary>Each user's training items, sorted.</summary>
    public int[] SeenItems { get; }

    /// <summary>Popularity score per item: the cold-start ranking.</summary>
    public float[] Popularity { get; }

    /// <summary>Items by popularity, best first.</summary>
    public int[] PopularityOrder { get; }

    /// <summary>The kind's trained model.</summary>
    public ITrainedModel Trained { get; }

    /// <summary>The kind's scorer; null when it ranks by popularity alone.</summary>
    public IUserScorer? Scorer => Trained.Scorer;

    /// <summary>The <c>source</c> label of a recommended item: <see cref="ContentSource"/> for content-only items, else the kind.</summary>
    public string SourceOf(int item) => _contentOnly is { } content && content[item] ? ContentSource : Kind;

    /// <summary>The sorted training items of <paramref name="user"/>.</summary>
    public ReadOnlySpan<int> SeenBy(int user) => SeenItems.AsSpan(SeenOffsets[user], SeenOffsets[user + 1] - SeenOffsets[user]);

    /// <summary>
    /// The one ranking path (recommend() and rec_evaluate both use it): writes the indices of the
    /// <c>top.Length</c> best items for user index <paramref name="user"/> into <paramref name="top"/>,
    /// best first, leaving out <paramref name="excludedSorted"/>, and returns how many were written
    /// (fewer when fewer candidates exist). A model with a scorer writes every item's score into
    /// <paramref name="scores"/> (at least <c>Items.Count</c> long) and selects exactly with
    /// <see cref="TopK.Select"/>; the popular kind walks <see cref="PopularityOrder"/> and leaves
    /// <paramref name="scores"/> alone (it may be empty). Read the score of a returned item with
    /// <see cref="ScoreOf"/>. Safe to call from many threads at once with separate buffers: the
    /// model is immutable, and scorers must not keep state between calls.
    /// </summary>
    public int TopItems(int user, ReadOnlySpan<int> excludedSorted, Span<int> top, Span<float> scores)
    {
        if (Scorer is null) return TopByPopularity(excludedSorted, top);
        var all = scores[..Items.Count];
        // A scorer that can scores exactly only the items that can reach the top k; the selection is the same.
        if (Scorer is IShortlistScorer shortlist) shortlist.ScoreUserForTop(user, top.Length, excludedSorted, all);
        else Scorer.Score(user, all);
        return TopK.Select(all, top.Length, excludedSorted, top);
    }

    /// <summary>
    /// <see cref="TopItems"/> for a block of users at once, each leaving out its own seen items:
    /// user <c>b</c>'s best <paramref name="k"/> items go to <c>top[b * k ..]</c> and their number to
    /// <c>counts[b]</c>. A scorer that implements <see cref="IBatchScorer"/> scores the whole block in
    /// one call (into <paramref name="scores"/>, <c>users.Length * Items.Count</c> long); others go
    /// user by user (<paramref name="scores"/> at least <c>Items.Count</c> long, or empty for the popular kind).
    /// The selection is <see cref="TopK.Select"/> either way, so the ranking is the one recommend() gives.
    /// </summary>
    public void TopUnseenItems(ReadOnlySpan<int> users, int k, Span<int> top, Span<int> counts, Span<float> scores)
    {
        if (Scorer is IBatchScorer batch && users.Length > 1)
        {
            var items = Items.Count;
            var block = scores[..(users.Length * items)];
            batch.ScoreBatch(users, block);
            for (var b = 0; b < users.Length; b++)
                counts[b] = TopK.Select(block.Slice(b * items, items), k, SeenBy(users[b]), top.Slice(b * k, k));
            return;
        }
        for (var b = 0; b < users.Length; b++) counts[b] = TopItems(users[b], SeenBy(users[b]), top.Slice(b * k, k), scores);
    }

    /// <summary>The best items by popularity alone, leaving out <paramref name="excludedSorted"/>: the popular kind's ranking and every kind's cold start.</summary>
    public int TopByPopularity(ReadOnlySpan<int> excludedSorted, Span<int> top)
    {
        var count = 0;
        foreach (var item in PopularityOrder)
        {
            if (count == top.Length) break;
            if (excludedSorted.Length > 0 && excludedSorted.BinarySearch(item) >= 0) continue;
            top[count++] = item;
        }
        return count;
    }

    /// <summary>
    /// <see cref="TopItems(int, ReadOnlySpan{int}, Span{int}, Span{float})"/> with a candidate restriction and exclusions (<see cref="ItemFilter"/>,
    /// the user's seen items already merged in): the same scores and order, over the allowed items
    /// only, so the result is short only when fewer allowed items exist.
    /// </summary>
    public int TopAllowedItems(int user, ItemFilter filter, Span<int> top, Span<float> scores)
    {
        if (Scorer is null) return TopAllowedByPopularity(filter, top);
        var all = scores[..Items.Count];
        Scorer.Score(user, all);
        return TopK.SelectAmong(all, filter.Candidates, top.Length, filter.Excluded, top);
    }

    /// <summary><see cref="TopByPopularity"/> over the items a filter allows.</summary>
    public int TopAllowedByPopularity(ItemFilter filter, Span<int> top)
    {
        if (filter.Candidates is null) return TopByPopularity(filter.Excluded, top);
        var count = 0;
        foreach (var item in PopularityOrder)
        {
            if (count == top.Length) break;
            if (filter.Candidates.AsSpan().BinarySearch(item) < 0 || filter.Excluded.AsSpan().BinarySearch(item) >= 0) continue;
            top[count++] = item;
        }
        return count;
    }

    /// <summary>The score of an item returned by <see cref="TopItems"/>, given the buffer that call filled.</summary>
    public float ScoreOf(int item, ReadOnlySpan<float> scores) => Scorer is null ? Popularity[item] : scores[item];
}
