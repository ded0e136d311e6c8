using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using SqlRec.Data;
using SqlRec.Store;

namespace SqlRec.Models;

/// <summary>
/// Runs one <c>rec_train</c>: options and source are checked first, the data is read, and only
/// then is anything written (the lease, then the new version in one savepoint). Any failure
/// leaves the database as it was, with the previous version serving.
/// </summary>
internal static class Trainer
{
    private const string Function = "rec_train";
    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(15);
    private static readonly Dictionary<string, DateTimeOffset> Running = new(StringComparer.Ordinal);

    /// <summary>Trains <paramref name="name"/> and returns a JSON summary of the new version.</summary>
    public static string Train(SqlRecSession session, string name, string? optionsJson, CancellationToken cancellation = default)
    {
        var reader = OptionReader.Parse(Function, optionsJson);
        var kindName = reader.String("model") ?? throw Errors.MissingOption(Function, "model", "one of: " + string.Join(", ", ModelKinds.Names));
        var source = reader.String("source") ?? throw Errors.MissingOption(Function, "source", "a SELECT that returns (user, item[, weight[, timestamp]])");
        var kind = ModelKinds.Get(Function, kindName);
        var kindOptions = kind.ReadOptions(reader);
        reader.Finish($"model kind '{kind.Name}'");

        var key = session.DatabaseKey + "\n" + name;
        lock (Running)
        {
            if (Running.TryGetValue(key, out var since)) throw Errors.TrainingInProgress(Function, name, Timestamp(since));
            Running[key] = DateTimeOffset.UtcNow;
        }
        try
        {
            var context = new TrainingContext(name, session.Options.Progress, cancellation);
            var clock = Stopwatch.StartNew();
            Interactions data;
            using (var sourceReader = SourceReader.Open(session.Handle, Function, source))
            {
                kind.CheckSource(kindOptions, sourceReader.ColumnCount);
                data = sourceReader.ReadAll(rows => context.Report("reading", rows, null));
            }
            var store = new ModelStore(session.Handle);
            var lease = store.AcquireLease(Function, name, $"{Environment.ProcessId}:{Guid.NewGuid():N}");
            long version;
            try
            {
                var lastBeat = Stopwatch.StartNew();
                context.Heartbeat = () =>
                {
                    if (lastBeat.Elapsed < HeartbeatInterval) return;
                    store.Heartbeat(lease);
                    lastBeat.Restart();
                };
                context.Report("training", 0, null);
                var artifacts = kind.Train(data, kindOptions, context);
                artifacts.Arrays.TryAdd(ArrayNames.Popularity, Popularity.Compute(data, null));
                artifacts.Arrays[ArrayNames.SeenOffsets] = data.UserOffsets;
                artifacts.Arrays[ArrayNames.SeenItems] = data.UserItems;
                var options = new JsonObject { ["model"] = kind.Name, ["source"] = source };
                foreach (var (option, value) in kindOptions.ToJson()) options[option] = value?.DeepClone();
                context.Report("saving", 0, null);
                version = store.Publish(lease, new NewVersion(kind.Name, options.ToJsonString(), artifacts.Metrics.ToJsonString(), data,
                    artifacts.Arrays, clock.Elapsed.TotalSeconds));
            }
            catch (Exception failure)
            {
                store.ReleaseAfterFailure(lease);
                if (failure is SqlRecException or OperationCanceledException) throw;
                throw Errors.TrainingFailed(Function, name, failure.Message);
            }
            return new JsonObject
            {
                ["model"] = name,
                ["version"] = version,
                ["kind"] = kind.Name,
                ["users"] = data.Users.Count,
                ["items"] = data.Items.Count,
                ["interactions"] = data.PairCount,
                ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3),
            }.ToJsonString();
        }
        finally
        {
            lock (Running) Running.Remove(key);
        }
    }

    private static string Timestamp(DateTimeOffset time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
