using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace SqlRec.Tests;

/// <summary>
/// Training leases and busy databases: a lease whose holder is gone from this host is taken over at
/// once (rec_train) or ignored (rec_drop); other hosts wait for the heartbeat timeout; SqlRec's
/// writes wait for locks with the busy timeout, a save that cannot get the lock clears its lease,
/// and a heartbeat that cannot write is skipped without stopping the training.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class LeaseTests
{
    private const string Train = "SELECT rec_train('m', json_object('model','popular','source','SELECT user_id, item_id FROM likes'))";
    private const string Retrain = "SELECT rec_train('m', json_object('model','popular','source','SELECT user_id, item_id FROM likes WHERE item_id = 13'))";

    private static void RequireLinux()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Inconclusive("the lease tests stand in for another process of this host with /proc and the 'sleep' program, which only the Linux runs provide");
    }

    /// <summary>A running process of this host that is not this one (a 'sleep'), for a lease holder that is alive.</summary>
    private static Process StartSleeper() =>
        Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false }) ?? throw new InvalidOperationException("cannot start 'sleep'");

    private static void SetLease(TestDb db, string owner, double heartbeatAgeSeconds = 0) =>
        db.Execute("UPDATE rec_models SET status = 'training', training_owner = $1, training_started_at = '2026-01-01T00:00:00Z', training_heartbeat = unixepoch('subsec') - $2",
            owner, heartbeatAgeSeconds);

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void ALeaseOfAProcessOfThisHostThatIsGoneIsTakenOverAtOnce()
    {
        RequireLinux();
        var details = new List<string>();
        using var db = TestDb.InMemory(new SqlRecOptions { Progress = p => { if (p.Detail is not null) details.Add(p.Detail); } }).Execute(RecommendTests.Likes);
        db.Scalar(Train);
        using var sleeper = StartSleeper();
        var holder = LeaseHolder.OfProcess(sleeper.Id);
        SetLease(db, holder.ToString());
        // While the holder runs, its lease stands (fresh heartbeat).
        db.AssertError(Retrain, Errors.TrainingInProgress("rec_train", "m", "2026-01-01T00:00:00Z").Message);
        db.AssertError("SELECT rec_drop('m')", Errors.TrainingInProgress("rec_drop", "m", "2026-01-01T00:00:00Z").Message);
        // Killed (kill -9): the next training takes the lease over at once, and says so in its progress.
        sleeper.Kill();
        sleeper.WaitForExit();
        Assert.AreEqual("[13]", JsonRanking(db, Retrain));
        Assert.AreEqual("ready", db.Scalar("SELECT status FROM rec_models WHERE name = 'm'"));
        CollectionAssert.Contains(details, Errors.LeaseTakenOver(Errors.LeaseHolderDescription(holder.Host, holder.Pid, false), expired: false));
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void ALeaseWhosePidWasReusedIsTakenOverAndRecDropIgnoresAGoneHolder()
    {
        RequireLinux();
        using var db = TestDb.InMemory().Execute(RecommendTests.Likes);
        db.Scalar(Train);
        using var sleeper = StartSleeper();
        try
        {
            // The pid runs, but started at another time than the holder recorded: the pid was reused.
            SetLease(db, (LeaseHolder.OfProcess(sleeper.Id) with { Start = "t1" }).ToString());
            Assert.AreEqual("[13]", JsonRanking(db, Retrain));
            // rec_drop does not wait for a holder that is gone either.
            SetLease(db, (LeaseHolder.OfProcess(sleeper.Id) with { Start = "t1" }).ToString());
            Assert.AreEqual(2L, db.Scalar("SELECT rec_drop('m')"));
        }
        finally
        {
            sleeper.Kill();
            sleeper.WaitForExit();
        }
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void ALeaseOfAnotherHostWaitsForTheHeartbeatTimeout()
    {
        using var db = TestDb.InMemory().Execute(RecommendTests.Likes);
        db.Scalar(Train);
        // A pid that surely does not run here: another host's pid means nothing on this one.
        var elsewhere = LeaseHolder.OfProcess(Environment.ProcessId) with { Host = "another-host", Pid = int.MaxValue, Start = "t1" };
        SetLease(db, elsewhere.ToString());
        db.AssertError(Retrain, Errors.TrainingInProgress("rec_train", "m", "2026-01-01T00:00:00Z").Message);
        db.AssertError("SELECT rec_drop('m')", Errors.TrainingInProgress("rec_drop", "m", "2026-01-01T00:00:00Z").Message);
        SetLease(db, elsewhere.ToString(), Store.ModelStore.LeaseTimeout.TotalSeconds + 1);
        Assert.AreEqual("[13]", JsonRanking(db, Retrain));
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    [DataRow("WAL")]
    [DataRow("DELETE")]
    public void ASaveThatFindsTheDatabaseLockedFailsClearlyAndClearsItsLease(string journalMode)
    {
        foreach (var first in new[] { false, true })
        {
            TestDb? db = null;
            SqliteConnection? other = null;
            Task? release = null;
            var armed = false;
            void Progress(TrainingProgress progress)
            {
                if (progress.Stage != "saving" || !armed) return;
                armed = false;
                // Another connection takes the write lock just before the save, and keeps it past the busy timeout.
                other = db!.OpenAnother();
                TestDb.Scalar(other, "BEGIN IMMEDIATE");
                var holding = other;
                release = Task.Run(async () =>
                {
                    await Task.Delay(1500);
                    TestDb.Scalar(holding, "ROLLBACK");
                });
            }
            using (db = TestDb.InFile(new SqlRecOptions { BusyTimeout = TimeSpan.FromMilliseconds(300), Progress = Progress }))
            {
                db.Execute($"PRAGMA journal_mode = {journalMode}").Execute(RecommendTests.Likes);
                Assert.AreEqual(journalMode.ToLowerInvariant(), db.Scalar("PRAGMA journal_mode"));
                string? before = null;
                if (!first)
                {
                    db.Scalar(Train);
                    before = (string)db.Scalar("SELECT recommend(1, 10)")!;
                }
                armed = true;
                db.AssertError(Retrain, Errors.DatabaseBusy("rec_train").Message);
                release!.Wait();
                other!.Dispose();
                if (first)
                {
                    Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_models"), "the first training's row is gone");
                }
                else
                {
                    Assert.AreEqual("ready", db.Scalar("SELECT status FROM rec_models WHERE name = 'm'"), "the lease was cleared");
                    Assert.IsNull(db.Scalar("SELECT training_owner FROM rec_models WHERE name = 'm'"));
                    Assert.AreEqual(before, db.Scalar("SELECT recommend(1, 10)"), "version 1 keeps serving");
                    Assert.AreEqual(1L, db.Scalar("SELECT count(*) FROM rec_model_versions"), "nothing of version 2 was written");
                }
                Assert.AreEqual("ok", db.Scalar("PRAGMA integrity_check"));
                // Nothing is left in the way: another connection trains at once.
                using var next = db.OpenAnother();
                TestDb.Scalar(next, Retrain);
                Assert.AreEqual("[13]", TestDb.Scalar(next, "SELECT recommend(1, 10)"));
            }
        }
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void AHeartbeatThatFindsTheDatabaseBusyIsSkippedAndTheTrainingGoesOn()
    {
        SqliteConnection? other = null;
        var reports = 0;
        double? lockedBeat = null, laterBeat = null;
        void Progress(TrainingProgress progress)
        {
            if (progress.Stage != "training") return;
            reports++;
            if (reports == 2)
            {
                lockedBeat = (double?)TestDb.Scalar(other!, "SELECT training_heartbeat FROM rec_models WHERE name = 'g'");
                TestDb.Scalar(other!, "BEGIN IMMEDIATE");   // the beat after this report finds the database busy
            }
            if (reports == 4) TestDb.Scalar(other!, "ROLLBACK");
            if (reports == 6) laterBeat = (double?)TestDb.Scalar(other!, "SELECT training_heartbeat FROM rec_models WHERE name = 'g'");
        }
        using (var db = TestDb.InFile(new SqlRecOptions { BusyTimeout = TimeSpan.FromMilliseconds(100), HeartbeatInterval = TimeSpan.Zero, Progress = Progress }))
        {
            db.Execute(RecommendTests.Likes);
            using (other = db.OpenAnother())
            {
                db.Scalar("SELECT rec_train('g', json_object('model','lightgcn','source','SELECT user_id, item_id FROM likes','dim',4,'epochs',10))");
            }
            Assert.IsGreaterThanOrEqualTo(6, reports, "the training reported each epoch");
            Assert.IsNotNull(lockedBeat);
            Assert.IsNotNull(laterBeat);
            Assert.IsGreaterThan(lockedBeat.Value, laterBeat.Value, "the heartbeat went on once the lock was gone");
            Assert.AreEqual("ready", db.Scalar("SELECT status FROM rec_models WHERE name = 'g'"));
        }
    }

    [TestMethod]
    public void UseSqlRecSetsTheBusyTimeoutBeforeItRunsAnyQuery()
    {
        using var db = TestDb.InFile();
        db.Execute("PRAGMA journal_mode = DELETE").Execute(RecommendTests.Likes);
        db.Scalar(Train);
        var path = db.Path!;
        db.Connection.Close();
        // Another connection holds an exclusive lock (rollback journal: no one may read) for a second.
        using var writer = new SqliteConnection($"Data Source={path};Pooling=False");
        writer.Open();
        TestDb.Scalar(writer, "BEGIN EXCLUSIVE");
        TestDb.Scalar(writer, "UPDATE likes SET item_id = item_id");
        var unlock = Task.Run(async () =>
        {
            await Task.Delay(1000);
            TestDb.Scalar(writer, "COMMIT");
        });
        var clock = Stopwatch.StartNew();
        using var reader = new SqliteConnection($"Data Source={path};Pooling=False");
        reader.Open();
        reader.UseSqlRec();
        Assert.AreEqual(5000L, TestDb.Scalar(reader, "PRAGMA busy_timeout"), "SqlRec's default busy timeout");
        Assert.AreEqual("[12,13,\"x\"]", TestDb.Scalar(reader, "SELECT recommend(1, 10)"), "the reader waited for the lock instead of failing");
        unlock.Wait();
        Assert.IsGreaterThan(0.5, clock.Elapsed.TotalSeconds, "it did wait");
        // A timeout the application set itself is kept.
        using var own = new SqliteConnection($"Data Source={path};Pooling=False");
        own.Open();
        TestDb.Scalar(own, "PRAGMA busy_timeout = 1234");
        own.UseSqlRec();
        Assert.AreEqual(1234L, TestDb.Scalar(own, "PRAGMA busy_timeout"));
    }

    private static string JsonRanking(TestDb db, string train)
    {
        db.Scalar(train);
        return (string)db.Scalar("SELECT recommend(1, 10)")!;
    }
}
