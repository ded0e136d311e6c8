namespace SqlRec.Tests;

[TestClass]
public sealed class SmokeTests
{
    [TestMethod]
    public void TrainAndRecommendEndToEnd()
    {
        using var db = TestDb.InMemory();
        db.Execute("CREATE TABLE likes(user_id INTEGER, item_id INTEGER)");
        db.Execute("INSERT INTO likes VALUES (1,10),(1,11),(2,10),(2,12),(3,10),(3,11),(3,13),(4,12)");
        var summary = (string)db.Scalar("SELECT rec_train('m', json_object('model','popular','source','SELECT user_id, item_id FROM likes'))")!;
        StringAssert.Contains(summary, "\"version\":1");
        Assert.AreEqual("[12,13]", db.Scalar("SELECT recommend(1, 5)"));
        var rows = db.Rows("SELECT rank, item_id, score, source FROM recommend(1, 5)");
        Assert.HasCount(2, rows);
        Assert.AreEqual(12L, rows[0][1]);
        Assert.AreEqual("[10,11,12]", db.Scalar("SELECT recommend(99, 3)"));
        Assert.AreEqual("popular", db.Scalar("SELECT source FROM recommend(99, 1)"));
    }

    /// <summary>
    /// In the suite's extension pass the databases really run in the extension, and on x86-64 Linux
    /// in the build SQLREC_CPU names (CI's pass uses the portable x86-64-v2 one).
    /// </summary>
    [TestMethod]
    public void TheExtensionPassRunsInTheChosenBuild()
    {
        if (!ExtensionHost.Enabled) Assert.Inconclusive($"runs in the extension pass only ({ExtensionHost.ModeVariable}=extension)");
        using var db = TestDb.InMemory();
        Assert.AreEqual("[12]", db.Scalar("SELECT json_array(12)"));
        if (!OperatingSystem.IsLinux()) return;
        var mapped = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(p => p.Length >= 6)
            .Select(p => Path.GetFileName(p[^1])).Where(f => f.StartsWith("sqlrec", StringComparison.Ordinal)).ToHashSet();
        Assert.Contains(ExtensionHost.FileName, mapped, "the extension is loaded into this process");
        if (Environment.GetEnvironmentVariable(ExtensionHost.CpuVariable) is { Length: > 0 } level)
            Assert.Contains($"sqlrec-{level}.so", mapped, $"{ExtensionHost.CpuVariable}={level} chose the build");
    }
}
