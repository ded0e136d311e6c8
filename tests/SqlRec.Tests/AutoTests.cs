using System.Text.Json;
using SqlRec.Models;

namespace SqlRec.Tests;

/// <summary>The <c>auto</c> kind: it picks the best candidate on a validation split, stores that kind, and explains itself.</summary>
[TestClass]
public sealed class AutoTests
{
    private static JsonElement Train(TestDb db, string options) =>
        JsonDocument.Parse((string)db.Scalar($"SELECT rec_train('a', json_object('source', 'SELECT user_id, item_id FROM train'{options}))")!).RootElement;

    /// <summary>
    /// On clustered data the item-item kinds must beat popularity; auto keeps the leaderboard's best
    /// by the metric, stores a version of that kind, and serves it.
    /// </summary>
    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void AutoKeepsTheBestCandidateAndStoresItsKind()
    {
        using var db = GraphFilterTests.ClusteredShop(users: 160);
        var summary = Train(db, ", 'candidates', json_array('popular', 'graph_filter', 'ease')");
        var auto = summary.GetProperty("auto");
        var leaderboard = auto.GetProperty("leaderboard").EnumerateArray().ToList();
        Assert.AreEqual(9, leaderboard.Count, "1 popular + 4 graph_filter + 4 ease configurations");
        var scores = leaderboard.Select(e => e.GetProperty("ndcg@20").GetDouble()).ToList();
        CollectionAssert.AreEqual(scores.OrderDescending().ToList(), scores, "best first");
        var chosen = auto.GetProperty("chosen");
        Assert.AreEqual(leaderboard[0].GetProperty("model").GetString(), chosen.GetProperty("model").GetString());
        Assert.AreNotEqual("popular", chosen.GetProperty("model").GetString(), "clusters are what the item-item kinds find");
        var popular = leaderboard.Single(e => e.GetProperty("model").GetString() == "popular").GetProperty("ndcg@20").GetDouble();
        Assert.IsTrue(scores[0] > popular + 0.1, $"best {scores[0]} vs popular {popular}");
        Assert.AreEqual(chosen.GetProperty("model").GetString(), summary.GetProperty("kind").GetString());
        Assert.AreEqual(chosen.GetProperty("model").GetString(), db.Scalar("SELECT kind FROM rec_models WHERE name = 'a'"));
        Assert.AreEqual(auto.GetRawText(), JsonDocument.Parse((string)db.Scalar("SELECT metrics -> '$.auto' FROM rec_models WHERE name = 'a'")!).RootElement.GetRawText());
        Assert.AreEqual(5L, db.Scalar("SELECT json_array_length(recommend(3, 5, 'a'))"));
        // rec_evaluate's split mode retrains the chosen kind with its options.
        var report = JsonDocument.Parse((string)db.Scalar("SELECT rec_evaluate('a', json_object('split', 'random', 'k', 20))")!).RootElement;
        Assert.IsTrue(report.GetProperty("metrics").GetProperty("ndcg@20").GetDouble() > popular);
    }

    /// <summary>The same seed gives the same leaderboard and choice; the budget is not reached here.</summary>
    [TestMethod]
    public void AutoIsDeterministicForASeed()
    {
        using var db = GraphFilterTests.ClusteredShop(users: 80);
        string Board(JsonElement summary) => string.Join(";", summary.GetProperty("auto").GetProperty("leaderboard").EnumerateArray()
            .Select(e => $"{e.GetProperty("model")} {e.GetProperty("options").GetRawText()} {e.GetProperty("ndcg@20")} {e.GetProperty("recall@20")}"));
        var first = Train(db, ", 'candidates', json_array('popular', 'ease', 'graph_filter'), 'seed', 7");
        var second = Train(db, ", 'candidates', json_array('graph_filter', 'ease', 'popular'), 'seed', 7");
        Assert.AreEqual(Board(first), Board(second), "the order the candidates are named in changes nothing");
        Assert.AreEqual(first.GetProperty("auto").GetProperty("chosen").GetRawText(), second.GetProperty("auto").GetProperty("chosen").GetRawText());
    }

    /// <summary>Without 'model', rec_train picks; every candidate kind is tried by default.</summary>
    [TestMethod]
    public void AutoIsTheDefaultAndTriesEveryKind()
    {
        using var db = GraphFilterTests.ClusteredShop(users: 40);
        var summary = Train(db, ", 'budget_seconds', 120");
        var kinds = summary.GetProperty("auto").GetProperty("leaderboard").EnumerateArray().Select(e => e.GetProperty("model").GetString()).Distinct().Order().ToList();
        CollectionAssert.AreEqual(new[] { "ease", "graph_filter", "lightgcn", "popular" }, kinds);
        Assert.AreEqual("ndcg@20", summary.GetProperty("auto").GetProperty("metric").GetString());
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void AutoOptionErrors()
    {
        using var db = GraphFilterTests.ClusteredShop(users: 20);
        string TrainSql(string options) => $"SELECT rec_train('a', json_object('source', 'SELECT user_id, item_id FROM train'{options}))";
        string[] tryable = ["popular", "graph_filter", "ease", "lightgcn"];
        db.AssertError(TrainSql(", 'candidates', json_array()"), Errors.AutoCandidatesInvalid("rec_train", "[]", tryable).Message);
        db.AssertError(TrainSql(", 'candidates', json_array('freedom')"), Errors.AutoCandidatesInvalid("rec_train", "[\"freedom\"]", tryable).Message);
        db.AssertError(TrainSql(", 'candidates', json_array('auto')"), Errors.AutoCandidatesInvalid("rec_train", "[\"auto\"]", tryable).Message);
        db.AssertError(TrainSql(", 'candidates', 'ease'"), Errors.AutoCandidatesInvalid("rec_train", "\"ease\"", tryable).Message);
        db.AssertError(TrainSql(", 'budget_seconds', 0"), Errors.OptionRange("rec_train", "budget_seconds", "between 1 and 86400", "0").Message);
        db.AssertError(TrainSql(", 'metric', 'mrr'"), Errors.OptionRange("rec_train", "metric", "one of 'ndcg', 'recall'", "\"mrr\"").Message);
        db.AssertError(TrainSql(", 'validation_ratio', 1"), Errors.OptionRange("rec_train", "validation_ratio", "greater than 0 and less than 1", "1").Message);
        db.AssertError(TrainSql(", 'lambda', 5"), Errors.UnknownOption("rec_train", "lambda", "model kind 'auto'",
            ["model", "source", "budget_seconds", "metric", "k", "validation_ratio", "seed", "candidates"]).Message);
        db.AssertError(TrainSql(", 'model', 'best'"), Errors.UnknownModelKind("rec_train", "best", ModelKinds.Names).Message);
        // No user with two items: nothing can be held out.
        db.AssertError("SELECT rec_train('a', json_object('source', 'SELECT user_id, min(item_id) FROM train GROUP BY user_id'))",
            Errors.AutoNoValidation("rec_train").Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'rec_models'"), "nothing was written");
    }

    /// <summary>When no candidate fits, auto says why and names the way out; nothing is written.</summary>
    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void NothingThatFitsIsAClearError()
    {
        using var db = GraphFilterTests.ClusteredShop(users: 40, options: new SqlRecOptions { MemoryLimit = 10_000 });
        var error = Assert.ThrowsExactly<Microsoft.Data.Sqlite.SqliteException>(() =>
            db.Scalar("SELECT rec_train('a', json_object('source', 'SELECT user_id, item_id FROM train', 'candidates', json_array('ease')))"));
        var message = TestDb.SqliteMessage(error);
        StringAssert.StartsWith(message, "rec_train(): model kind 'auto' finished no candidate within 'budget_seconds' 60 (the last: model kind 'ease' with ");
        StringAssert.EndsWith(message, "or train on fewer items); raise 'budget_seconds', add 'candidates', or name a kind with option 'model'.");
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'rec_models'"));
    }
}
