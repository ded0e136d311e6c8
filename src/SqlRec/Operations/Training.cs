using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using SqlRec.Models;
using SqlRec.Sqlite;
using SqlRec.Store;
using SqlRec.Vectors;

namespace SqlRec.Operations;

/// <summary>
/// Runs one <c>rec_train</c>: options and source are checked first, the data is read, and only
/// then is anything written (the lease, then the new version in one savepoint). Any failure
/// leaves the database as it was, with the previous version serving.
/// </summary>
internal static class Training
{
    private const string Function = "rec_train";
    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(15);
    /// <summary>How soon a heartbeat that found the database busy is tried again.</summary>
    private static readonly TimeSpan HeartbeatRetry = TimeSpan.FromSeconds(1);
    private static readonly Dictionary<string, DateTimeOffset> Running = new(StringComparer.Ordinal);

    /// <summary>Trains <paramref name="name"/> and returns a JSON summary of the new version.</summary>
    public static string Train(Session session, string name, string? optionsJson, CancellationToken cancellation = default)
    {
        var plan = TrainingPlan.Read(Function, optionsJson);
        var key = session.DatabaseKey + "\n" + name;
        lock (Running)
        {
            if (Running.TryGetValue(key, out var since)) throw Errors.TrainingInProgress(Function, name, Timestamp(since));
            Running[key] = DateTimeOffset.UtcNow;
        }
        Lease? lease = null;
        try
        {
            var context = NewContext(session, Function, name, cancellation);
            var clock = Stopwatch.StartNew();
            var (data, content) = ReadData(session, plan, context);
            JsonObject? choice = null;
            if (plan.Kind is AutoKind auto) (plan, choice) = Choose(session, plan, auto, data, context);
            CheckData(session, plan, data, content, context);
            var store = session.Store;
            // A lease whose holder is gone (see ModelStore.AcquireLease) is taken over; the progress says so.
            lease = store.AcquireLease(Function, name);
            long version;
            try
            {
                var lastBeat = Stopwatch.StartNew();
                var interval = session.Options.HeartbeatInterval ?? HeartbeatInterval;
                var wait = interval;
                context.Heartbeat = () =>
                {
                    if (lastBeat.Elapsed < wait) return;
                    // A busy database skips this beat (the training goes on) and tries again soon.
                    wait = store.TryHeartbeat(lease) ? interval : TimeSpan.FromTicks(Math.Min(interval.Ticks, HeartbeatRetry.Ticks));
                    lastBeat.Restart();
                };
                context.Report("training", 0, null, lease.TookOver);
                var artifacts = ModelTraining.Train(plan.Kind, plan.Options, data, content, context);
                if (choice is not null) artifacts.Metrics["auto"] = choice;
                context.Report("saving", 0, null);
                version = store.Publish(lease, new NewVersion(plan.Kind.Name, plan.ToJson(), artifacts.Metrics.ToJsonString(), data,
                        artifacts.Arrays, clock.Elapsed.TotalSeconds, artifacts.SmallParts),
                    (number, uid) => RefreshPublications(session.Db, name, plan, data, artifacts, uid));
            }
            catch (Exception failure)
            {
                try
                {
                    store.ReleaseAfterFailure(lease);
                }
                catch (SqliteCallException) when (session.Db.IsInterrupted)
                {
                    // An interrupted connection refuses every statement until the caller's statement ends.
                    ReleaseOnSideConnection(session, lease);
                }
                catch (SqliteCallException)
                {
                    // Still locked (or the disk refuses even this): the lease stays until the heartbeat timeout, or
                    // until this process trains the model again (ModelStore.EndLease below lets it take the lease over).
                }
                if (failure is OperationCanceledException || failure is SqliteCallException { IsInterrupt: true }) throw Errors.TrainingInterrupted(Function, name);
                if (failure is SqlRecException) throw;
                if (failure is SqliteCallException sqlite && Errors.IsEnvironmentFailure(sqlite.ResultCode)) throw Errors.Sqlite(Function, sqlite.ResultCode, sqlite.Message);
                throw Errors.TrainingFailed(Function, name, failure.Message);
            }
            var summary = new JsonObject
            {
                ["model"] = name,
                ["version"] = version,
                ["kind"] = plan.Kind.Name,
                ["users"] = data.Users.Count,
                ["items"] = data.Items.Count,
                ["interactions"] = data.PairCount,
                ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3),
            };
            if (choice is not null) summary["auto"] = choice.DeepClone();
            return summary.ToJsonString();
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
            if (lease is not null) ModelStore.EndLease(lease);
            lock (Running) Running.Remove(key);
        }
    }

    /// <summary>
    /// <c>auto</c>: tries the candidate kinds on a validation split of the data already read (each
    /// checked against this process's memory first) and returns the winner's plan, with the same
    /// source, and the leaderboard.
    /// </summary>
    private static (TrainingPlan Plan, JsonObject Choice) Choose(Session session, TrainingPlan plan, AutoKind auto, Interactions data, TrainingContext context)
    {
        auto.CheckData(data, null, plan.Options, context);
        var usable = (long)((session.Options.MemoryLimit ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) * 0.8);
        var (kind, options, choice) = AutoKind.Choose(data, (AutoKind.Options)plan.Options, context, name => ModelKinds.Get(Function, name),
            (candidate, candidateOptions, train) => candidate.EstimateMemory(train, null, candidateOptions) is { } estimate && estimate.Bytes > usable
                ? Errors.ModelTooLarge(Function, candidate.Name, estimate.What, estimate.Bytes, usable, estimate.Fix).Message[(Function.Length + 4)..]
                : null);
        return (new TrainingPlan(kind, options, plan.Source), choice);
    }

    /// <summary>
    /// <c>rec_drop</c>: deletes model <paramref name="name"/> with all its versions (returns how many),
    /// or, when the name is a vector collection's, the collection with its vec0 tables (returns 1).
    /// </summary>
    public static long Drop(Session session, string function, string name) =>
        Publishing.DropCollection(session, name) ? 1L : session.Store.Drop(function, name);

    /// <summary>A training context for <paramref name="function"/> on this connection: its progress callback, its interrupt, its devices.</summary>
    internal static TrainingContext NewContext(Session session, string function, string model, CancellationToken cancellation = default) =>
        new(function, model, session.Options.Progress, cancellation)
        {
            Interrupted = () => session.Db.IsInterrupted,
            Devices = session.Options.Devices ?? Compute.ComputeDevices.Machine,
        };

    /// <summary>
    /// Reads a plan's training data: the source (checked against the kind before it runs) and, for
    /// a content kind, its modality queries, with the item space extended by the items that have
    /// vectors (cold-start items). Writes nothing.
    /// </summary>
    internal static (Interactions Data, ItemContent? Content) ReadData(Session session, TrainingPlan plan, TrainingContext context,
        Action<SourceReader>? checkSource = null)
    {
        Interactions data;
        var trust = plan.StoredWith is { } model ? QueryTrust.Stored(model) : QueryTrust.Given;
        using (var source = SourceReader.Open(session.Db, context.Function, plan.Source, trust))
        {
            checkSource?.Invoke(source);
            plan.Kind.CheckSource(plan.Options, source.ColumnCount, context);
            data = source.ReadAll(rows => context.Report("reading", rows, null));
        }
        var modalities = plan.Kind.Modalities(plan.Options);
        if (modalities.Count == 0) return (data, null);
        var (extended, content) = ItemContentReader.Read(session.Db, context.Function, modalities, data,
            (modality, rows) => context.Report("reading", rows, null, $"modality '{modality}'"), trust);
        return (extended, content);
    }

    /// <summary>The kind's checks of the data, then its memory estimate against what this process may use, before anything is written.</summary>
    internal static void CheckData(Session session, TrainingPlan plan, Interactions data, ItemContent? content, TrainingContext context)
    {
        plan.Kind.CheckData(data, content, plan.Options, context);
        if (plan.Kind.EstimateMemory(data, content, plan.Options) is not { } estimate) return;
        var usable = (long)((session.Options.MemoryLimit ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) * 0.8);
        if (estimate.Bytes > usable) throw Errors.ModelTooLarge(context.Function, plan.Kind.Name, estimate.What, estimate.Bytes, usable, estimate.Fix);
    }

    /// <summary>
    /// Rewrites the vec0 tables published for the model with the new version's vectors, inside the
    /// savepoint that publishes the version, so the tables always hold the serving version. A new
    /// version without the vectors a table needs fails the training (the previous version keeps serving).
    /// </summary>
    private static void RefreshPublications(SqliteDb db, string model, TrainingPlan plan, Interactions data, ModelArtifacts artifacts, string uid)
    {
        var publications = Vec0Tables.Of(db, model, "model");
        if (publications.Count == 0) return;
        var trained = ServableModel.Load(plan.Kind, plan.Options, data.Users, data.Items, artifacts.Arrays).Trained;
        foreach (var publication in publications)
        {
            var (vectors, ids) = publication.Space == "item" ? (trained.ItemVectors(), data.Items) : (trained.UserVectors(), data.Users);
            if (vectors is null) throw Errors.RepublishWithoutVectors(Function, model, publication.Table, plan.Kind.Name, publication.Space);
            var set = new VectorSet(LoadedVersion.Label(model), publication.Space, ids, vectors.Dimensions, vectors.Data, VectorMetric.Dot);
            Vec0Tables.Write(db, Function, publication.Table, model, "model", set, publication.Metric, uid);
        }
    }

    /// <summary>
    /// Clears a lease through a short-lived second connection to the same file, so that other
    /// processes need not wait for the lease to time out. An in-memory database has no other
    /// connection; there the next training of this process takes the abandoned lease over.
    /// </summary>
    private static void ReleaseOnSideConnection(Session session, Lease lease)
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

    private static string Timestamp(DateTimeOffset time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
