using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using SqlRec.Data;
using SqlRec.Sqlite;
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
    private static readonly HashSet<string> LiveOwners = new(StringComparer.Ordinal);
    private static readonly string OwnerPrefix = $"{Environment.ProcessId}:";

    /// <summary>Trains <paramref name="name"/> and returns a JSON summary of the new version.</summary>
    public static string Train(SqlRecSession session, string name, string? optionsJson, CancellationToken cancellation = default)
    {
        var (kind, kindOptions, source) = ReadOptions(Function, optionsJson);

        var key = session.DatabaseKey + "\n" + name;
        lock (Running)
        {
            if (Running.TryGetValue(key, out var since)) throw Errors.TrainingInProgress(Function, name, Timestamp(since));
            Running[key] = DateTimeOffset.UtcNow;
        }
        string? owner = null;
        try
        {
            var context = new TrainingContext(name, session.Options.Progress, cancellation)
            {
                Interrupted = () => session.Db.IsInterrupted,
            };
            var clock = Stopwatch.StartNew();
            Interactions data;
            using (var sourceReader = SourceReader.Open(session.Db, Function, source))
            {
                kind.CheckSource(kindOptions, sourceReader.ColumnCount);
                data = sourceReader.ReadAll(rows => context.Report("reading", rows, null));
            }
            (data, var content) = ContentLoader.Load(session.Db, Function, kind, kindOptions, data, context);
            kind.CheckData(data, kindOptions);
            var store = new ModelStore(session.Db);
            owner = OwnerPrefix + Guid.NewGuid().ToString("N");
            lock (Running) LiveOwners.Add(owner);
            // A lease of this process whose training is no longer running was abandoned (see ModelStore.AcquireLease).
            var lease = store.AcquireLease(Function, name, owner, holder =>
            {
                lock (Running) return holder.StartsWith(OwnerPrefix, StringComparison.Ordinal) && !LiveOwners.Contains(holder);
            });
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
                var artifacts = TrainArtifacts(kind, kindOptions, data, context, content);
                var options = new JsonObject { ["model"] = kind.Name, ["source"] = source };
                foreach (var (option, value) in kindOptions.ToJson()) options[option] = value?.DeepClone();
                context.Report("saving", 0, null);
                version = store.Publish(lease, new NewVersion(kind.Name, options.ToJsonString(), artifacts.Metrics.ToJsonString(), data,
                    artifacts.Arrays, clock.Elapsed.TotalSeconds));
            }
            catch (Exception failure)
            {
                try
                {
                    store.ReleaseAfterFailure(lease);
                }
                catch (SqliteCallException) when (context.Interrupted!())
                {
                    // An interrupted connection refuses every statement until the caller's statement ends.
                    ReleaseOnSideConnection(session, lease);
                }
                if (failure is OperationCanceledException || IsInterrupt(failure)) throw Errors.TrainingInterrupted(Function, name);
                if (failure is SqlRecException) throw;
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
        catch (OperationCanceledException)
        {
            throw Errors.TrainingInterrupted(Function, name);
        }
        catch (SqlRecException) when (session.Db.IsInterrupted)
        {
            // Interrupted while reading the source (before anything was written).
            throw Errors.TrainingInterrupted(Function, name);
        }
        finally
        {
            lock (Running)
            {
                Running.Remove(key);
                if (owner is not null) LiveOwners.Remove(owner);
            }
        }
    }

    /// <summary>
    /// Clears a lease through a short-lived second connection to the same file, so that other
    /// processes need not wait for the lease to time out. An in-memory database has no other
    /// connection; there the next training of this process takes the abandoned lease over.
    /// </summary>
    private static void ReleaseOnSideConnection(SqlRecSession session, Lease lease)
    {
        var file = session.Db.MainFileName;
        if (file.Length == 0) return;
        try
        {
            var side = SqliteDb.OpenSide(file, busyTimeoutMilliseconds: 2000);
            try { new ModelStore(side).ReleaseAfterFailure(lease); }
            finally { side.Close(); }
        }
        catch (SqliteCallException)
        {
            // The lease then expires after ModelStore.LeaseTimeout.
        }
    }

    private static bool IsInterrupt(Exception failure) => failure is SqliteCallException { ResultCode: SqliteApi.SQLITE_INTERRUPT };

    /// <summary>
    /// Reads and validates training options (<c>model</c>, <c>source</c> and the kind's own), as
    /// given to <c>rec_train</c> or as stored with a version in <c>rec_model_versions.options</c>.
    /// </summary>
    internal static TrainingPlan ReadOptions(string function, string? optionsJson)
    {
        var reader = OptionReader.Parse(function, optionsJson);
        var kindName = reader.String("model") ?? throw Errors.MissingOption(function, "model", "one of: " + string.Join(", ", ModelKinds.Names));
        var source = reader.String("source") ?? throw Errors.MissingOption(function, "source", "a SELECT that returns (user, item[, weight[, timestamp]])");
        var kind = ModelKinds.Get(function, kindName);
        var kindOptions = kind.ReadOptions(reader);
        reader.Finish($"model kind '{kind.Name}'");
        return new TrainingPlan(kind, kindOptions, source);
    }

    /// <summary>
    /// Trains <paramref name="kind"/> on <paramref name="data"/> in memory and adds the arrays every
    /// version carries (popularity, seen items). Touches no database: <c>rec_train</c> stores the
    /// result, <c>rec_evaluate</c>'s splits serve it straight from memory. A content kind gets the
    /// item <paramref name="content"/> read by <see cref="ContentLoader"/>, aligned to <paramref name="data"/>'s items.
    /// </summary>
    internal static ModelArtifacts TrainArtifacts(IModelKind kind, IKindOptions options, Interactions data, TrainingContext context, ItemContent? content = null)
    {
        var artifacts = kind is IContentModelKind contentKind && content is not null
            ? contentKind.Train(data, content, options, context)
            : kind.Train(data, options, context);
        artifacts.Arrays.TryAdd(ArrayNames.Popularity, Popularity.Compute(data, null));
        artifacts.Arrays[ArrayNames.SeenOffsets] = data.UserOffsets;
        artifacts.Arrays[ArrayNames.SeenItems] = data.UserItems;
        return artifacts;
    }

    private static string Timestamp(DateTimeOffset time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>Validated training options: the kind, its options and the source query.</summary>
internal sealed record TrainingPlan(IModelKind Kind, IKindOptions Options, string Source);
