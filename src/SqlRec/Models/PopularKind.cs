using System.Text.Json.Nodes;
using SqlRec.Data;

namespace SqlRec.Models;

/// <summary>
/// The <c>popular</c> model: items ranked by their summed interaction weight, optionally with
/// exponential time decay (an interaction <c>half_life_days</c> older than the newest one counts
/// half). The same scores serve every model's cold-start fallback.
/// </summary>
internal sealed class PopularKind : IModelKind
{
    /// <summary>Options of the popular model.</summary>
    /// <param name="HalfLifeDays">Half-life of the time decay in days; null for no decay.</param>
    internal sealed record Options(double? HalfLifeDays) : IKindOptions
    {
        public JsonObject ToJson() => new() { ["half_life_days"] = HalfLifeDays };
    }

    public string Name => "popular";

    public IKindOptions ReadOptions(OptionReader reader) =>
        new Options(reader.OptionalNumber("half_life_days", 0, 1e6, minExclusive: true));

    public void CheckSource(IKindOptions options, int sourceColumns)
    {
        if (((Options)options).HalfLifeDays is not null && sourceColumns < 4) throw Errors.DecayNeedsTimestamp("rec_train");
    }

    public void CheckData(Interactions data, IKindOptions options)
    {
    }

    public ModelArtifacts Train(Interactions data, IKindOptions options, TrainingContext context)
    {
        var artifacts = new ModelArtifacts();
        artifacts.Arrays[ArrayNames.Popularity] = Popularity.Compute(data, ((Options)options).HalfLifeDays);
        return artifacts;
    }

    public IUserScorer? LoadScorer(IReadOnlyDictionary<string, Array> arrays, int users, int items) => null;
}

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
