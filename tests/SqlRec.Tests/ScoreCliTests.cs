using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using SqlRec.Cli;
using SqlRec.Cli.Commands;

namespace SqlRec.Tests;

/// <summary>
/// <c>sqlrec score</c>: shards put together equal the whole job in both formats, the output records
/// the pinned version, the model file is opened immutable (no locks, never written), and bad input
/// gets the CLI's or rec_score's documented message and writes no file.
/// </summary>
[TestClass]
public sealed class ScoreCliTests
{
    private const string Users = "SELECT id FROM people ORDER BY seq";
    private TestDb _db = null!;
    private string _folder = null!;

    [TestInitialize]
    public void Create()
    {
        _db = TestDb.InFile();
        ScoreTests.Fill(_db);
        _db.Scalar("SELECT rec_train('m', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes'))");
        _db.Scalar("SELECT rec_train('pop', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM likes'))");
        // Everything in the main file: an immutable open reads no WAL.
        _db.Execute("PRAGMA wal_checkpoint(TRUNCATE)");
        _folder = Directory.CreateTempSubdirectory("sqlrec-score-").FullName;
    }

    [TestCleanup]
    public void Delete()
    {
        _db.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private string Out(string name) => Path.Combine(_folder, name);

    private static (int Code, string Output) Run(params string[] args) => CliTests.RunWithWidth(400, args);

    private static void AssertOk((int Code, string Output) result) => Assert.AreEqual(0, result.Code, result.Output);

    private static void AssertError((int Code, string Output) result, string message)
    {
        Assert.AreEqual(1, result.Code, result.Output);
        StringAssert.Contains(result.Output, "error: " + message);
    }

    private string[] Score(string output, params string[] more) => ["score", _db.Path!, "--model", "m", "--users", Users, "--out", output, .. more];

    private static List<string> CsvRows(string path) =>
        File.ReadAllLines(path).Where(l => !l.StartsWith('#')).Skip(1).ToList();

    private static List<string> SqliteRows(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        return TestDb.Rows(connection, "SELECT user_id, rank, item_id, score, source, cold_start FROM scores ORDER BY rowid")
            .Select(r => string.Join(",", r.Select(ScoreOutput.Field))).ToList();
    }

    /// <summary>
    /// Rows through the .NET library, as the CLI runs it, also in the test pass that drives SqlRec
    /// through the loadable extension (whose NativeAOT kernels round floats differently).
    /// </summary>
    private List<string> LibraryRows(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={_db.Path};Pooling=False");
        connection.Open();
        connection.UseSqlRec();
        return TestDb.Rows(connection, sql).Select(r => string.Join(",", r.Select(ScoreOutput.Field))).ToList();
    }

    private static Dictionary<string, object?> Meta(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        return TestDb.Rows(connection, "SELECT key, value FROM score_meta").ToDictionary(r => (string)r[0]!, r => r[1]);
    }

    [TestMethod]
    public void ShardsPutTogetherEqualTheWholeJobInBothFormats()
    {
        // The reference: rec_score's rows in SQL, in the users query's order.
        var expected = LibraryRows($"SELECT user_id, rank, item_id, score, source, cold_start FROM rec_score('m', '{Users}', 10)");
        var whole = Run(Score(Out("whole.csv")));
        AssertOk(whole);
        StringAssert.Contains(whole.Output, "scored 182 users (2 cold-start) with model 'm' v1, shard 0/1: 1,820 rows into");
        CollectionAssert.AreEqual(expected, CsvRows(Out("whole.csv")), "CSV: rec_score's rows in streaming order");
        AssertOk(Run(Score(Out("whole.db"))));
        CollectionAssert.AreEqual(expected, SqliteRows(Out("whole.db")), "SQLite: the same rows");

        foreach (var format in new[] { "csv", "sqlite" })
        {
            var parts = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                var path = Out($"part{i}.{format}");
                AssertOk(Run(Score(path, "--shard", $"{i}/3", "--format", format)));
                parts.AddRange(format == "csv" ? CsvRows(path) : SqliteRows(path));
                if (format == "sqlite") Assert.AreEqual($"{i}/3", Meta(path)["shard"]);
            }
            CollectionAssert.AreEqual(expected.Order(StringComparer.Ordinal).ToList(), parts.Order(StringComparer.Ordinal).ToList(), $"{format}: 3 shards put together");
        }
    }

    [TestMethod]
    public void TheOutputRecordsThePinnedVersion()
    {
        _db.Scalar("SELECT rec_train('m', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes WHERE item_id <> 100'))");
        _db.Execute("PRAGMA wal_checkpoint(TRUNCATE)");
        var result = Run(Score(Out("s.db"), "-k", "3"));
        AssertOk(result);
        StringAssert.Contains(result.Output, "with model 'm' v2, shard 0/1");
        var meta = Meta(Out("s.db"));
        Assert.AreEqual(2L, meta["version"]);
        Assert.AreEqual(_db.Scalar("SELECT uid FROM rec_model_versions WHERE model = 'm' AND version = 2"), meta["version_uid"]);
        Assert.AreEqual("graph_filter", meta["kind"]);
        Assert.AreEqual(Users, meta["users_query"]);
        Assert.AreEqual(182L * 3, meta["rows"]);
        Assert.AreEqual(2L, meta["cold_start_users"]);
        AssertOk(Run(Score(Out("s.csv"), "-k", "3")));
        var lines = File.ReadAllLines(Out("s.csv"));
        CollectionAssert.Contains(lines, "# version: 2");
        CollectionAssert.Contains(lines, "# shard_rule: XXH64(UTF-8 text of the user id, seed 0) mod n");
        CollectionAssert.Contains(lines, "user_id,rank,item_id,score,source,cold_start");
    }

    [TestMethod]
    public void TheModelFileIsOpenedImmutableAndNeverWritten()
    {
        // A rollback-journal file with another connection holding an exclusive lock: a normal reader
        // is refused (busy), an immutable one takes no lock and reads.
        _db.Execute("PRAGMA journal_mode = DELETE");
        var path = _db.Path!;
        var before = SHA256.HashData(File.ReadAllBytes(path));
        using var writer = _db.OpenAnother();
        TestDb.Rows(writer, "PRAGMA busy_timeout = 0");
        TestDb.Rows(writer, "BEGIN EXCLUSIVE");
        var refused = Run(Score(Out("plain.csv"), "--snapshot"));
        Assert.AreEqual(1, refused.Code, "a reader that takes locks is refused while the file is locked exclusively");
        StringAssert.Contains(refused.Output, "the database is busy");
        AssertOk(Run(Score(Out("locked.csv"))));
        Assert.HasCount(1820, CsvRows(Out("locked.csv")));
        TestDb.Rows(writer, "ROLLBACK");
        CollectionAssert.AreEqual(before, SHA256.HashData(File.ReadAllBytes(path)), "the model file is unchanged");
        Assert.IsFalse(File.Exists(path + "-shm"), "an immutable open keeps no shared-memory file");
    }

    [TestMethod]
    public void AnUncheckpointedLogIsRefusedForAnImmutableOpenAndReadWithSnapshot()
    {
        var expected = LibraryRows($"SELECT user_id, rank, item_id, score, source, cold_start FROM rec_score('m', '{Users}', 10)");
        // A write that stays in the WAL (the test's connection keeps the file open).
        _db.Execute("CREATE TABLE note(x); INSERT INTO note VALUES (1)");
        var wal = new FileInfo(_db.Path + "-wal").Length;
        Assert.IsGreaterThan(0L, wal);
        AssertError(Run(Score(Out("a.csv"))), CliErrors.UncheckpointedLog(_db.Path!, wal).Message);
        Assert.IsFalse(File.Exists(Out("a.csv")));
        AssertOk(Run(Score(Out("a.csv"), "--snapshot")));
        CollectionAssert.AreEqual(expected, CsvRows(Out("a.csv")));
        CollectionAssert.Contains(File.ReadAllLines(Out("a.csv")), "# opened: read-only, one read transaction");
    }

    [TestMethod]
    public void BadInputGetsTheDocumentedMessageAndWritesNoFile()
    {
        foreach (var spec in new[] { "3/2", "0/0", "-1/2", "a/b", "2/2", "1/", "0/65537" })
            AssertError(Run(Score(Out("x.csv"), "--shard", spec)), CliErrors.ShardInvalid(spec).Message);
        AssertError(Run(Score(Out("x.csv"), "-k", "0")), CliErrors.OptionRange("-k", "between 1 and 10000", 0).Message);
        AssertError(Run(Score(Out("x.csv"), "--k", "10001")), CliErrors.OptionRange("-k", "between 1 and 10000", 10001).Message);
        AssertError(Run("score", _db.Path!, "--model", "nope", "--users", Users, "--out", Out("x.csv")), Errors.UnknownModel("rec_score", "nope", ["m", "pop"]).Message);
        AssertError(Run("score", _db.Path!, "--users", Users, "--out", Out("x.csv")), Errors.ModelRequired("rec_score", ["m", "pop"]).Message);
        AssertError(Run("score", _db.Path!, "--model", "m", "--users", "DELETE FROM people", "--out", Out("x.csv")),
            Errors.QueryNotSelect("rec_score", QueryRole.Users, "DELETE FROM people").Message);
        var called = Run("score", _db.Path!, "--model", "m", "--users", "SELECT rec_drop('m')", "--out", Out("x.csv"));
        Assert.AreEqual(1, called.Code);
        StringAssert.Contains(called.Output, "error: rec_score(): the 'users' query calls rec_drop(), which ");
        AssertError(Run("score", Out("missing.db"), "--users", Users, "--out", Out("x.csv")), CliErrors.DatabaseNotFound(Out("missing.db")).Message);
        AssertError(Run(Score(_db.Path!)), CliErrors.OutputIsDatabase(_db.Path!).Message);
        AssertError(Run(Score(Path.Combine(_folder, "no", "x.csv"))), CliErrors.OutputFolderNotFound(Path.Combine(_folder, "no")).Message);
        Assert.IsEmpty(Directory.GetFiles(_folder), "no output and no partial file was left");
        Assert.AreEqual(2L, _db.Scalar("SELECT count(*) FROM rec_models"), "nothing was dropped");

        // An output that exists is refused, and kept; --overwrite replaces it.
        File.WriteAllText(Out("kept.csv"), "mine");
        AssertError(Run(Score(Out("kept.csv"))), CliErrors.OutputExists(Out("kept.csv")).Message);
        Assert.AreEqual("mine", File.ReadAllText(Out("kept.csv")));
        // A job that fails part way leaves the old file as it was.
        AssertError(Run("score", _db.Path!, "--model", "m", "--users", "SELECT id FROM people UNION ALL SELECT NULL", "--out", Out("kept.csv"), "--overwrite"),
            Errors.QueryBadId("rec_score", QueryRole.Users, "user", 183, null).Message);
        Assert.AreEqual("mine", File.ReadAllText(Out("kept.csv")));
        Assert.IsFalse(File.Exists(Out("kept.csv.partial")));
        AssertOk(Run(Score(Out("kept.csv"), "--overwrite")));
        Assert.HasCount(1820, CsvRows(Out("kept.csv")));
    }
    [TestMethod]
    [DataRow(15, 143, "SIGTERM")]
    [DataRow(2, 130, "SIGINT (Ctrl+C)")]
    public void ASignalStopsTheJobAndLeavesNoFile(int signal, int exitCode, string name)
    {
        // A job that would run for hours: the users query repeats the known users without end.
        const string endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 1000000000) SELECT i % 150 + 1 FROM n";
        var output = Out("stopped.csv");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "SqlRec.Cli.dll"), "score", _db.Path!, "--model", "m", "--users", endless, "--out", output })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var scoring = new ManualResetEventSlim();
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is null) return;
            lines.Enqueue(line.Data);
            if (line.Data.StartsWith("scoring with model 'm' v1", StringComparison.Ordinal)) scoring.Set();
        };
        process.ErrorDataReceived += (_, line) => { if (line.Data is not null) lines.Enqueue(line.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Assert.IsTrue(scoring.Wait(TimeSpan.FromSeconds(60)), string.Join("\n", lines));
        Thread.Sleep(500);
        Assert.IsTrue(File.Exists(output + ".partial"), "the job was writing");
        using (var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {process.Id}") { UseShellExecute = false })!) kill.WaitForExit();
        Assert.IsTrue(process.WaitForExit(30_000), "the CLI stopped after the signal");
        process.WaitForExit();
        var text = string.Join("\n", lines);
        Assert.AreEqual(exitCode, process.ExitCode, text);
        // SQLite stops the statement before or inside rec_score: either message says the job was stopped.
        Assert.IsTrue(text.Contains("error: " + CliErrors.Interrupted(name).Message, StringComparison.Ordinal)
            || System.Text.RegularExpressions.Regex.IsMatch(text, @"error: rec_score\(\): interrupted after \d+ users\."), text);
        Assert.IsFalse(File.Exists(output), "no output");
        Assert.IsFalse(File.Exists(output + ".partial"), "no partial output");
    }
}
