using System.Text.Json;
using SqlRec.Models;

namespace SqlRec.Tests;

/// <summary>
/// Every model kind of the registry through every SQL function that takes a model: training,
/// <c>recommend</c> in both forms and for an unknown user, <c>similar_items</c>, <c>similar_users</c>,
/// <c>rec_publish</c>, <c>rec_search</c>, <c>rec_evaluate</c>, a retraining and <c>rec_drop</c>. Each
/// call either gives rows or the documented error for a capability the kind truly lacks (a kind
/// says in <see cref="IModelKind.VectorsFrom"/> whether its models have vectors). The kinds come
/// from <see cref="ModelKinds.All"/> and their required options from their own tables, so a new
/// kind is run through all of this without touching the test.
/// </summary>
[TestClass]
public sealed class KindMatrixTests
{
    /// <summary>One case per registered kind.</summary>
    public static IEnumerable<object[]> Kinds => ModelKinds.All.Select(k => new object[] { k.Name });

    /// <summary>
    /// 40 users in 4 taste clusters over items 100-139 (ten per cluster), with titles and times (for a
    /// sequential kind); item 140 has a title and no interaction (a content kind's cold-start item).
    /// </summary>
    private static TestDb Shop()
    {
        var db = TestDb.InMemory();
        db.Execute("CREATE TABLE items(id INTEGER PRIMARY KEY, title TEXT); CREATE TABLE likes(user_id INTEGER, item_id INTEGER, ts INTEGER)");
        var random = new Random(5);
        using var transaction = db.Connection.BeginTransaction();
        string[] words = ["space", "castle", "detective", "garden"];
        for (var i = 100; i <= 140; i++) db.Execute("INSERT INTO items VALUES ($1, $2)", i, $"{words[(i - 100) % 40 / 10 % 4]} story {i}");
        for (var u = 1; u <= 40; u++)
        {
            var cluster = u % 4;
            for (var i = 0; i < 10; i++)
            {
                if (random.NextDouble() < 0.5 || i == u % 10) db.Execute("INSERT INTO likes VALUES ($1, $2, $3)", u, 100 + cluster * 10 + i, 1_700_000_000 + u * 100 + i);
            }
        }
        transaction.Commit();
        return db;
    }

    /// <summary>The training options: the kind, the source, and an example value for each option the kind requires.</summary>
    private static string TrainSql(IModelKind kind)
    {
        var required = kind.OptionTable.Rows.Where(r => r.DefaultText == "required")
            .Select(r => $", '{r.Name}', {r.Example ?? throw new AssertFailedException($"{kind.Name}: required option '{r.Name}' has no Example")}");
        // A sequential kind orders each user's items by the timestamp, the source's 4th column.
        var source = kind.OrdersByTime ? "SELECT user_id, item_id, 1, ts FROM likes" : "SELECT user_id, item_id FROM likes";
        return $"SELECT rec_train('m', json_object('model', '{kind.Name}', 'source', '{source}'{string.Concat(required)}))";
    }

    [TestMethod]
    [DynamicData(nameof(Kinds))]
    [TestCategory("fn:recommend")]
    [TestCategory("fn:similar_items")]
    [TestCategory("fn:similar_users")]
    [TestCategory("fn:rec_search")]
    [TestCategory("fn:rec_publish")]
    [TestCategory("fn:rec_evaluate")]
    [TestCategory("fn:rec_train")]
    [TestCategory("fn:rec_drop")]
    [TestCategory("fn:rec_score")]
    public void EveryKindThroughEveryFunction(string name)
    {
        var kind = ModelKinds.Get("test", name);
        using var db = Shop();
        var summary = JsonDocument.Parse((string)db.Scalar(TrainSql(kind))!).RootElement;
        Assert.AreEqual(1, summary.GetProperty("version").GetInt32(), name);
        Assert.AreEqual(name, summary.GetProperty("kind").GetString());

        // recommend, scalar and table-valued: the same items, none the user already likes.
        var json = JsonSerializer.Deserialize<long[]>((string)db.Scalar("SELECT recommend(1, 5, 'm')")!)!;
        Assert.HasCount(5, json, name);
        var rows = db.Rows("SELECT rank, item_id, score, source FROM recommend(1, 5, 'm')");
        CollectionAssert.AreEqual(json, rows.Select(r => (long)r[1]!).ToArray(), $"{name}: both forms rank alike");
        CollectionAssert.AreEqual(new long[] { 1, 2, 3, 4, 5 }, rows.Select(r => (long)r[0]!).ToArray());
        var liked = db.Rows("SELECT item_id FROM likes WHERE user_id = 1").Select(r => (long)r[0]!).ToHashSet();
        Assert.IsFalse(json.Any(liked.Contains), $"{name}: seen items are left out");
        foreach (var row in rows) CollectionAssert.Contains(new[] { name, "content" }, (string)row[3]!, $"{name}: source of a known user's row");

        // Batch scoring: the same rows as recommend(), user by user, the unknown user labelled cold-start.
        var batch = db.Rows("SELECT user_id, rank, item_id, score, source, cold_start FROM rec_score('m', 'SELECT 1 UNION ALL SELECT 999999', 5)");
        var single = db.Rows("SELECT 1, rank, item_id, score, source, 0 FROM recommend(1, 5, 'm') UNION ALL SELECT 999999, rank, item_id, score, source, 1 FROM recommend(999999, 5, 'm')");
        CollectionAssert.AreEqual(single.Select(r => string.Join("|", r)).ToList(), batch.Select(r => string.Join("|", r)).ToList(), $"{name}: rec_score is recommend() per user");

        // Cold start: an unknown user gets the popular items.
        Assert.AreEqual("popular", db.Scalar("SELECT DISTINCT source FROM recommend(999999, 3, 'm')"), name);

        // Vectors: rows where the kind has them, the documented error where it does not.
        var label = $"model 'm' (kind '{name}')";
        if (kind.VectorsFrom is null)
        {
            db.AssertError("SELECT similar_items(100, 3, 'm')", Errors.NoItemVectors("similar_items", label, ModelKinds.VectorsFrom).Message);
            db.AssertError("SELECT similar_users(1, 3, 'm')", Errors.NoUserVectors("similar_users", label, ModelKinds.VectorsFrom, isCollection: false).Message);
            db.AssertError("SELECT rec_publish('m')", Errors.NoItemVectors("rec_publish", label, ModelKinds.VectorsFrom).Message);
            db.AssertError("SELECT rec_search('m', vec_f32('[1, 0]'), 3)", Errors.NoItemVectors("rec_search", label, ModelKinds.VectorsFrom).Message);
        }
        else
        {
            Assert.HasCount(3, db.Rows("SELECT * FROM similar_items(100, 3, 'm')"), $"{name}: similar_items");
            Assert.HasCount(3, db.Rows("SELECT * FROM similar_users(1, 3, 'm')"), $"{name}: similar_users");
            // An item the model knows only from its features (a content kind's) has a vector too: "more like this" for a new item.
            if (db.Scalar("SELECT count(*) FROM rec_id_map WHERE model = 'm' AND space = 'item' AND id = 140") is 1L)
                Assert.HasCount(3, db.Rows("SELECT * FROM similar_items(140, 3, 'm')"), $"{name}: similar_items of a content-only item");
            var published = JsonDocument.Parse((string)db.Scalar("SELECT rec_publish('m', json_object('metric', 'cosine'))")!).RootElement;
            CollectionAssert.AreEqual(new[] { "m_items", "m_users" }, published.GetProperty("tables").EnumerateArray().Select(t => t.GetString()).ToArray(), name);
            var search = db.Rows("SELECT item_id FROM rec_search('m', (SELECT embedding FROM m_items WHERE item_id = 100), 3, json_object('metric', 'cosine'))");
            Assert.HasCount(3, search, $"{name}: rec_search");
            Assert.AreEqual(100L, search[0][0], $"{name}: an item's own vector is nearest to itself");
            var vec0 = db.Rows("SELECT item_id FROM m_items WHERE embedding MATCH (SELECT embedding FROM m_items WHERE item_id = 100) AND k = 3");
            CollectionAssert.AreEqual(search.Select(r => r[0]).ToArray(), vec0.Select(r => r[0]).ToArray(), $"{name}: sqlite-vec agrees");
        }

        // rec_evaluate retrains the same kind in memory on a split.
        var report = JsonDocument.Parse((string)db.Scalar("SELECT rec_evaluate('m', json_object('split', 'random', 'k', 5))")!).RootElement;
        var recall = report.GetProperty("metrics").GetProperty("recall@5").GetDouble();
        Assert.IsTrue(recall is >= 0 and <= 1, $"{name}: recall@5 {recall}");

        // Retraining makes version 2, and what was published follows it.
        Assert.AreEqual(2, JsonDocument.Parse((string)db.Scalar(TrainSql(kind))!).RootElement.GetProperty("version").GetInt32(), name);
        Assert.HasCount(5, db.Rows("SELECT * FROM recommend(2, 5, 'm')"), name);
        if (kind.VectorsFrom is not null)
        {
            var uid = db.Scalar("SELECT uid FROM rec_model_versions WHERE model = 'm' AND version = 2");
            Assert.AreEqual(uid, db.Scalar("SELECT DISTINCT version FROM rec_publications WHERE owner = 'm'"), $"{name}: vec0 tables hold the new version");
        }

        // rec_drop removes both versions; the model is gone.
        Assert.AreEqual(2L, db.Scalar("SELECT rec_drop('m')"), name);
        db.AssertError("SELECT recommend(1, 5, 'm')", Errors.UnknownModel("recommend", "m", []).Message);
    }

    [TestMethod]
    public void EveryRequiredOptionHasAnExample()
    {
        foreach (var kind in ModelKinds.All)
        {
            foreach (var row in kind.OptionTable.Rows.Where(r => r.DefaultText == "required"))
                Assert.IsNotNull(row.Example, $"{kind.Name}: required option '{row.Name}' needs an Example for this test and the docs");
        }
    }
}
