using System.Diagnostics;

namespace SqlRec.Tests;

/// <summary>
/// The model lives in the database file: a different process that opens the file after training
/// serves the same ranking, in both forms of recommend().
/// </summary>
[TestClass]
public sealed class SecondProcessTests
{
    private static (int ExitCode, string Output) RunCli(params string[] args)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "SqlRec.Cli.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(cli);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the CLI did not finish within 60 s");
        }
        return (process.ExitCode, output.Result + error.Result);
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void AnotherProcessServesTheSameRankingInBothForms()
    {
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        db.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',2))");
        var expectedPopular = (string)db.Scalar("SELECT recommend(1, 10, 'pop')")!;
        var expectedFilter = (string)db.Scalar("SELECT recommend(1, 10, 'gf')")!;
        db.Connection.Close();

        foreach (var (model, expected) in new[] { ("pop", expectedPopular), ("gf", expectedFilter) })
        {
            var query = $"""
                SELECT 'RESULT=' || (recommend(1, 10, '{model}') = (SELECT json_group_array(item_id) FROM (SELECT item_id FROM recommend(1, 10, '{model}') ORDER BY rank)))
                       || '=' || recommend(1, 10, '{model}') AS result
                """;
            var (exitCode, output) = RunCli("sql", db.Path!, query);
            Assert.AreEqual(0, exitCode, output);
            StringAssert.Contains(output, $"RESULT=1={expected}", output);
        }
    }
}
