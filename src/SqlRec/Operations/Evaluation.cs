using System.Diagnostics;
using System.Text.Json.Nodes;
using SqlRec.Models;
using SqlRec.Store;

namespace SqlRec.Operations;

/// <summary>
/// Runs one <c>rec_evaluate</c>: options are checked first, then the model is resolved, the
/// held-out pairs are read (test mode) or split off a fresh read of the model's source and the
/// same kind is retrained in memory (split mode), every evaluated user is ranked, and the report
/// is returned as JSON. Nothing is written unless <c>save</c> is true.
/// </summary>
internal static class Evaluation
{
    /// <summary>The SQL function's name, as errors show it.</summary>
    public const string Function = "rec_evaluate";

    /// <summary>Progress stage reported while users are ranked.</summary>
    public const string ProgressStage = "evaluating";

    /// <summary>Evaluates <paramref name="modelName"/> (null: the only model) and returns the JSON report.</summary>
    public static string Evaluate(Session session, string? modelName, string? optionsJson)
    {
        var options = EvaluationOptions.Parse(Function, optionsJson);
        var clock = Stopwatch.StartNew();
        var version = session.Store.Resolve(Function, modelName);
        var progress = session.Options.Progress;

        ServableModel model;
        HeldOut heldOut;
        long skippedUsers = 0, droppedPairs = 0, usersWithoutTest = 0;
        if (options.TestQuery is { } test)
        {
            model = LoadedVersions.Model(session, Function, version).Model;
            var set = TestPairs.Read(session.Db, Function, test, model);
            (heldOut, skippedUsers, droppedPairs) = (set.HeldOut, set.SkippedUsers, set.DroppedPairs);
            if (heldOut.UserCount == 0) throw Errors.NothingToEvaluate(Function, version.Model, skippedUsers, droppedPairs);
        }
        else
        {
            (model, heldOut, usersWithoutTest) = TrainOnSplit(session, version, options.Split!.Value, options.TestRatio, options.Seed);
        }

        var summary = RankingEvaluator.Run(model, heldOut, options.Cutoffs,
            progress is null ? null : (done, total) => progress(new TrainingProgress(version.Model, ProgressStage, done, total)));
        var runs = new List<(int Seed, int Users, MetricsSummary Summary)> { (options.Seed, heldOut.UserCount, summary) };
        foreach (var seed in options.Seeds?.Skip(1) ?? [])
        {
            var (seedModel, seedHeldOut, _) = TrainOnSplit(session, version, options.Split!.Value, options.TestRatio, seed);
            runs.Add((seed, seedHeldOut.UserCount, RankingEvaluator.Run(seedModel, seedHeldOut, options.Cutoffs,
                progress is null ? null : (done, total) => progress(new TrainingProgress(version.Model, ProgressStage, done, total)))));
        }

        var report = new JsonObject
        {
            ["model"] = version.Model,
            ["version"] = version.Version,
            ["mode"] = options.TestQuery is null ? "split" : "test",
        };
        if (options.Split is { } split)
        {
            report["split"] = EvaluationOptions.SplitName(split);
            if (split == SplitMethod.Random)
            {
                report["test_ratio"] = options.TestRatio;
                if (options.Seeds is { } seeds) report["seeds"] = new JsonArray([.. seeds.Select(s => (JsonNode)s)]);
                else report["seed"] = options.Seed;
            }
        }
        report["users"] = heldOut.UserCount;
        report["skipped_users"] = skippedUsers;
        // A split holds nothing out of a user with fewer than 2 distinct items: such users train (as context) but are not evaluated.
        if (options.Split is not null) report["users_without_test"] = usersWithoutTest;
        report["items"] = model.Items.Count;
        report["test_pairs"] = heldOut.PairCount;
        report["dropped_pairs"] = droppedPairs;
        report["unknown_items"] = heldOut.UnknownItemPairs;
        report["k"] = new JsonArray([.. options.Cutoffs.Select(k => (JsonNode)k)]);
        if (runs.Count == 1)
        {
            report["metrics"] = Named(summary.Named());
            report["standard_errors"] = Named(summary.NamedStandardErrors());
        }
        else
        {
            // Several seeds: each metric's mean over the seeds, and its standard error over them.
            var perRun = runs.Select(r => r.Summary.Named().ToList()).ToList();
            report["metrics"] = Named(perRun[0].Select((m, i) => (m.Name, perRun.Average(r => r[i].Value))));
            report["standard_errors"] = Named(runs[0].Summary.NamedStandardErrors().Select(m => (m.Name, SeedError(perRun.Select(r => r.First(x => x.Name == m.Name).Value).ToList()))));
            report["runs"] = new JsonArray([.. runs.Select(r => (JsonNode)new JsonObject { ["seed"] = r.Seed, ["users"] = r.Users, ["metrics"] = Named(r.Summary.Named()) })]);
        }
        if (options.SampledNegatives is { } negatives)
        {
            // The first split's model, ranked the paper's way: each held-out item among sampled negatives.
            var means = SampledEvaluator.Run(model, heldOut, options.Cutoffs, negatives, options.SampleByPopularity, options.Seed);
            var sampledMetrics = new JsonObject();
            for (var c = 0; c < options.Cutoffs.Length; c++)
                for (var m = 0; m < RankingMetrics.PerUserCount; m++) sampledMetrics[$"{RankingMetrics.PerUserNames[m]}@{options.Cutoffs[c]}"] = Math.Round(means[c, m], 6);
            report["sampled"] = new JsonObject
            {
                ["negatives"] = negatives,
                ["sampling"] = options.SampleByPopularity ? "popularity" : "uniform",
                ["metrics"] = sampledMetrics,
            };
        }
        report["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3);
        var json = report.ToJsonString();
        if (options.Save) session.Store.SaveEvaluation(version, json);
        return json;
    }

    private static JsonObject Named(IEnumerable<(string Name, double Value)> values)
    {
        var json = new JsonObject();
        foreach (var (name, value) in values) json[name] = Math.Round(value, 6);
        return json;
    }

    /// <summary>Standard error of a mean over seeds: sample standard deviation / sqrt(seeds).</summary>
    private static double SeedError(List<double> values)
    {
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1) / values.Count);
    }

    /// <summary>
    /// Re-reads the version's source with its stored options, splits it, and trains the same kind
    /// with the same options on the training part, in memory.
    /// </summary>
    private static (ServableModel Model, HeldOut HeldOut, long UsersWithoutTest) TrainOnSplit(Session session, ServingVersion version, SplitMethod split, double ratio, int seed)
    {
        var plan = TrainingPlan.Read(Function, version.Options) with { StoredWith = version.Model };
        var context = Training.NewContext(session, Function, version.Model);
        var (data, content) = Training.ReadData(session, plan, context, source =>
        {
            if (split == SplitMethod.Last && !source.HasTimestamp) throw Errors.SplitNeedsTimestamp(Function, version.Model, source.ColumnCount);
        });
        // A content kind knows every item with features: the split keeps them all, so no held-out item is unknown to it.
        var parts = Splits.Split(data, split, ratio, seed, keepAllItems: content is not null);
        if (parts.HeldOut.UserCount == 0) throw Errors.SplitEmpty(Function, EvaluationOptions.SplitName(split), version.Model);
        Training.CheckData(session, plan, parts.Train, content, context);
        context.Report("training", 0, null);
        var artifacts = ModelTraining.Train(plan.Kind, plan.Options, parts.Train, content, context);
        return (ServableModel.Load(plan.Kind, plan.Options, parts.Train.Users, parts.Train.Items, artifacts.Arrays), parts.HeldOut,
            data.Users.Count - parts.HeldOut.UserCount);
    }
}
