using System.Diagnostics;
using Microsoft.Data.Sqlite;
using SqlRec.Cli;

namespace SqlRec.Tests;

/// <summary>
/// Training processes that die: retrains run by the CLI as separate processes are killed (SIGKILL)
/// at seeded random moments, during the save too, and after each kill the previous version serves
/// the same ranking, the file is intact and a new training takes the dead one's lease at once.
/// SIGTERM and SIGINT stop a training cleanly (exit code, message, lease cleared).
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class FaultTests
{
    private const string Source = "SELECT user_id, item_id FROM likes";
    private const string GraphFilter = "SELECT rec_train('m', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',24))";
    private const string LongTraining = "SELECT rec_train('m', json_object('model','lightgcn','source','SELECT user_id, item_id FROM likes','dim',16,'epochs',100000))";

    private string _folder = null!;

    [TestInitialize]
    public void CreateFolder()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Inconclusive("the fault tests kill and signal CLI processes with POSIX signals and judge leases through /proc, which only the Linux runs provide");
        _folder = Directory.CreateTempSubdirectory("sqlrec-fault-").FullName;
    }

    [TestCleanup]
    public void DeleteFolder()
    {
        if (_folder is null) return;
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void TrainingsKilledAtRandomMomentsLeaveThePreviousVersionServingAndARetrainWorksAtOnce()
    {
        var db = NewDatabase(users: 3000, items: 1500, perUser: 25);
        var (code, output) = RunCliToEnd("train", db, "m", "--model", "graph_filter", "--source", Source, "--option", "components=24");
        Assert.AreEqual(0, code, output);
        var expected = Ranking(db);
        // How long a whole retrain takes, to spread the kills over it.
        var clock = Stopwatch.StartNew();
        (code, output) = RunCliToEnd("train", db, "m", "--model", "graph_filter", "--source", Source, "--option", "components=24");
        var whole = clock.Elapsed;
        Assert.AreEqual(0, code, output);
        Assert.AreEqual(expected, Ranking(db), "a retrain on the same data ranks the same");

        var random = new Random(18);
        var budget = Stopwatch.StartNew();
        int kills = 0, duringSave = 0, finishedFirst = 0, checks = 0, takenOver = 0;
        var failures = new List<string>();
        while (kills < 30 && budget.Elapsed < TimeSpan.FromSeconds(75))
        {
            var atSave = kills % 3 == 2;   // every third kill lands right after the save began
            var versionBefore = Scalar<long>(db, "SELECT current_version FROM rec_models WHERE name = 'm'");
            using var process = StartCli("train", db, "m", "--model", "graph_filter", "--source", Source, "--option", "components=24");
            var saving = new ManualResetEventSlim();
            process.OutputDataReceived += (_, line) => { if (line.Data?.StartsWith("saving", StringComparison.Ordinal) == true) saving.Set(); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (atSave)
            {
                if (saving.Wait(whole * 3)) Thread.Sleep(random.Next(0, 40));
            }
            else
            {
                Thread.Sleep(TimeSpan.FromMilliseconds(random.NextDouble() * whole.TotalMilliseconds * 1.1));
            }
            if (process.HasExited) finishedFirst++;
            else
            {
                process.Kill();   // SIGKILL
                kills++;
                if (atSave && saving.IsSet) duringSave++;
            }
            process.WaitForExit();

            // The file is intact, a version serves the same ranking (the new one only if it committed before the kill).
            checks++;
            var integrity = Scalar<string>(db, "PRAGMA integrity_check");
            if (integrity != "ok") failures.Add($"kill {kills}: integrity_check {integrity}");
            var version = Scalar<long>(db, "SELECT current_version FROM rec_models WHERE name = 'm'");
            if (version < versionBefore || version > versionBefore + 1) failures.Add($"kill {kills}: version {version} after {versionBefore}");
            var ranking = Ranking(db);
            if (ranking != expected) failures.Add($"kill {kills}: ranking {ranking}");
            if (Scalar<string>(db, "SELECT status FROM rec_models WHERE name = 'm'") == "training") takenOver++;
            // A new training takes the dead process's lease over at once (every third time; it costs a training).
            if (kills % 3 == 0)
            {
                checks++;
                try
                {
                    using var connection = Open(db);
                    TestDb.Scalar(connection, GraphFilter);
                    if (TestDb.Scalar(connection, "SELECT status FROM rec_models WHERE name = 'm'") as string != "ready") failures.Add($"kill {kills}: status after retrain");
                }
                catch (SqliteException e)
                {
                    failures.Add($"kill {kills}: retrain failed: {TestDb.SqliteMessage(e)}");
                }
            }
        }
        // The last kill's lease (if any) is taken over by the CLI itself.
        (code, output) = RunCliToEnd("train", db, "m", "--model", "graph_filter", "--source", Source, "--option", "components=24");
        checks++;
        if (code != 0) failures.Add($"final retrain: {output}");
        Assert.AreEqual(expected, Ranking(db));
        Assert.AreEqual("ready", Scalar<string>(db, "SELECT status FROM rec_models WHERE name = 'm'"));
        Console.WriteLine($"fault test: {kills} kills ({duringSave} during the save, {takenOver} left a lease that was taken over), "
            + $"{finishedFirst} trainings finished before their kill, {checks} checks, {failures.Count} failures, {budget.Elapsed.TotalSeconds:F0} s; one whole retrain took {whole.TotalSeconds:F2} s");
        Assert.IsEmpty(failures, string.Join("\n", failures));
        Assert.IsGreaterThanOrEqualTo(20, kills, "enough kills within the time budget");
        Assert.IsGreaterThanOrEqualTo(3, duringSave, "some kills landed during the save");
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    [DataRow(15, 143)]   // SIGTERM
    [DataRow(2, 130)]    // SIGINT (Ctrl+C)
    public void ASignalStopsTheCliTrainingCleanly(int signal, int exitCode)
    {
        var db = NewDatabase(users: 300, items: 200, perUser: 10);
        using (var connection = Open(db)) TestDb.Scalar(connection, GraphFilter);
        var expected = Ranking(db);
        using var process = StartCli("train", db, "m", "--model", "lightgcn", "--source", Source, "--option", "dim=16", "--option", "epochs=100000");
        var training = new ManualResetEventSlim();
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is null) return;
            output.Enqueue(line.Data);
            if (line.Data.StartsWith("training", StringComparison.Ordinal)) training.Set();
        };
        process.ErrorDataReceived += (_, line) => { if (line.Data is not null) output.Enqueue(line.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Assert.IsTrue(training.Wait(TimeSpan.FromSeconds(60)), string.Join("\n", output));
        Thread.Sleep(300);
        Assert.AreEqual(0, Kill(process.Id, signal));
        Assert.IsTrue(process.WaitForExit(30_000), "the CLI stopped after the signal");
        process.WaitForExit();
        var text = string.Join("\n", output);
        Assert.AreEqual(exitCode, process.ExitCode, text);
        StringAssert.Contains(text, "error: " + Errors.TrainingInterrupted("rec_train", "m").Message);
        Assert.AreEqual("ready", Scalar<string>(db, "SELECT status FROM rec_models WHERE name = 'm'"), "the lease was cleared");
        Assert.IsNull(Scalar<string?>(db, "SELECT training_owner FROM rec_models WHERE name = 'm'"));
        Assert.AreEqual(expected, Ranking(db), "version 1 keeps serving");
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void SqlrecSqlStopsOnSigintAndSigtermToo()
    {
        var db = NewDatabase(users: 300, items: 200, perUser: 10);
        using (var connection = Open(db)) TestDb.Scalar(connection, GraphFilter);
        var expected = Ranking(db);
        // A training run through `sqlrec sql`, stopped by Ctrl+C once it holds the lease.
        using (var process = StartCli("sql", db, LongTraining))
        {
            var output = ReadAll(process);
            var clock = Stopwatch.StartNew();
            while (Scalar<string>(db, "SELECT status FROM rec_models WHERE name = 'm'") != "training" && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(50);
            Thread.Sleep(300);
            Assert.AreEqual(0, Kill(process.Id, 2));
            Assert.IsTrue(process.WaitForExit(30_000));
            process.WaitForExit();
            Assert.AreEqual(130, process.ExitCode, output.ToString());
            StringAssert.Contains(output.ToString(), "error: " + Errors.TrainingInterrupted("rec_train", "m").Message);
            Assert.AreEqual("ready", Scalar<string>(db, "SELECT status FROM rec_models WHERE name = 'm'"));
            Assert.AreEqual(expected, Ranking(db));
        }
        // Any other statement, stopped by SIGTERM.
        using (var process = StartCli("sql", db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"))
        {
            var output = ReadAll(process);
            Thread.Sleep(1500);
            Assert.AreEqual(0, Kill(process.Id, 15));
            Assert.IsTrue(process.WaitForExit(30_000));
            process.WaitForExit();
            Assert.AreEqual(143, process.ExitCode, output.ToString());
            StringAssert.Contains(output.ToString(), "error: " + CliErrors.Interrupted("SIGTERM").Message);
        }
    }

    // ---- helpers ---------------------------------------------------------------------------

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/> with kill(1); returns its exit code.</summary>
    private static int Kill(int pid, int signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {pid}") { UseShellExecute = false })!;
        kill.WaitForExit();
        return kill.ExitCode;
    }

    /// <summary>A database of seeded random likes (every user likes <paramref name="perUser"/> items, popular ones more often).</summary>
    private string NewDatabase(int users, int items, int perUser)
    {
        var path = Path.Combine(_folder, $"fault-{Guid.NewGuid():N}.db");
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        TestDb.Scalar(connection, "PRAGMA journal_mode = WAL");
        TestDb.Scalar(connection, "CREATE TABLE likes(user_id INTEGER, item_id INTEGER)");
        var random = new Random(7);
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO likes VALUES ($u, $i)";
        var user = insert.Parameters.Add("$u", SqliteType.Integer);
        var item = insert.Parameters.Add("$i", SqliteType.Integer);
        for (var u = 0; u < users; u++)
        {
            var seen = new HashSet<int>();
            while (seen.Count < perUser)
            {
                // Skewed towards low item ids, as real popularity is.
                var i = (int)(items * Math.Pow(random.NextDouble(), 2));
                if (!seen.Add(i)) continue;
                user.Value = u;
                item.Value = i;
                insert.ExecuteNonQuery();
            }
        }
        transaction.Commit();
        return path;
    }

    private static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        connection.UseSqlRec();
        return connection;
    }

    /// <summary>What users 1, 2 and 3 are recommended, as one text.</summary>
    private static string Ranking(string path)
    {
        using var connection = Open(path);
        return (string)TestDb.Scalar(connection, "SELECT recommend(1, 10, 'm') || recommend(2, 10, 'm') || recommend(3, 10, 'm')")!;
    }

    private static T Scalar<T>(string path, string sql)
    {
        using var connection = Open(path);
        return (T)TestDb.Scalar(connection, sql)!;
    }

    private static Process StartCli(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "SqlRec.Cli.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    private static System.Text.StringBuilder ReadAll(Process process)
    {
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, line) => { lock (output) output.AppendLine(line.Data); };
        process.ErrorDataReceived += (_, line) => { lock (output) output.AppendLine(line.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return output;
    }

    private static (int Code, string Output) RunCliToEnd(params string[] args)
    {
        using var process = StartCli(args);
        var output = ReadAll(process);
        if (!process.WaitForExit(120_000))
        {
            process.Kill();
            Assert.Fail("the CLI did not finish within 120 s");
        }
        process.WaitForExit();
        return (process.ExitCode, output.ToString());
    }
}
