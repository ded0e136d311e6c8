using System.Diagnostics;
using System.Globalization;
using SqlRec.Compute;
using SqlRec.Data;
using SqlRec.Evaluation;
using SqlRec.Serving;
using SqlRec.Store;

namespace SqlRec.Models;

/// <summary>Scores items by the dot product of a user's final vector with each item's, F_u . F_i (lightgcn, freedom).</summary>
internal sealed class DotProductScorer(float[] users, float[] items, int dim, int itemCount) : IUserScorer, IBatchScorer
{
    public void Score(int user, Span<float> scores)
    {
        scores[..itemCount].Clear();
        DenseMath.MultiplyTransposedAdd(users.AsSpan(user * dim, dim), 1, items, itemCount, dim, scores);
    }

    public void ScoreBatch(ReadOnlySpan<int> batch, Span<float> scores)
    {
        var block = new float[batch.Length * dim];
        for (var b = 0; b < batch.Length; b++) users.AsSpan(batch[b] * dim, dim).CopyTo(block.AsSpan(b * dim, dim));
        scores[..(batch.Length * itemCount)].Clear();
        DenseMath.MultiplyTransposedAdd(block, batch.Length, items, itemCount, dim, scores);
    }
}

/// <summary>Early stopping's metric for the embedding models: recall@20 on the validation pairs, full ranking, training pairs excluded.</summary>
internal static class ValidationScoring
{
    /// <summary>
    /// Recall@20 of <paramref name="users"/> . <paramref name="items"/> on <paramref name="validation"/>,
    /// with the training CSR (<paramref name="offsets"/>, <paramref name="columns"/>) as the seen items.
    /// </summary>
    public static double Recall20(string kind, Interactions data, int[] offsets, int[] columns, HeldOut validation, float[] users, float[] items, int dim)
    {
        if (validation.UserCount == 0) return 0;
        var popularity = new float[data.Items.Count];
        foreach (var item in columns) popularity[item]++;
        var model = new LoadedModel
        {
            Version = new ServingVersion("validation", 0, "", kind, data.Users.Count, data.Items.Count),
            Users = data.Users,
            Items = data.Items,
            SeenOffsets = offsets,
            SeenItems = columns,
            Popularity = popularity,
            PopularityOrder = TopK.Order(popularity),
            Scorer = new DotProductScorer(users, items, dim, data.Items.Count),
        };
        return RankingEvaluator.Run(model, validation, [20])["recall@20"];
    }
}

/// <summary>What <see cref="EarlyStopping.Train"/> needs of a trainer: the final vectors, refreshed by <see cref="Forward"/>.</summary>
internal interface IFinalEmbeddings
{
    /// <summary>Embedding width.</summary>
    int Dim { get; }

    /// <summary>Final user vectors (users x Dim), valid after <see cref="Forward"/>.</summary>
    float[] UserFinal { get; }

    /// <summary>Final item vectors (items x Dim), valid after <see cref="Forward"/>.</summary>
    float[] ItemFinal { get; }

    /// <summary>Recomputes <see cref="UserFinal"/> and <see cref="ItemFinal"/> from the current parameters.</summary>
    void Forward();
}

/// <summary>The outcome of <see cref="EarlyStopping.Train"/>: the vectors to store and the figures for the model's metrics.</summary>
internal sealed record TrainedEmbeddings(float[] Users, float[] Items, int Epochs, double Loss, double SecondsPerEpoch, double BestRecall, int BestEpoch)
{
    /// <summary>Writes epochs, loss, seconds per epoch and, with a validation split, the best validation recall and its epoch.</summary>
    public void WriteMetrics(ModelArtifacts artifacts, bool validated)
    {
        artifacts.Metrics["epochs"] = Epochs;
        artifacts.Metrics["loss"] = Math.Round(Loss, 6);
        artifacts.Metrics["seconds_per_epoch"] = Math.Round(SecondsPerEpoch, 4);
        if (!validated) return;
        artifacts.Metrics["validation_recall@20"] = Math.Round(BestRecall, 6);
        artifacts.Metrics["best_epoch"] = BestEpoch;
    }
}

/// <summary>The epoch loop of the embedding models: progress reports, validation every few epochs, the best epoch kept, patience.</summary>
internal static class EarlyStopping
{
    private static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs up to <paramref name="epochs"/> epochs (<paramref name="epoch"/> takes the epoch number and a
    /// per-batch callback and returns the epoch's loss). With a <paramref name="validation"/> split, every
    /// <paramref name="evalEvery"/> epochs (and after the last) the final vectors are scored by
    /// <see cref="ValidationScoring.Recall20"/>; the best are kept, and training stops after
    /// <paramref name="patience"/> evaluations without improvement. Without one, the last epoch's vectors are returned.
    /// </summary>
    public static TrainedEmbeddings Train(TrainingContext context, string kind, IFinalEmbeddings trainer, Func<int, Action<int, int>, double> epoch,
        int epochs, int evalEvery, int patience, Interactions data, int[] offsets, int[] columns, HeldOut? validation)
    {
        float[]? bestUsers = null, bestItems = null;
        var bestRecall = double.NegativeInfinity;
        var bestEpoch = 0;
        var stale = 0;
        var loss = double.NaN;
        var epochsRun = 0;
        var clock = Stopwatch.StartNew();
        var lastReport = Stopwatch.StartNew();
        for (var e = 1; e <= epochs; e++)
        {
            var current = e;
            loss = epoch(e, (done, total) =>
            {
                if (lastReport.Elapsed < ReportInterval) return;
                context.Report("training", current - 1, epochs, $"epoch {current}: batch {done} of {total}");
                lastReport.Restart();
            });
            epochsRun = e;
            var detail = string.Create(CultureInfo.InvariantCulture, $"loss {loss:F4}");
            var stop = false;
            if (validation is not null && (e % evalEvery == 0 || e == epochs))
            {
                trainer.Forward();
                var recall = ValidationScoring.Recall20(kind, data, offsets, columns, validation, trainer.UserFinal, trainer.ItemFinal, trainer.Dim);
                detail += string.Create(CultureInfo.InvariantCulture, $", validation recall@20 {recall:F4}");
                if (recall > bestRecall)
                {
                    bestRecall = recall;
                    bestEpoch = e;
                    bestUsers = (float[])trainer.UserFinal.Clone();
                    bestItems = (float[])trainer.ItemFinal.Clone();
                    stale = 0;
                }
                else if (++stale >= patience) stop = true;
            }
            context.Report("training", e, epochs, detail);
            lastReport.Restart();
            if (stop) break;
        }
        if (bestUsers is null || bestItems is null)
        {
            trainer.Forward();
            bestUsers = trainer.UserFinal;
            bestItems = trainer.ItemFinal;
        }
        return new TrainedEmbeddings(bestUsers, bestItems, epochsRun, loss, clock.Elapsed.TotalSeconds / Math.Max(1, epochsRun), bestRecall, bestEpoch);
    }
}
