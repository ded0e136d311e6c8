using Microsoft.Data.Sqlite;
using Spectre.Console;
using SqlRec.Cli;

namespace SqlRec.Tests;

/// <summary>
/// Failures of the database's surroundings - a read-only file, a full disk - give a SqlRec message
/// naming the function and what happened, change nothing, and reach the CLI as that message (never
/// as a .NET exception's name).
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class EnvironmentFailureTests
{
    private const string Train = "SELECT rec_train('m', json_object('model','popular','source','SELECT user_id, item_id FROM likes'))";

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void AReadOnlyDatabaseRefusesRecTrainAndRecDropByName()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        db.Scalar(Train);
        var path = db.Path!;
        db.Connection.Close();
        // SQLITE_OPEN_READONLY: what a chmod 444 file gives a user who is not root.
        using var reader = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        reader.Open();
        reader.UseSqlRec();
        TestDb.AssertError(reader, Train, Errors.DatabaseReadOnly("rec_train").Message);
        TestDb.AssertError(reader, "SELECT rec_drop('m')", Errors.DatabaseReadOnly("rec_drop").Message);
        Assert.AreEqual("[12,13,\"x\"]", TestDb.Scalar(reader, "SELECT recommend(1, 10)"), "serving needs no writes");
        // A database without SqlRec's tables yet: creating them is refused the same way.
        TestDb.Scalar(reader, "SELECT 1");
        using var fresh = TestDb.InFile();
        fresh.Execute(RecommendTests.Likes);
        fresh.Connection.Close();
        using var readOnlyFresh = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = fresh.Path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        readOnlyFresh.Open();
        readOnlyFresh.UseSqlRec();
        TestDb.AssertError(readOnlyFresh, Train, Errors.DatabaseReadOnly("rec_train").Message);
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void AFullDiskFailsTheSaveByNameAndChangesNothing()
    {
        using var db = TestDb.InFile();
        db.Execute("PRAGMA journal_mode = DELETE").Execute(RecommendTests.Likes);
        db.Execute("CREATE TABLE many(user_id INTEGER, item_id INTEGER)");
        db.Execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO many SELECT i % 50, i FROM n");
        db.Scalar(Train);
        var before = db.Scalar("SELECT recommend(1, 10)");
        var pages = (long)db.Scalar("PRAGMA page_count")!;
        // SQLite reports SQLITE_FULL when the file would grow past max_page_count, as on a full disk.
        db.Scalar($"PRAGMA max_page_count = {pages + 3}");
        db.AssertError("SELECT rec_train('m', json_object('model','popular','source','SELECT user_id, item_id FROM many'))", Errors.DiskFull("rec_train").Message);
        Assert.AreEqual("ready", db.Scalar("SELECT status FROM rec_models WHERE name = 'm'"), "the lease was cleared");
        Assert.AreEqual(1L, db.Scalar("SELECT current_version FROM rec_models WHERE name = 'm'"));
        Assert.AreEqual(1L, db.Scalar("SELECT count(*) FROM rec_model_versions"));
        Assert.AreEqual(before, db.Scalar("SELECT recommend(1, 10)"), "version 1 keeps serving");
        Assert.AreEqual("ok", db.Scalar("PRAGMA integrity_check"));
        // With room again, the same training works at once.
        db.Scalar("PRAGMA max_page_count = 1073741823");
        db.Scalar("SELECT rec_train('m', json_object('model','popular','source','SELECT user_id, item_id FROM many'))");
        Assert.AreEqual(2L, db.Scalar("SELECT current_version FROM rec_models WHERE name = 'm'"));
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void TheCliShowsAReadOnlyDatabaseBySqlRecsMessage()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        db.Connection.Close();
        // A connection that may not write (PRAGMA query_only), as a read-only file gives one.
        var (code, output) = RunCli("sql", db.Path!, "PRAGMA query_only = 1; " + Train);
        Assert.AreEqual(1, code, output);
        StringAssert.Contains(output, "error: " + Errors.DatabaseReadOnly("rec_train").Message);
        Assert.DoesNotContain("unexpected", output);
        // A statement of the user's own that SQLite refuses for the same reason is named too.
        (code, output) = RunCli("sql", db.Path!, "PRAGMA query_only = 1; DELETE FROM likes");
        Assert.AreEqual(1, code, output);
        StringAssert.Contains(output, "error: " + CliErrors.DatabaseRefused(CliErrors.EnvironmentProblem(8)!, "attempt to write a readonly database").Message);
        if (OperatingSystem.IsWindows() || Environment.UserName == "root") return;   // root writes a chmod 444 file anyway
        File.SetUnixFileMode(db.Path!, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        (code, output) = RunCli("train", db.Path!, "m", "--model", "popular", "--source", "SELECT user_id, item_id FROM likes");
        Assert.AreEqual(1, code, output);
        StringAssert.Contains(output, "error: " + Errors.DatabaseReadOnly("rec_train").Message);
    }

    private static (int Code, string Output) RunCli(params string[] args) => CliTests.RunWithWidth(1000, args);
}
