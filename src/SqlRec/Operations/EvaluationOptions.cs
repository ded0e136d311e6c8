using SqlRec.Models;

namespace SqlRec.Operations;

/// <summary>
/// Options of one <c>rec_evaluate</c> call, validated before any work starts. Exactly one of
/// <see cref="TestQuery"/> (evaluate the serving version on held-out pairs) and
/// <see cref="Split"/> (retrain the same kind in memory on a split of its source) is set.
/// </summary>
/// <param name="TestQuery">A SELECT returning (user, item) held-out pairs, or null in split mode.</param>
/// <param name="Split">The split method, or null in test mode.</param>
/// <param name="TestRatio">Share of each user's distinct items a random split holds out.</param>
/// <param name="Seed">Seed of a random split.</param>
/// <param name="Cutoffs">The cutoffs K, ascending and distinct.</param>
/// <param name="Save">Store the report with the evaluated version (test mode only).</param>
internal sealed record EvaluationOptions(string? TestQuery, SplitMethod? Split, double TestRatio, int Seed, int[] Cutoffs, bool Save)
{
    /// <summary>Several seeds of a random split to average over (option <c>seeds</c>); null for one split.</summary>
    public int[]? Seeds { get; init; }

    /// <summary>Sampled negatives per user for the sampled metrics (option <c>sampled_negatives</c>); null for none.</summary>
    public int? SampledNegatives { get; init; }

    /// <summary>Sampled negatives drawn in proportion to training interactions (option <c>sampling</c> 'popularity') rather than uniformly.</summary>
    public bool SampleByPopularity { get; init; }

    /// <summary>Default share held out by a random split.</summary>
    public const double DefaultTestRatio = 0.2;

    /// <summary>Default seed of a random split.</summary>
    public const int DefaultSeed = 42;

    /// <summary>The option names of split methods.</summary>
    public static string SplitName(SplitMethod method) => method == SplitMethod.Random ? "random" : "last";

    /// <summary>Reads and checks the options JSON; unknown options and options of the other mode are errors.</summary>
    public static EvaluationOptions Parse(string function, string? json)
    {
        var reader = OptionReader.Parse(function, json);
        var test = reader.String("test");
        var splitText = reader.Has("split") ? reader.Choice("split", "random", "random", "last") : reader.String("split");
        if (test is not null && splitText is not null) throw Errors.EvaluationModeBoth(function);
        // With neither, the default is the seeded random split: rec_evaluate('m', json_object('k', 20)) just works.
        if (test is null) splitText ??= "random";
        var cutoffs = reader.IntegerList("k", [.. RankingMetrics.DefaultCutoffs], 1, Errors.MaxK, "give one cutoff or several, e.g. 20 or json_array(10, 20)");
        var save = reader.Boolean("save", false);
        // Absent: no sampled metrics (0 is outside the range, so only absence gives it).
        var sampledCount = reader.Integer("sampled_negatives", 0, 1, 100_000);
        int? sampled = sampledCount == 0 ? null : (int)sampledCount;
        var byPopularity = reader.Choice("sampling", "uniform", "uniform", "popularity") == "popularity";
        if (test is not null)
        {
            reader.Finish($"{function}() with a 'test' query");
            return new EvaluationOptions(test, null, DefaultTestRatio, DefaultSeed, cutoffs, save) { SampledNegatives = sampled, SampleByPopularity = byPopularity };
        }
        if (save) throw Errors.SaveNeedsTest(function);
        var split = splitText == "random" ? SplitMethod.Random : SplitMethod.Last;
        var ratio = DefaultTestRatio;
        var seed = DefaultSeed;
        if (split == SplitMethod.Random)
        {
            ratio = reader.Number("test_ratio", DefaultTestRatio, 0, 1, minExclusive: true, maxExclusive: true);
            if (reader.Has("seed") && reader.Has("seeds")) throw Errors.SeedAndSeeds(function);
            seed = (int)reader.Integer("seed", DefaultSeed, 0, int.MaxValue);
            if (reader.Has("seeds"))
            {
                var seeds = reader.IntegerList("seeds", [DefaultSeed], 0, int.MaxValue, "give a JSON array of seeds, e.g. json_array(1, 2, 3)");
                reader.Finish($"{function}() with split '{splitText}'");
                return new EvaluationOptions(null, split, ratio, seeds[0], cutoffs, false)
                    { Seeds = seeds.Length > 1 ? seeds : null, SampledNegatives = sampled, SampleByPopularity = byPopularity };
            }
        }
        reader.Finish($"{function}() with split '{splitText}'");
        return new EvaluationOptions(null, split, ratio, seed, cutoffs, false) { SampledNegatives = sampled, SampleByPopularity = byPopularity };
    }
}
