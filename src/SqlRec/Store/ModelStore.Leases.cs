using SqlRec.Sqlite;

namespace SqlRec.Store;

/// <summary>The training lease of a model: who is training it, since when, and whether they are still alive.</summary>
internal sealed partial class ModelStore
{
    /// <summary>
    /// A training lease with no heartbeat for this long is taken to be abandoned. Only leases of
    /// other hosts (and leases whose holder cannot be read) wait for it: a lease held by a process of
    /// this host that is gone is taken over at once.
    /// </summary>
    public static readonly TimeSpan LeaseTimeout = TimeSpan.FromMinutes(2);

    /// <summary>How long a failed training keeps trying to clear its lease while another connection holds the write lock.</summary>
    private static readonly TimeSpan ReleasePatience = TimeSpan.FromSeconds(10);

    /// <summary>The owners of the leases that trainings of this process hold right now.</summary>
    private static readonly HashSet<string> RunningHere = new(StringComparer.Ordinal);

    /// <summary>
    /// Marks <paramref name="model"/> as being trained by a new training of this process. Fails when
    /// a live training holds it. Committed at once (outside any publish) so other connections see it.
    /// The caller ends the lease with <see cref="EndLease"/> whatever happens.
    /// </summary>
    /// <remarks>
    /// A lease is abandoned, and taken over, when its holder is a training of this process that is no
    /// longer running (it ended but could not clear its lease, e.g. because the connection was
    /// interrupted), a process of this host that is gone (killed, crashed; a reused pid has another
    /// start time), or when its heartbeat is older than <see cref="LeaseTimeout"/> (another host).
    /// </remarks>
    public Lease AcquireLease(string function, string model)
    {
        EnsureSchema();
        var owner = LeaseHolder.NewTraining().ToString();
        var lease = db.InSavepoint("sqlrec_lease", () =>
        {
            using var read = db.Prepare("SELECT status, training_owner, training_started_at, training_heartbeat, current_version FROM main.rec_models WHERE name = ?1");
            read.BindAll(model);
            bool created;
            string? tookOver = null;
            if (read.Step())
            {
                var holder = read.GetText(1);
                if (read.GetText(0) == "training")
                {
                    var state = Judge(holder, read.IsNull(3) ? 0 : read.GetDouble(3));
                    if (state == LeaseState.Live) throw Errors.TrainingInProgress(function, model, read.GetText(2) ?? "an unknown time");
                    tookOver = Errors.LeaseTakenOver(DescribeHolder(holder), state == LeaseState.Expired);
                }
                var hasVersion = !read.IsNull(4);
                read.Reset();
                db.Execute("""
                    UPDATE main.rec_models SET status = 'training', training_owner = ?2, training_started_at = ?3, training_heartbeat = ?4
                    WHERE name = ?1
                    """, model, owner, Now(), NowSeconds());
                // A row left by an abandoned first training has no version: treat it as this training's own.
                created = !hasVersion;
            }
            else
            {
                read.Reset();
                db.Execute("""
                    INSERT INTO main.rec_models(name, status, created_at, updated_at, training_owner, training_started_at, training_heartbeat)
                    VALUES (?1, 'training', ?3, ?3, ?2, ?3, ?4)
                    """, model, owner, Now(), NowSeconds());
                created = true;
            }
            return new Lease(model, owner, created, tookOver);
        });
        lock (RunningHere) RunningHere.Add(owner);
        return lease;
    }

    /// <summary>Forgets a lease of this process once its training has ended (cleared or not): a lease left behind is then taken over at once here.</summary>
    public static void EndLease(Lease lease)
    {
        lock (RunningHere) RunningHere.Remove(lease.Owner);
    }

    /// <summary>
    /// Refreshes the lease's heartbeat. Returns false, changing nothing, when the database is busy
    /// (another connection holds the write lock past the busy timeout): the training goes on and
    /// beats again later; one missed beat is far from <see cref="LeaseTimeout"/>.
    /// </summary>
    public bool TryHeartbeat(Lease lease)
    {
        try
        {
            db.Execute("UPDATE main.rec_models SET training_heartbeat = ?3 WHERE name = ?1 AND training_owner = ?2", lease.Model, lease.Owner, NowSeconds());
            return true;
        }
        catch (SqliteCallException e) when (e.IsBusy)
        {
            return false;
        }
    }

    /// <summary>
    /// Undoes the lease after a failed training: a row this training created is deleted, an
    /// existing one goes back to serving its current version. While another connection holds the
    /// write lock it keeps trying, up to <see cref="ReleasePatience"/> (each try waits the busy timeout).
    /// </summary>
    public void ReleaseAfterFailure(Lease lease)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                db.InSavepoint("sqlrec_release", () =>
                {
                    if (lease.CreatedRow)
                        db.Execute("DELETE FROM main.rec_models WHERE name = ?1 AND training_owner = ?2 AND current_version IS NULL", lease.Model, lease.Owner);
                    db.Execute("""
                        UPDATE main.rec_models SET status = 'ready', training_owner = NULL, training_started_at = NULL, training_heartbeat = NULL
                        WHERE name = ?1 AND training_owner = ?2
                        """, lease.Model, lease.Owner);
                });
                return;
            }
            catch (SqliteCallException e) when (e.IsBusy && clock.Elapsed < ReleasePatience)
            {
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>Fails when a live training holds <paramref name="model"/> (rec_drop must not pull a model from under it); an abandoned lease is ignored.</summary>
    private void EnsureNotTraining(string function, string model)
    {
        using var lease = db.Prepare("SELECT training_started_at, training_heartbeat, training_owner FROM main.rec_models WHERE name = ?1 AND status = 'training'");
        lease.BindAll(model);
        if (lease.Step() && Judge(lease.GetText(2), lease.IsNull(1) ? 0 : lease.GetDouble(1)) == LeaseState.Live)
            throw Errors.TrainingInProgress(function, model, lease.GetText(0) ?? "an unknown time");
    }

    private enum LeaseState { Live, Expired, HolderGone }

    /// <summary>Whether the holder of a lease still trains, by the rules of <see cref="AcquireLease"/>.</summary>
    private static LeaseState Judge(string? owner, double heartbeat)
    {
        if (NowSeconds() - heartbeat >= LeaseTimeout.TotalSeconds) return LeaseState.Expired;
        if (LeaseHolder.Parse(owner) is not { } holder) return LeaseState.Live;
        if (holder.IsThisProcess)
        {
            lock (RunningHere) return RunningHere.Contains(owner!) ? LeaseState.Live : LeaseState.HolderGone;
        }
        return holder.IsGoneFromThisHost() ? LeaseState.HolderGone : LeaseState.Live;
    }

    private static string DescribeHolder(string? owner) => LeaseHolder.Parse(owner) is { } holder
        ? Errors.LeaseHolderDescription(holder.Host, holder.Pid, holder.IsThisProcess)
        : Errors.LeaseHolderDescription(null, 0, false);
}
