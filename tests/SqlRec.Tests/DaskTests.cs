using System.Globalization;
using System.Text.Json;

namespace SqlRec.Tests;

/// <summary>
/// samples/dask/score_dask.py on a LocalCluster of 2 worker processes, each loading the SqlRec
/// extension into Python's sqlite3 and scoring disjoint shards of an immutable model file; the first
/// attempt at one shard kills its worker, Dask runs it again, and the gathered rows equal the
/// single-process rows and the .NET library's rec_score exactly, with no duplicates. Needs Debian's
/// python3 with python3-distributed (.ci/run installs it with apt when it can); otherwise inconclusive
/// with the reason.
/// </summary>
[TestClass]
[TestCategory("Extension")]
[TestCategory("Dask")]
public sealed class DaskTests
{
    private const string Users = "SELECT id FROM people ORDER BY seq";

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void ShardsScoredOnTwoDaskWorkersEqualSingleProcessScoringEvenWhenAWorkerDies()
    {
        var python = ExtensionHost.Python();
        var probe = ExtensionHost.Run(python, "-c \"import distributed; print(distributed.__version__)\"", Environment.CurrentDirectory, TimeSpan.FromMinutes(1));
        if (probe.Exit != 0)
            Assert.Inconclusive($"python3-distributed is not importable with {python} (apt-get install -y python3-distributed): {probe.Error.Trim().Split('\n').Last()}");
        var script = Path.Combine(TestData.RepositoryRoot(), "samples", "dask", "score_dask.py");
        var extension = ExtensionHost.Library;

        using var db = TestDb.InFile();
        ScoreTests.Fill(db);
        db.Scalar("SELECT rec_train('m', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes'))");
        db.Execute("PRAGMA wal_checkpoint(TRUNCATE)");
        var folder = Path.GetDirectoryName(db.Path)!;
        var marker = Path.Combine(folder, "crashed");
        var output = Path.Combine(folder, "scores.csv");
        var result = ExtensionHost.Run(python,
            $"\"{script}\" --db \"{db.Path}\" --extension \"{extension}\" --model m --users \"{Users}\" --k 5 --shards 6 --workers 2 " +
            $"--compare --crash-marker \"{marker}\" --out \"{output}\"", folder, TimeSpan.FromMinutes(8));
        Assert.AreEqual(0, result.Exit, $"the Dask job failed:\n{result.Output}\n{result.Error}");
        Assert.IsTrue(File.Exists(marker), "the first attempt at shard 0 killed its worker");
        var report = JsonDocument.Parse(result.Output.Trim().Split('\n').Last()).RootElement;
        Assert.AreEqual("dask", report.GetProperty("mode").GetString());
        Assert.IsTrue(report.GetProperty("equal_to_single").GetBoolean(), "the script compared the shards with single-process scoring");
        Assert.AreEqual(1, report.GetProperty("version").GetInt32());
        Assert.AreEqual(182, report.GetProperty("users").GetInt32());

        // The gathered rows against single-process scoring through the same extension build, written
        // by a second run of the script without Dask: the same lines exactly (scores as Python's
        // round-trip repr), none twice.
        var single = Path.Combine(folder, "single.csv");
        var alone = ExtensionHost.Run(python, $"\"{script}\" --db \"{db.Path}\" --extension \"{extension}\" --model m --users \"{Users}\" --k 5 --single --out \"{single}\"",
            folder, TimeSpan.FromMinutes(2));
        Assert.AreEqual(0, alone.Exit, alone.Error);
        var gathered = Rows(output);
        Assert.HasCount(182 * 5, gathered);
        Assert.AreEqual(gathered.Count, gathered.Select(r => (r[0], r[1])).Distinct().Count(), "no (user, rank) twice");
        CollectionAssert.AreEqual(Rows(single).Select(Line).Order(StringComparer.Ordinal).ToList(), gathered.Select(Line).Order(StringComparer.Ordinal).ToList(),
            "the shards gathered from Dask equal single-process scoring exactly");

        // And against the .NET library's rec_score: the same users, ranks and items; the scores agree
        // to float32 rounding only, because the NativeAOT build's SIMD paths round differently from
        // the JIT's (an item may swap places with one whose score is within that rounding).
        var expected = db.Rows($"SELECT user_id, rank, item_id, score FROM rec_score('m', '{Users}', 5)");
        var byKey = gathered.ToDictionary(r => (r[0], r[1]));
        foreach (var row in expected)
        {
            var key = (Convert.ToString(row[0], CultureInfo.InvariantCulture)!, Convert.ToString(row[1], CultureInfo.InvariantCulture)!);
            var other = byKey[key];
            var score = (double)row[3]!;
            Assert.AreEqual(score, double.Parse(other[3], CultureInfo.InvariantCulture), 1e-5 * Math.Max(1, Math.Abs(score)), $"{key}: score");
            if (other[2] != Convert.ToString(row[2], CultureInfo.InvariantCulture))
                Assert.IsTrue(expected.Any(e => Equals(e[0], row[0]) && Math.Abs((double)e[3]! - score) < 1e-5 && !ReferenceEquals(e, row)), $"{key}: item {other[2]} vs {row[2]} without a near tie");
        }
    }

    private static List<string[]> Rows(string csv) =>
        File.ReadAllLines(csv).Where(l => !l.StartsWith('#')).Skip(1).Select(l => l.Split(',')).ToList();

    private static string Line(string[] row) => string.Join(",", row);
}
