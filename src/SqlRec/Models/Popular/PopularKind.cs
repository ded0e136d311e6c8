namespace SqlRec.Models;

/// <summary>
/// The <c>popular</c> model: items ranked by their summed interaction weight, optionally with
/// exponential time decay (an interaction <c>half_life_days</c> older than the newest one counts
/// half). The same scores serve every model's cold-start fallback.
/// </summary>
internal sealed class PopularKind : IModelKind, IPagedKind
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

    /// <summary>A user's answer needs the user's seen items (in small parts since paging exists) and the popularity.</summary>
    public IPagedModel? OpenPaged(IPagedArrays pages, int users, int items, IKindOptions options)
    {
        if (!pages.HasSmallParts(ArrayNames.SeenItems)) return null;
        var offsets = PagedSeenItems.ReadOffsets(pages, ArrayNames.SeenOffsets, users, "one per user, plus one");
        var popularity = pages.ReadWhole<float>(ArrayNames.Popularity, items);
        var bad = VectorBlob.IndexOfNonFinite(popularity);
        if (bad >= 0) throw Errors.Damaged(Errors.DamagedArrayNotFinite(ArrayNames.Popularity, bad, popularity[bad]));
        return new Paged(offsets, popularity, users, items);
    }

    /// <summary>The popularity order without the user's seen items, as the loaded version ranks.</summary>
    private sealed class Paged(int[] offsets, float[] popularity, int users, int items) : IPagedModel
    {
        public bool ScoresLiveRows => false;

        // A whole load reads the id maps (about 40 bytes an id) and the seen items.
        public double WholeLoadBytes => 40.0 * ((double)users + items) + 4.0 * offsets[^1];

        public IPagedCall Begin(IPagedArrays pages) => new Call(new PagedSeenItems(pages, offsets, items), popularity);

        private sealed class Call(PagedSeenItems seen, float[] popularity) : IPagedCall
        {
            public int[] SeenBy(int user) => seen.Of(user);

            public void ScoreForTop(int[] row, int k, int[] excludedSorted, float[] scores) => popularity.CopyTo(scores, 0);

            public void Dispose() => seen.Dispose();
        }
    }
}

