using SqlRec.Sqlite;

namespace SqlRec.Store;

/// <summary>The training lease of a model: who is training it, since when, and whether they are still alive.</summary>
internal sealed partial class ModelStore
{
    /// <summary>A training lease with no heartbeat for this long is taken to be abandoned (its process died).</summary>
    public static readonly TimeSpan LeaseTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Marks <paramref name="model"/> as being trained by <paramref name="owner"/>. Fails when another
    /// live training holds it. Committed at once (outside any publish) so other connections see it.
    /// </summary>
    /// <remarks>
    /// A lease counts as abandoned when its heartbeat is older than <see cref="LeaseTimeout"/> (its
    /// process died) or when <paramref name="isAbandoned"/> says so (a training of this process that
    /// has ended but could not clear its lease, e.g. because the connection was interrupted).
    /// </remarks>
    public Lease AcquireLease(string function, string model, string owner, Func<string, bool>? isAbandoned = null)
    {
        EnsureSchema();
        return db.InSavepoint("sqlrec_lease", () =>
        {
            using var read = db.Prepare("SELECT status, training_owner, training_started_at, training_heartbeat, current_version FROM main.rec_models WHERE name = ?1");
            read.BindAll(model);
            bool created;
            if (read.Step())
            {
                var heartbeat = read.IsNull(3) ? 0 : read.GetDouble(3);
                var holder = read.GetText(1);
                var live = NowSeconds() - heartbeat < LeaseTimeout.TotalSeconds && !(holder is not null && isAbandoned?.Invoke(holder) == true);
                if (read.GetText(0) == "training" && holder != owner && live)
                    throw Errors.TrainingInProgress(function, model, read.GetText(2) ?? "an unknown time");
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
            return new Lease(model, owner, created);
        });
    }

    /// <summary>Refreshes the lease's heartbeat.</summary>
    public void Heartbeat(Lease lease) =>
        db.Execute("UPDATE main.rec_models SET training_heartbeat = ?3 WHERE name = ?1 AND training_owner = ?2", lease.Model, lease.Owner, NowSeconds());

    /// <summary>
    /// Undoes the lease after a failed training: a row this training created is deleted, an
    /// existing one goes back to serving its current version.
    /// </summary>
    public void ReleaseAfterFailure(Lease lease)
    {
        if (lease.CreatedRow)
            db.Execute("DELETE FROM main.rec_models WHERE name = ?1 AND training_owner = ?2 AND current_version IS NULL", lease.Model, lease.Owner);
        db.Execute("""
            UPDATE main.rec_models SET status = 'ready', training_owner = NULL, training_started_at = NULL, training_heartbeat = NULL
            WHERE name = ?1 AND training_owner = ?2
            """, lease.Model, lease.Owner);
    }

    /// <summary>Fails when a live training holds <paramref name="model"/> (rec_drop must not pull a model from under it).</summary>
    private void EnsureNotTraining(string function, string model)
    {
        using var lease = db.Prepare("SELECT training_started_at, training_heartbeat FROM main.rec_models WHERE name = ?1 AND status = 'training'");
        lease.BindAll(model);
        if (lease.Step() && NowSeconds() - (lease.IsNull(1) ? 0 : lease.GetDouble(1)) < LeaseTimeout.TotalSeconds)
            throw Errors.TrainingInProgress(function, model, lease.GetText(0) ?? "an unknown time");
    }
}
