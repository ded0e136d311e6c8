using System.Diagnostics;
using System.Globalization;
using SqlRec.Compute;

namespace SqlRec.Models;

/// <summary>Option rows the embedding models (lightgcn, freedom) share word for word.</summary>
internal static class EmbeddingOptions
{
    /// <summary>Adam's learning rate.</summary>
    public static readonly OptionSpec<double> LearningRate = Option.Real("lr", 0.001, 0, 10, "Adam learning rate", minExclusive: true);

    /// <summary>Share of each user's items held out for early stopping.</summary>
    public static readonly OptionSpec<double> ValidationRatio = Option.Real("validation_ratio", 0, 0, 1,
        "0 = no early stopping; else this share of each user's items is held out (random split, `seed`), recall@20 on it is measured every " +
        "`eval_every` epochs, the best epoch's vectors are kept, and training stops after `patience` evaluations without improvement", maxExclusive: true);

    /// <summary>Epochs between validations.</summary>
    public static readonly OptionSpec<int> EvalEvery = Option.Integer("eval_every", 5, 1, 100_000, "epochs between validation evaluations");

    /// <summary>Validations without improvement before stopping.</summary>
    public static readonly OptionSpec<int> Patience = Option.Integer("patience", 5, 1, 100_000, "evaluations without improvement before stopping");

    /// <summary>Triples per Adam step.</summary>
    public static OptionSpec<int> Batch(string what) => Option.Integer("batch", 2048, 1, 1_000_000, what);

    /// <summary>Embedding width.</summary>
    public static OptionSpec<int> Dim(string what) => Option.Integer("dim", 64, 1, 1024, what);

    /// <summary>Where the kernels run.</summary>
    public static OptionSpec<string> Device(string what) => Option.Choice("device", "auto", ComputeDevices.Names, what);

    /// <summary>
    /// Fails before any work when the options name a GPU this machine does not have ('auto' is
    /// resolved when training starts).
    /// </summary>
    public static void CheckDevice(string device, TrainingContext context)
    {
        if (device is "cuda" or "opencl") context.Devices.Resolve(context.Function, device);
    }

    /// <summary>
    /// Starts a trainer on the device the options name ('auto': a CUDA or OpenCL GPU when ILGPU finds
    /// one, else the managed CPU path). A device that fails to start is an error, never a silent
    /// switch to another device.
    /// </summary>
    public static T StartTrainer<T>(string device, TrainingContext context, Func<ComputeDevice, T> start)
    {
        var resolved = context.Devices.Resolve(context.Function, device);
        try
        {
            return start(resolved);
        }
        catch (Exception e) when (resolved.Ilgpu is not null && e is not SqlRecException and not OutOfMemoryException)
        {
            throw Errors.DeviceUnavailable(context.Function, device, $"{resolved.Description} failed to start ({e.GetType().Name}: {e.Message})");
        }
    }
}

/// <summary>
/// A trained embedding model (lightgcn, freedom): final user and item vectors, a user's score for
/// an item their dot product, and the same vectors for search and publication, so an inner-product
/// search over the item vectors with a user's vector is the model's own ranking.
/// </summary>
internal sealed class DotProductModel(float[] users, float[] items, int dim, int itemCount) : ITrainedModel
{
    public IUserScorer Scorer { get; } = new DotProductScorer(users, items, dim, itemCount);

    public ModelVectors ItemVectors() => new(dim, items);

    public ModelVectors UserVectors() => new(dim, users);

    /// <summary>
    /// Checks a stored dot-product version (<see cref="IModelKind.CheckStored"/>): the shape array
    /// holds the stored options' <c>dim</c>, and the user and item vectors are that many finite floats per user and per item.
    /// </summary>
    public static void CheckStored(StoredArrays stored, string userArray, string itemArray, string shapeArray, int optionsDim)
    {
        var dim = stored.CheckedInts(shapeArray, 1, "the vectors' width")[0];
        if (dim != optionsDim)
            throw Errors.Damaged(Errors.DamagedArrayValue(shapeArray, 0, dim.ToString(CultureInfo.InvariantCulture), $"{optionsDim.ToString(CultureInfo.InvariantCulture)}, the stored options' 'dim'"));
        stored.CheckedFloats(userArray, (long)stored.Users * dim, $"{stored.Users.ToString(CultureInfo.InvariantCulture)} users x 'dim' {dim.ToString(CultureInfo.InvariantCulture)}");
        stored.CheckedFloats(itemArray, (long)stored.Items * dim, $"{stored.Items.ToString(CultureInfo.InvariantCulture)} items x 'dim' {dim.ToString(CultureInfo.InvariantCulture)}");
    }
}

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
        var arrays = new Dictionary<string, Array>
        {
            [ArrayNames.SeenOffsets] = offsets,
            [ArrayNames.SeenItems] = columns,
            [ArrayNames.Popularity] = popularity,
        };
        var model = new ServableModel(kind, new DotProductModel(users, items, dim, data.Items.Count), data.Users, data.Items, arrays);
        return RankingEvaluator.Run(model, validation, [20])["recall@20"];
    }
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
