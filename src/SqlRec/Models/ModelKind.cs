using System.Text.Json.Nodes;
using SqlRec.Data;

namespace SqlRec.Models;

/// <summary>
/// A kind of model that <c>rec_train</c> can build (<c>popular</c> now; the graph models plug in
/// here). A kind reads and checks its options before any work, trains from
/// <see cref="Interactions"/> into named arrays, and turns stored arrays back into a scorer.
/// Kinds never touch SQLite: the store reads and writes for them.
/// </summary>
internal interface IModelKind
{
    /// <summary>The name used in the <c>model</c> option.</summary>
    string Name { get; }

    /// <summary>Reads and validates this kind's options; returns them with defaults filled in.</summary>
    IKindOptions ReadOptions(OptionReader reader);

    /// <summary>Checks the source's shape against the options, before the source runs.</summary>
    void CheckSource(IKindOptions options, int sourceColumns);

    /// <summary>Checks the data read from the source before anything is written (sizes the kind needs, etc.).</summary>
    void CheckData(Interactions data, IKindOptions options);

    /// <summary>Trains on the data. Throws <see cref="SqlRecException"/> for data the kind cannot use.</summary>
    ModelArtifacts Train(Interactions data, IKindOptions options, TrainingContext context);

    /// <summary>Builds the per-user scorer from stored arrays, or null when the kind ranks by popularity alone.</summary>
    IUserScorer? LoadScorer(IReadOnlyDictionary<string, Array> arrays, int users, int items);
}

/// <summary>Validated options of a model kind.</summary>
internal interface IKindOptions
{
    /// <summary>The options with defaults filled in, as stored with the version.</summary>
    JsonObject ToJson();
}

/// <summary>
/// Scores every item for one user; higher is better. Implementations are immutable once built:
/// recommend() calls from several connections and rec_evaluate's parallel ranking call them from
/// many threads at once, each with its own output buffer.
/// </summary>
internal interface IUserScorer
{
    /// <summary>Writes one score per item into <paramref name="scores"/>.</summary>
    void Score(int user, Span<float> scores);
}

/// <summary>What a training produces besides the id maps: named arrays and metrics.</summary>
internal sealed class ModelArtifacts
{
    /// <summary>Arrays to store (float[] or int[]), by name.</summary>
    public Dictionary<string, Array> Arrays { get; } = new(StringComparer.Ordinal);

    /// <summary>Metrics recorded with the version (training loss, validation figures ...).</summary>
    public JsonObject Metrics { get; } = [];
}


/// <summary>What a training run can report to and check with its caller.</summary>
internal sealed class TrainingContext(string modelName, Action<TrainingProgress>? progress, CancellationToken cancellation)
{
    /// <summary>The model being trained.</summary>
    public string ModelName { get; } = modelName;

    /// <summary>Stops a long training early.</summary>
    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>Called after each progress report (the store refreshes the training lease from it).</summary>
    public Action? Heartbeat { get; set; }

    /// <summary>True once the caller asked SQLite to stop (sqlite3_interrupt on the connection).</summary>
    public Func<bool>? Interrupted { get; set; }

    /// <summary>
    /// Reports progress to the caller, and is where a long training notices that it should stop:
    /// it throws <see cref="OperationCanceledException"/> when the token is cancelled or the
    /// connection was interrupted. Kinds report at least every few seconds of work.
    /// </summary>
    public void Report(string stage, long done, long? total, string? detail = null)
    {
        if (Cancellation.IsCancellationRequested || Interrupted?.Invoke() == true) throw new OperationCanceledException();
        progress?.Invoke(new TrainingProgress(ModelName, stage, done, total, detail));
        if (Interrupted?.Invoke() == true) throw new OperationCanceledException();
        Heartbeat?.Invoke();
    }
}

/// <summary>The registry of model kinds, by option name.</summary>
internal static class ModelKinds
{
    private static readonly IModelKind[] All = [new PopularKind(), new GraphFilterKind(), new LightGcnKind(), new FreedomKind()];

    /// <summary>Names of every kind.</summary>
    public static IEnumerable<string> Names => All.Select(k => k.Name);

    /// <summary>The kind with this name, or an error listing the kinds.</summary>
    public static IModelKind Get(string function, string name) =>
        All.FirstOrDefault(k => k.Name == name) ?? throw Errors.UnknownModelKind(function, name, Names);
}
