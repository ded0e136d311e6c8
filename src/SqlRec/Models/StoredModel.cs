namespace SqlRec.Models;

/// <summary>Names of the arrays every model version stores.</summary>
internal static class ArrayNames
{
    /// <summary>Popularity score per item (float): the cold-start ranking.</summary>
    public const string Popularity = "popularity";

    /// <summary>CSR offsets of the items each user interacted with in training (int, users + 1).</summary>
    public const string SeenOffsets = "seen_offsets";

    /// <summary>CSR item indices, sorted within each user (int).</summary>
    public const string SeenItems = "seen_items";

    /// <summary>
    /// Sorted indices of the items a content model knows only from their features (no training
    /// interaction) (int). Optional: recommend() labels such rows <c>content</c>.
    /// </summary>
    public const string ContentItems = "content_items";
}

/// <summary>Weighted, optionally time-decayed interaction counts per item.</summary>
internal static class Popularity
{
    /// <summary>
    /// Sums each raw row's weight into its item; with a half-life, a row <c>age</c> days older than
    /// the newest row counts <c>weight * 2^(-age / half_life)</c>. Reference time is the newest
    /// timestamp in the data, so the ranking does not change with the wall clock.
    /// </summary>
    public static float[] Compute(Interactions data, double? halfLifeDays)
    {
        var scores = new double[data.Items.Count];
        if (halfLifeDays is { } halfLife && data.RowTimes is { } times)
        {
            var newest = times.Max();
            var perSecond = 1.0 / (halfLife * 86_400.0);
            for (var r = 0; r < data.RowCount; r++)
                scores[data.RowItems[r]] += data.RowWeights[r] * Math.Pow(2, -(newest - times[r]) * perSecond);
        }
        else
        {
            for (var r = 0; r < data.RowCount; r++) scores[data.RowItems[r]] += data.RowWeights[r];
        }
        return Array.ConvertAll(scores, s => (float)s);
    }
}

/// <summary>Trains a kind and adds the arrays every version carries.</summary>
internal static class ModelTraining
{
    /// <summary>
    /// Trains <paramref name="kind"/> on <paramref name="data"/> in memory and adds the arrays every
    /// version carries (popularity, seen items). Touches no database: <c>rec_train</c> stores the
    /// result, <c>rec_evaluate</c>'s splits serve it straight from memory. A content kind gets its
    /// item <paramref name="content"/>, aligned to <paramref name="data"/>'s items.
    /// </summary>
    public static ModelArtifacts Train(IModelKind kind, IKindOptions options, Interactions data, ItemContent? content, TrainingContext context)
    {
        var artifacts = kind.Train(data, content, options, context);
        artifacts.Arrays.TryAdd(ArrayNames.Popularity, Popularity.Compute(data, null));
        artifacts.Arrays[ArrayNames.SeenOffsets] = data.UserOffsets;
        artifacts.Arrays[ArrayNames.SeenItems] = data.UserItems;
        // A user's seen items are one slice for paged serving (recommend() before a version is loaded).
        artifacts.SmallParts.Add(ArrayNames.SeenItems);
        return artifacts;
    }
}
