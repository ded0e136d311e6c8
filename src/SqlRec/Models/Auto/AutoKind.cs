using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SqlRec.Models;

/// <summary>
/// <c>auto</c>, the kind used when <c>model</c> is omitted: picks the kind for the user's data. It
/// holds out a seeded random share of each user's items (<c>validation_ratio</c>), trains each
/// candidate configuration in memory on the rest - cheapest first: <c>popular</c>, <c>graph_filter</c>
/// variants, <c>ease</c> over a grid of <c>lambda</c> where its items x items matrix fits,
/// <c>lightgcn</c> with what is left of <c>budget_seconds</c> - ranks every item for every held-out
/// user (full ranking, training items excluded), and keeps the configuration with the best
/// validation <c>metric</c>@<c>k</c>. The operations layer then trains the winner on all the data and
/// stores it as a version of the winning kind, with the leaderboard in its metrics under
/// <c>"auto"</c>. Deterministic for a seed as long as the budget does not cut a candidate short
/// (the leaderboard says when it did).
/// </summary>
internal sealed class AutoKind : IModelKind
{
    /// <summary>The kinds auto may try: those trained from the source alone.</summary>
    private static readonly string[] Tryable = ["popular", "graph_filter", "ease", "lightgcn"];

    private static readonly OptionSpec<double> Budget = Option.Real("budget_seconds", 60, 1, 86_400,
        "time for trying candidates (training and validating each); candidates are tried cheapest first, and one still training when the budget ends is stopped and left out. The final training on all data comes on top");
    private static readonly OptionSpec<string> Metric = Option.Choice("metric", "ndcg", ["ndcg", "recall"],
        "the validation metric the best candidate is chosen by, at cutoff `k`");
    private static readonly OptionSpec<int> K = Option.Integer("k", 20, 1, 1000, "the cutoff of the validation metric");
    private static readonly OptionSpec<double> ValidationRatio = Option.Real("validation_ratio", 0.2, 0, 1,
        "share of each user's distinct items held out for validation (as `rec_evaluate`'s random split: at least 1, at most n - 1; users with 1 item keep it)", minExclusive: true, maxExclusive: true);
    private static readonly OptionSpec<int> Seed = Option.Integer("seed", 42, 0, int.MaxValue, "seed of the validation split and of every candidate");
    private static readonly OptionSpec<string[]> Candidates = Option.Custom("candidates", "JSON array", "all four", "a non-empty JSON array of " + string.Join(", ", Tryable.Select(k => $"'{k}'")),
        "the kinds to try, e.g. `json_array('graph_filter', 'ease')`; each with its grid (see below)", ReadCandidates,
        value => new JsonArray([.. value.Select(v => (JsonNode)v)]), example: "json_array('popular', 'ease')");

    /// <summary>Options of auto.</summary>
    internal sealed record Options(OptionValues Values) : TableOptions(Values)
    {
        public double BudgetSeconds => Values.Get(Budget);
        public string Metric => Values.Get(AutoKind.Metric);
        public int K => Values.Get(AutoKind.K);
        public double ValidationRatio => Values.Get(AutoKind.ValidationRatio);
        public int Seed => Values.Get(AutoKind.Seed);
        public string[] Candidates => Values.Get(AutoKind.Candidates);
    }

    public string Name => "auto";

    public OptionTable OptionTable { get; } = new(Budget, Metric, K, ValidationRatio, Seed, Candidates);

    public string? VectorsFrom => null;

    public IKindOptions ReadOptions(OptionValues values) => new Options(values);

    private static string[] ReadCandidates(OptionReader reader, string name)
    {
        if (reader.Json(name) is not { } json) return Tryable;
        var got = json.ValueKind == JsonValueKind.String ? $"\"{json.GetString()}\"" : json.GetRawText();
        if (json.ValueKind != JsonValueKind.Array || json.GetArrayLength() == 0) throw Errors.AutoCandidatesInvalid(reader.Function, Cut(got), Tryable);
        var kinds = new List<string>();
        foreach (var element in json.EnumerateArray())
        {
            if (element.ValueKind != JsonValueKind.String || !Tryable.Contains(element.GetString())) throw Errors.AutoCandidatesInvalid(reader.Function, Cut(got), Tryable);
            if (!kinds.Contains(element.GetString()!)) kinds.Add(element.GetString()!);
        }
        return [.. Tryable.Where(kinds.Contains)];
    }

    private static string Cut(string text) => text.Length > 100 ? text[..100] + "..." : text;

    public void CheckData(Interactions data, ItemContent? content, IKindOptions options, TrainingContext context)
    {
        if (data.Users.Count < 2 || data.Items.Count < 2)
            throw Errors.SourceTooSmall(context.Function, Name, "at least 2 users and 2 items");
        var anyTwo = false;
        for (var u = 0; u < data.Users.Count && !anyTwo; u++) anyTwo = data.UserOffsets[u + 1] - data.UserOffsets[u] >= 2;
        if (!anyTwo) throw Errors.AutoNoValidation(context.Function);
    }

    public MemoryEstimate? EstimateMemory(Interactions data, ItemContent? content, IKindOptions options) => null;

    public ModelArtifacts Train(Interactions data, ItemContent? content, IKindOptions options, TrainingContext context) =>
        throw new InvalidOperationException("'auto' chooses a kind (AutoKind.Choose) and that kind is trained");

    /// <summary>SqlRec never stores a version as 'auto' (the chosen kind is stored): a file that says so was edited.</summary>
    public void CheckStored(StoredArrays stored, IKindOptions options) =>
        throw Errors.Damaged(Errors.DamagedKind(Name, "a model kind; 'auto' only chooses one"));

    public ITrainedModel Load(StoredArrays stored, IKindOptions options) =>
        throw new InvalidOperationException("no version is stored as 'auto': the chosen kind is");

    /// <summary>Each kind's grid: option JSON objects, cheapest first.</summary>
    internal static IEnumerable<string> Grid(string kind, int seed) => kind switch
    {
        "popular" => ["{}"],
        "graph_filter" => ["{\"components\":0}", $"{{\"components\":64,\"seed\":{seed}}}", $"{{\"seed\":{seed}}}", $"{{\"components\":256,\"alpha\":1,\"seed\":{seed}}}"],
        "ease" => ["{\"lambda\":100}", "{\"lambda\":250}", "{\"lambda\":500}", "{\"lambda\":1000}"],
        "lightgcn" => [$"{{\"init\":\"spectral\",\"batch\":4096,\"lr\":0.01,\"epochs\":400,\"validation_ratio\":0.1,\"eval_every\":10,\"patience\":3,\"seed\":{seed}}}"],
        _ => [],
    };

    /// <summary>One tried configuration and how it did.</summary>
    internal sealed record Entry(string Kind, string OptionsJson, double? Recall, double? Ndcg, double Seconds, string? Skipped);

    /// <summary>
    /// Tries the candidates on a validation split of <paramref name="data"/> and returns the best
    /// kind with its options, and the leaderboard (JSON) to store with the version.
    /// <paramref name="fits"/> says whether a configuration's training fits in memory (the caller
    /// knows the process's limit); <paramref name="resolve"/> finds a kind by name.
    /// </summary>
    internal static (IModelKind Kind, IKindOptions Options, JsonObject Report) Choose(Interactions data, Options options, TrainingContext context,
        Func<string, IModelKind> resolve, Func<IModelKind, IKindOptions, Interactions, string?> fits)
    {
        var clock = Stopwatch.StartNew();
        var parts = Splits.Split(data, SplitMethod.Random, options.ValidationRatio, options.Seed);
        var entries = new List<Entry>();
        (IModelKind Kind, IKindOptions Options, double Score)? best = null;
        var configurations = options.Candidates.SelectMany(kind => Grid(kind, options.Seed).Select(json => (kind, json))).ToList();
        var index = 0;
        foreach (var (kindName, json) in configurations)
        {
            index++;
            var kind = resolve(kindName);
            var kindOptions = kind.ReadOptions(kind.OptionTable.Read(OptionReader.Parse(context.Function, json)));
            var remaining = options.BudgetSeconds - clock.Elapsed.TotalSeconds;
            if (remaining <= 0)
            {
                entries.Add(new Entry(kindName, json, null, null, 0, "the budget was spent"));
                continue;
            }
            if (kindName == "ease" && EaseSeconds(parts.Train.Items.Count) > remaining)
            {
                entries.Add(new Entry(kindName, json, null, null, 0, $"would take about {EaseSeconds(parts.Train.Items.Count):F0} s for {parts.Train.Items.Count:N0} items, more than the budget left"));
                continue;
            }
            context.Report("choosing", index - 1, configurations.Count, $"{kindName} {json}");
            var started = clock.Elapsed.TotalSeconds;
            try
            {
                kind.CheckData(parts.Train, null, kindOptions, context);
                if (fits(kind, kindOptions, parts.Train) is { } tooLarge)
                {
                    entries.Add(new Entry(kindName, json, null, null, 0, tooLarge));
                    continue;
                }
                using var budget = CancellationTokenSource.CreateLinkedTokenSource(context.Cancellation);
                budget.CancelAfter(TimeSpan.FromSeconds(remaining));
                var candidateContext = new TrainingContext(context.Function, context.ModelName, null, budget.Token)
                {
                    Interrupted = context.Interrupted,
                    Heartbeat = context.Heartbeat,
                    Devices = context.Devices,
                };
                var artifacts = ModelTraining.Train(kind, kindOptions, parts.Train, null, candidateContext);
                var model = ServableModel.Load(kind, kindOptions, parts.Train.Users, parts.Train.Items, artifacts.Arrays);
                var summary = RankingEvaluator.Run(model, parts.HeldOut, [options.K]);
                var recall = summary[$"recall@{options.K}"];
                var ndcg = summary[$"ndcg@{options.K}"];
                entries.Add(new Entry(kindName, json, recall, ndcg, clock.Elapsed.TotalSeconds - started, null));
                var score = options.Metric == "recall" ? recall : ndcg;
                if (best is null || score > best.Value.Score) best = (kind, kindOptions, score);
            }
            catch (OperationCanceledException) when (!context.Cancellation.IsCancellationRequested && context.Interrupted?.Invoke() != true)
            {
                entries.Add(new Entry(kindName, json, null, null, clock.Elapsed.TotalSeconds - started, "stopped at the end of the budget"));
            }
            catch (SqlRecException refused)
            {
                var reason = refused.Message.StartsWith(context.Function + "(): ", StringComparison.Ordinal) ? refused.Message[(context.Function.Length + 4)..] : refused.Message;
                entries.Add(new Entry(kindName, json, null, null, clock.Elapsed.TotalSeconds - started, reason));
            }
        }
        if (best is not { } chosen)
            throw Errors.AutoNothingFinished(context.Function, options.BudgetSeconds, entries.LastOrDefault()?.Skipped ?? "no candidate");
        var report = new JsonObject
        {
            ["chosen"] = Describe(chosen.Kind.Name, chosen.Options.ToJson()),
            ["metric"] = $"{options.Metric}@{options.K}",
            ["validation_ratio"] = options.ValidationRatio,
            ["seed"] = options.Seed,
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3),
            ["leaderboard"] = new JsonArray([.. entries
                .OrderByDescending(e => (options.Metric == "recall" ? e.Recall : e.Ndcg) ?? double.NegativeInfinity)
                .Select(e => (JsonNode)Leader(e, options.K))]),
        };
        return (chosen.Kind, chosen.Options, report);
    }

    private static JsonObject Describe(string kind, JsonObject options)
    {
        var json = new JsonObject { ["model"] = kind };
        foreach (var (name, value) in options) json[name] = value?.DeepClone();
        return json;
    }

    private static JsonObject Leader(Entry entry, int k)
    {
        var json = new JsonObject { ["model"] = entry.Kind, ["options"] = JsonNode.Parse(entry.OptionsJson) };
        if (entry.Recall is { } recall) json[$"recall@{k}"] = Math.Round(recall, 6);
        if (entry.Ndcg is { } ndcg) json[$"ndcg@{k}"] = Math.Round(ndcg, 6);
        json["seconds"] = Math.Round(entry.Seconds, 3);
        if (entry.Skipped is { } skipped) json["skipped"] = skipped;
        return json;
    }

    /// <summary>About how long ease takes: n^3 multiply-adds for the inverse at about 4 GFLOP/s a core (measured on ML-1M's 3,300 items).</summary>
    private static double EaseSeconds(int items) => Math.Pow(items, 3) / (4e9 * Environment.ProcessorCount);
}
