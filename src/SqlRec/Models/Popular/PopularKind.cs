namespace SqlRec.Models;

/// <summary>
/// The <c>popular</c> model: items ranked by their summed interaction weight, optionally with
/// exponential time decay (an interaction <c>half_life_days</c> older than the newest one counts
/// half). The same scores serve every model's cold-start fallback.
/// </summary>
internal sealed class PopularKind : IModelKind
{
    private static readonly OptionSpec<double?> HalfLifeDays = Option.OptionalReal("half_life_days", 0, 1e6,
        "exponential time decay: an interaction this many days older than the newest one counts half. Needs the timestamp column.", minExclusive: true);

    /// <summary>Options of the popular model.</summary>
    internal sealed record Options(OptionValues Values) : TableOptions(Values)
    {
        /// <summary>Half-life of the time decay in days; null for no decay.</summary>
        public double? HalfLifeDays => Values.Get(PopularKind.HalfLifeDays);
    }

    private sealed class Trained : ITrainedModel
    {
        public IUserScorer? Scorer => null;
    }

    public string Name => "popular";

    public OptionTable OptionTable { get; } = new(HalfLifeDays);

    public string? VectorsFrom => null;

    public IKindOptions ReadOptions(OptionValues values) => new Options(values);

    public void CheckSource(IKindOptions options, int sourceColumns, TrainingContext context)
    {
        if (((Options)options).HalfLifeDays is not null && sourceColumns < 4) throw Errors.DecayNeedsTimestamp(context.Function);
    }

    public void CheckData(Interactions data, ItemContent? content, IKindOptions options, TrainingContext context)
    {
    }

    public MemoryEstimate? EstimateMemory(Interactions data, ItemContent? content, IKindOptions options) => null;

    public ModelArtifacts Train(Interactions data, ItemContent? content, IKindOptions options, TrainingContext context)
    {
        var artifacts = new ModelArtifacts();
        artifacts.Arrays[ArrayNames.Popularity] = Popularity.Compute(data, ((Options)options).HalfLifeDays);
        return artifacts;
    }

    public ITrainedModel Load(StoredArrays stored, IKindOptions options) => new Trained();

    /// <summary>Nothing beyond the popularity every version carries.</summary>
    public void CheckStored(StoredArrays stored, IKindOptions options)
    {
    }
}

