using Microsoft.Data.Sqlite;
using SqlRec.Operations;

namespace SqlRec.Tests;

/// <summary>UseSqlRec on file and in-memory databases, several connections, reopening, and the small lifecycle functions.</summary>
[TestClass]
public sealed class ConnectionTests
{
    [TestMethod]
    public void UseSqlRecLoadsSqliteVecAndTurnsExtensionLoadingOffAgain()
    {
        using var db = TestDb.InMemory();
        Assert.AreEqual("v0.1.9", db.Scalar("SELECT vec_version()"));
        Assert.AreEqual(0.0, db.Scalar("SELECT vec_distance_l2(vec_f32('[1,2]'), vec_f32('[1,2]'))"));
        var error = Assert.ThrowsExactly<SqliteException>(() => db.Scalar("SELECT load_extension('vec0')"));
        StringAssert.Contains(error.Message, "not authorized");
    }

    [TestMethod]
    public void UseSqlRecNeedsAnOpenConnectionAndAFoundExtension()
    {
        using var closed = new SqliteConnection("Data Source=:memory:");
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => closed.UseSqlRec());
        Assert.AreEqual("UseSqlRec() needs an open connection; call Open() first.", error.Message);
        closed.Open();
        var missing = Assert.ThrowsExactly<SqlRecException>(() => closed.UseSqlRec(new SqlRecOptions { VectorExtensionPath = "/nonexistent/vec0.so" }));
        StringAssert.StartsWith(missing.Message, "UseSqlRec(): the sqlite-vec extension was not found at '/nonexistent/vec0.so'");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => closed.UseSqlRec(new SqlRecOptions { BusyTimeout = TimeSpan.FromSeconds(-1) }));
        // Without sqlite-vec the recommendation functions still work.
        closed.UseSqlRec(new SqlRecOptions { LoadVectorExtension = false });
        Assert.AreEqual(SqlRecVersion(), TestDb.Scalar(closed, "SELECT rec_version()"));
    }

    private static string SqlRecVersion() => typeof(SqlRecOptions).Assembly.GetName().Version!.ToString(3);

    [TestMethod]
    public void CallingUseSqlRecTwiceAndReopeningKeepsFunctionsWorking()
    {
        var directory = Directory.CreateTempSubdirectory("sqlrec-reopen-").FullName;
        try
        {
            var path = Path.Combine(directory, "r.db");
            using var connection = new SqliteConnection($"Data Source={path}");
            connection.Open();
            connection.UseSqlRec().UseSqlRec();
            TestDb.Scalar(connection, RecommendTests.Likes.Replace(";", ";") + "SELECT 1");
            TestDb.Scalar(connection, RecommendTests.TrainPopular);
            connection.Close();
            SqliteConnection.ClearAllPools();
            connection.Open();
            Assert.AreEqual("[12,13,\"x\"]", TestDb.Scalar(connection, "SELECT recommend(1, 10)"), "SqlRec is enabled again on the new native connection");
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, true);
        }
    }

    [TestMethod]
    public void SeveralConnectionsToOneWalFileSeeEachNewVersionAtOnce()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        using var reader = db.OpenAnother();
        TestDb.AssertError(reader, "SELECT recommend(1, 3)", Errors.NoModels("recommend").Message);
        db.Scalar(RecommendTests.TrainPopular);
        Assert.AreEqual("[12,13,\"x\"]", TestDb.Scalar(reader, "SELECT recommend(1, 10)"));
        // A reader holding an open read transaction keeps its snapshot until it ends.
        // (deferred: Microsoft.Data.Sqlite's default BEGIN IMMEDIATE would take the write lock.)
        using (var transaction = reader.BeginTransaction(deferred: true))
        {
            using var command = reader.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "SELECT recommend(42, 1)";
            Assert.AreEqual("[10]", command.ExecuteScalar());
            db.Scalar("SELECT rec_train('pop', json_object('model','popular','source','SELECT user_id, item_id FROM likes WHERE item_id = 13'))");
            Assert.AreEqual("[10]", command.ExecuteScalar(), "old snapshot, old version");
            transaction.Commit();
        }
        Assert.AreEqual("[13]", TestDb.Scalar(reader, "SELECT recommend(42, 1)"));
        // Training from the second connection works too, while the first serves.
        TestDb.Scalar(reader, "SELECT rec_train('other', json_object('model','popular','source','SELECT user_id, item_id FROM likes'))");
        Assert.AreEqual("[10]", db.Scalar("SELECT recommend(42, 1, 'other')"));
    }

    [TestMethod]
    public void AWriterHoldingTheLockMakesTrainingFailClearlyAfterTheBusyTimeout()
    {
        using var db = TestDb.InFile(new SqlRecOptions { BusyTimeout = TimeSpan.FromMilliseconds(200) });
        db.Execute(RecommendTests.Likes);
        using var other = db.OpenAnother();
        using var transaction = other.BeginTransaction(); // BEGIN IMMEDIATE: holds the write lock
        db.AssertError(RecommendTests.TrainPopular, Errors.DatabaseBusy("rec_train").Message);
        transaction.Rollback();
        db.Scalar(RecommendTests.TrainPopular);
    }

    [TestMethod]
    public void ReadersOnOtherThreadsNeverSeeAHalfPublishedVersion()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        const string first = "SELECT rec_train('m', json_object('model','popular','source','SELECT user_id, item_id FROM likes'))";
        const string second = "SELECT rec_train('m', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',2))";
        db.Scalar(first);
        var allowed = new HashSet<string> { (string)db.Scalar("SELECT recommend(1, 10)")! };
        db.Scalar(second);
        allowed.Add((string)db.Scalar("SELECT recommend(1, 10)")!);
        using var stop = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var calls = 0;
        var readers = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            using var connection = db.OpenAnother();
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var answer = (string)TestDb.Scalar(connection, "SELECT recommend(1, 10)")!;
                    if (!allowed.Contains(answer)) failures.Add($"unexpected ranking {answer}");
                    Interlocked.Increment(ref calls);
                    Thread.Sleep(1); // readers at a realistic pace, so the writer is not starved of CPU on 2 cores
                }
                catch (Exception e)
                {
                    failures.Add(e.Message);
                }
            }
        })).ToArray();
        // At least 10 new versions, and on until the readers have read across them often enough: a
        // fast machine trains 10 small versions in a few milliseconds, before the readers warm up.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var rounds = 0;
        while (rounds < 10 || (Volatile.Read(ref calls) < 50 && clock.Elapsed < TimeSpan.FromSeconds(60)))
            db.Scalar(rounds++ % 2 == 0 ? first : second);
        Console.WriteLine($"{rounds} trainings in {clock.ElapsedMilliseconds} ms with {Volatile.Read(ref calls)} concurrent calls");
        stop.Cancel();
        Task.WaitAll(readers);
        Assert.IsEmpty(failures, string.Join("\n", failures.Distinct()));
        Assert.IsGreaterThanOrEqualTo(50, calls, $"the readers read while {rounds} versions were written");
    }

    [TestMethod]
    public void TrainingInsideTheApplicationsTransactionFollowsIt()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        using (var transaction = db.Connection.BeginTransaction())
        {
            using var command = db.Connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = RecommendTests.TrainPopular;
            command.ExecuteScalar();
            transaction.Rollback();
        }
        db.AssertError("SELECT recommend(1, 3)", Errors.NoModels("recommend").Message);
    }

    [TestMethod]
    public void ModelCacheServesTheNewVersionAfterItIsPublished()
    {
        using var db = TestDb.InMemory().Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        Assert.AreEqual("[10]", db.Scalar("SELECT recommend(42, 1)"));
        db.Scalar("SELECT rec_train('pop', json_object('model','popular','source','SELECT user_id, item_id FROM likes WHERE item_id = 12'))");
        Assert.AreEqual("[12]", db.Scalar("SELECT recommend(42, 1)"));
        LoadedVersions.Clear();
        Assert.AreEqual("[12]", db.Scalar("SELECT recommend(42, 1)"), "a cold cache loads the same version from the store");
    }

    [TestMethod]
    [TestCategory("fn:rec_drop")]
    public void DropRemovesEveryVersion()
    {
        using var db = TestDb.InMemory().Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        db.Scalar(RecommendTests.TrainPopular);
        Assert.AreEqual(2L, db.Scalar("SELECT rec_drop('pop')"));
        foreach (var table in new[] { "rec_models", "rec_model_versions", "rec_id_map", "rec_arrays" })
            Assert.AreEqual(0L, db.Scalar($"SELECT count(*) FROM {table}"), table);
        db.AssertError("SELECT recommend(1, 3)", Errors.NoModels("recommend").Message);
    }

    [TestMethod]
    [TestCategory("errors:rec_drop")]
    public void DropErrors()
    {
        using var db = TestDb.InMemory().Execute(RecommendTests.Likes);
        db.AssertError("SELECT rec_drop('pop')", Errors.UnknownModel("rec_drop", "pop", []).Message);
        db.Scalar(RecommendTests.TrainPopular);
        db.AssertError("SELECT rec_drop('nope')", Errors.UnknownModel("rec_drop", "nope", ["pop"]).Message);
        db.AssertError("SELECT rec_drop(NULL)", Errors.ModelNameInvalid("rec_drop", null).Message);
        db.AssertError("SELECT rec_drop(3)", Errors.ModelNameInvalid("rec_drop", 3L).Message);
    }

    [TestMethod]
    [TestCategory("fn:rec_version")]
    [TestCategory("errors:rec_version")]
    public void VersionReportsTheLibraryVersion()
    {
        using var db = TestDb.InMemory();
        Assert.AreEqual(SqlRecVersion(), db.Scalar("SELECT rec_version()"));
        db.AssertError("SELECT rec_version(1)", "wrong number of arguments to function rec_version()");
    }
}
