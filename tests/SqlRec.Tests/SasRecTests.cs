using System.Text.Json;
using SqlRec.Common;

namespace SqlRec.Tests;

/// <summary>
/// The <c>sasrec</c> kind from SQL: a planted next-item rule that only the order of a user's
/// items reveals (sasrec learns it, graph_filter cannot), serving from the live sequence and from
/// an explicit one, item text with content-only items, bad input, and determinism for a seed.
/// </summary>
[TestClass]
public sealed class SasRecTests
{
    private const int Items = 100;

    /// <summary>The planted rule: item i is followed by Next[i] (a fixed random permutation).</summary>
    private static readonly int[] Next = PlantedPermutation();

    private static int[] PlantedPermutation()
    {
        var random = new Random(99);
        var next = Enumerable.Range(0, Items).ToArray();
        random.Shuffle(next);
        return next;
    }

    /// <summary>
    /// Users whose sequences follow the rule at 30% of the steps and jump to a random item at the
    /// others, and always at the last two steps (validation and test): the set of a user's items
    /// holds many items' successors, so only the last item says which comes next. No item repeats
    /// within a user. Table <c>events(user_id, item_id, ts)</c>; items are 1..100.
    /// </summary>
    private static TestDb Planted(int users = 300, int seed = 1)
    {
        var db = TestDb.InMemory();
        db.Execute("CREATE TABLE events(user_id INTEGER, item_id INTEGER, ts INTEGER)");
        var random = new Random(seed);
        using var transaction = db.Connection.BeginTransaction();
        for (var u = 1; u <= users; u++)
        {
            var sequence = PlantedSequence(random);
            for (var t = 0; t < sequence.Count; t++) db.Execute("INSERT INTO events VALUES ($1, $2, $3)", u, sequence[t] + 1, 1_000 + t);
        }
        transaction.Commit();
        return db;
    }

    private static List<int> PlantedSequence(Random random)
    {
        while (true)
        {
            var length = 20 + random.Next(10);
            var sequence = new List<int> { random.Next(Items) };
            var ok = true;
            for (var t = 1; t < length && ok; t++)
            {
                var follow = t >= length - 2 || random.NextDouble() < 0.3;
                var next = follow ? Next[sequence[^1]] : random.Next(Items);
                if (sequence.Contains(next))
                {
                    if (follow) ok = false;
                    else t--;
                    continue;
                }
                sequence.Add(next);
            }
            if (ok) return sequence;
        }
    }

    private const string SmallModel = "'dim', 32, 'blocks', 1, 'max_len', 10, 'dropout', 0.1, 'lr', 0.005, 'batch', 32, 'eval_every', 5, 'patience', 3";

    private static string TrainSasRec(string name, string extra = "", int epochs = 60) =>
        $"SELECT rec_train('{name}', json_object('model', 'sasrec', 'source', 'SELECT user_id, item_id, 1, ts FROM events', {SmallModel}, 'epochs', {epochs}{extra}))";

    private static JsonElement Evaluate(TestDb db, string model) =>
        JsonDocument.Parse((string)db.Scalar($"SELECT rec_evaluate('{model}', json_object('split', 'last', 'k', json_array(1, 10)))")!).RootElement;

    [TestMethod]
    [TestCategory("fn:rec_train")]
    [TestCategory("fn:rec_evaluate")]
    public void LearnsAPlantedNextItemRuleThatGraphFilterCannot()
    {
        using var db = Planted();
        db.Scalar(TrainSasRec("seq"));
        db.Scalar("SELECT rec_train('gf', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id, 1, ts FROM events', 'components', 16))");
        var sasrec = Evaluate(db, "seq");
        var graph = Evaluate(db, "gf");
        Assert.AreEqual("last", sasrec.GetProperty("split").GetString());
        Assert.AreEqual(300, sasrec.GetProperty("users").GetInt32(), "leave-one-out: every user has a test item");
        var hr = sasrec.GetProperty("metrics").GetProperty("hit_rate@10").GetDouble();
        var graphHr = graph.GetProperty("metrics").GetProperty("hit_rate@10").GetDouble();
        var ndcg = sasrec.GetProperty("metrics").GetProperty("ndcg@10").GetDouble();
        Console.WriteLine($"planted rule, leave-one-out HR@10: sasrec {hr:F3} (NDCG@10 {ndcg:F3}), graph_filter {graphHr:F3}");
        Assert.IsGreaterThan(0.8, hr, $"sasrec finds the rule: HR@10 {hr}, NDCG@10 {ndcg}");
        Assert.IsLessThan(0.5, graphHr, $"the set of items does not say which comes next: graph_filter HR@10 {graphHr}");
        Assert.IsGreaterThan(graphHr + 0.3, hr);
        // With one test item per user, recall is the hit rate and MRR@1 the hit rate at 1.
        Assert.AreEqual(hr, sasrec.GetProperty("metrics").GetProperty("recall@10").GetDouble(), 1e-9);
        Assert.AreEqual(sasrec.GetProperty("metrics").GetProperty("hit_rate@1").GetDouble(), sasrec.GetProperty("metrics").GetProperty("mrr@1").GetDouble(), 1e-9);

        // The paper's sampled protocol beside the full ranking: each test item among 50 sampled negatives is easier to rank.
        var sampled = JsonDocument.Parse((string)db.Scalar("SELECT rec_evaluate('seq', json_object('split', 'last', 'k', 10, 'sampled_negatives', 50))")!).RootElement;
        Assert.AreEqual(hr, sampled.GetProperty("metrics").GetProperty("hit_rate@10").GetDouble(), 1e-9, "the full ranking is unchanged");
        Assert.AreEqual("uniform", sampled.GetProperty("sampled").GetProperty("sampling").GetString());
        var sampledHr = sampled.GetProperty("sampled").GetProperty("metrics").GetProperty("hit_rate@10").GetDouble();
        Assert.IsGreaterThanOrEqualTo(hr, sampledHr, "among 50 negatives the test item can only rank higher than among all items");
        var popularity = JsonDocument.Parse((string)db.Scalar("SELECT rec_evaluate('gf', json_object('split', 'last', 'k', 10, 'sampled_negatives', 50, 'sampling', 'popularity'))")!).RootElement;
        Assert.IsGreaterThanOrEqualTo(graphHr, popularity.GetProperty("sampled").GetProperty("metrics").GetProperty("hit_rate@10").GetDouble());
        db.AssertError("SELECT rec_evaluate('seq', json_object('split', 'last', 'sampled_negatives', 0))",
            Errors.OptionRange("rec_evaluate", "sampled_negatives", "between 1 and 100000", "0").Message);
        db.AssertError("SELECT rec_evaluate('seq', json_object('split', 'last', 'sampled_negatives', 5, 'sampling', 'top'))",
            Errors.OptionRange("rec_evaluate", "sampling", "one of 'uniform', 'popularity'", "\"top\"").Message);

        var metrics = JsonDocument.Parse((string)db.Scalar("SELECT metrics FROM rec_model_versions WHERE model = 'seq'")!).RootElement;
        Assert.AreEqual(300, metrics.GetProperty("validation_users").GetInt32());
        Assert.IsGreaterThan(0.5, metrics.GetProperty("validation_ndcg@10").GetDouble(), metrics.ToString());
        Assert.IsGreaterThan(0.0, metrics.GetProperty("positions_per_second").GetDouble());
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void ServesTheLiveSequenceAndExplicitSequences()
    {
        using var db = Planted();
        db.Scalar(TrainSasRec("seq"));
        int[] Top(string sql) => JsonSerializer.Deserialize<int[]>((string)db.Scalar(sql)!)!;
        var last = Convert.ToInt32(db.Scalar("SELECT item_id FROM events WHERE user_id = 1 ORDER BY ts DESC LIMIT 1"));
        CollectionAssert.Contains(Top("SELECT recommend(1, 3, 'seq')"), Next[last - 1] + 1, "the rule's successor of the newest item");

        // A new interaction changes the next recommendation at once, without retraining.
        var seen = db.Rows("SELECT item_id FROM events WHERE user_id = 1").Select(r => Convert.ToInt32(r[0])).ToHashSet();
        var fresh = Enumerable.Range(1, Items).First(i => !seen.Contains(i) && !seen.Contains(Next[i - 1] + 1) && Next[i - 1] + 1 != Next[last - 1] + 1);
        db.Execute("INSERT INTO events VALUES (1, $1, 99999)", fresh);
        var after = Top("SELECT recommend(1, 3, 'seq')");
        CollectionAssert.Contains(after, Next[fresh - 1] + 1, $"after item {fresh}");
        CollectionAssert.DoesNotContain(after, fresh, "the new item is seen at once");
        Assert.AreEqual(1L, db.Scalar("SELECT count(*) FROM rec_model_versions WHERE model = 'seq'"), "no retraining");
        // Repeats allowed on request: the seen items come back into the ranking.
        var all = Top("SELECT recommend(1, 100, 'seq', json_object('exclude_seen', json('false')))");
        Assert.HasCount(Items, all);

        // A new user with rows is served from them; a user with no rows gets the popular fallback.
        db.Execute("INSERT INTO events VALUES (5000, $1, 1), (5000, $2, 2)", 7, fresh);
        CollectionAssert.Contains(Top("SELECT recommend(5000, 3, 'seq')"), Next[fresh - 1] + 1);
        Assert.AreEqual("sasrec", db.Scalar("SELECT DISTINCT source FROM recommend(5000, 3, 'seq')"));
        Assert.AreEqual("popular", db.Scalar("SELECT DISTINCT source FROM recommend(6000, 3, 'seq')"));

        // An explicit sequence (an anonymous session): in order, unknown ids skipped, none known = popular.
        var session = Top($"SELECT recommend(NULL, 3, 'seq', json_object('sequence', json_array(7, {fresh})))");
        CollectionAssert.Contains(session, Next[fresh - 1] + 1);
        CollectionAssert.AreEqual(session, Top($"SELECT recommend(NULL, 3, 'seq', json_object('sequence', json_array(7, 'nope', {fresh}, 123456)))"),
            "unknown ids are skipped");
        CollectionAssert.AreEqual(session, Top($"SELECT recommend(42, 3, 'seq', json_object('sequence', json_array(7, {fresh})))"),
            "with 'sequence' the user's own rows are not read");
        CollectionAssert.AreEqual(session, db.Rows($"SELECT item_id FROM recommend(NULL, 3, 'seq', json_object('sequence', json_array(7, {fresh})))")
            .Select(r => Convert.ToInt32(r[0])).ToArray(), "the table-valued form agrees");
        Assert.AreEqual("popular", db.Scalar("SELECT DISTINCT source FROM recommend(NULL, 3, 'seq', json_object('sequence', json_array('nope')))"));
        Assert.AreEqual("popular", db.Scalar("SELECT DISTINCT source FROM recommend(NULL, 3, 'seq', json_object('sequence', json_array()))"));

        // Batch scoring in plain SQL uses each user's live sequence too.
        var batch = db.Rows("SELECT user_id, recommend(user_id, 5, 'seq') FROM (SELECT DISTINCT user_id FROM events) LIMIT 20");
        Assert.HasCount(20, batch);
        Assert.IsTrue(batch.All(r => JsonSerializer.Deserialize<int[]>((string)r[1]!)!.Length == 5));
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void ASequenceGoesToLiveRowModelsAndIsRefusedByOthers()
    {
        using var db = Planted(40);
        db.Scalar("SELECT rec_train('gf', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM events', 'components', 0))");
        db.Scalar("SELECT rec_train('pop', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM events'))");
        var session = JsonSerializer.Deserialize<int[]>((string)db.Scalar("SELECT recommend(NULL, 5, 'gf', json_object('sequence', json_array(1, 2, 3)))")!)!;
        Assert.HasCount(5, session);
        CollectionAssert.DoesNotContain(session, 1);
        db.AssertError("SELECT recommend(NULL, 5, 'pop', json_object('sequence', json_array(1)))", Errors.SequenceNotSupported("recommend", "pop", "popular").Message);
        db.AssertError("SELECT recommend(NULL, 5, 'pop')", Errors.UserOrSequence("recommend").Message);
        db.AssertError("SELECT recommend(NULL, 5, 'gf', json_object('sequence', 3))",
            Errors.OptionType("recommend", "sequence", "an array of ids (integers or strings)", "3").Message);
        var tooLong = "[" + string.Join(",", Enumerable.Range(0, Errors.MaxSequenceLength + 1)) + "]";
        db.AssertError($"SELECT recommend(NULL, 5, 'gf', json_object('sequence', json('{tooLong}')))", Errors.SequenceTooLong("recommend", Errors.MaxSequenceLength + 1).Message);
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void ItemTextAddsContentOnlyItemsAndCanReplaceIdEmbeddings()
    {
        using var db = Planted(80);
        db.Execute("CREATE TABLE items(id INTEGER PRIMARY KEY, title TEXT)");
        db.Execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 101) INSERT INTO items SELECT i, 'film number ' || i FROM n");
        var text = "'item_text', 'SELECT id, rec_embed(''hash'', title) FROM items'";
        var summary = JsonDocument.Parse((string)db.Scalar(TrainSasRec("txt", ", " + text, 5))!).RootElement;
        Assert.AreEqual(101, summary.GetProperty("items").GetInt32(), "item 101 has text and no interaction");
        var metrics = JsonDocument.Parse((string)db.Scalar("SELECT metrics FROM rec_model_versions WHERE model = 'txt'")!).RootElement;
        Assert.AreEqual(1, metrics.GetProperty("content_items").GetInt32());
        Assert.AreEqual(512, metrics.GetProperty("text_dim").GetInt32());
        Assert.AreEqual("content", db.Scalar("SELECT source FROM recommend(1, 101, 'txt', json_object('exclude_seen', json('false'))) WHERE item_id = 101"));
        Assert.HasCount(3, db.Rows("SELECT * FROM similar_items(101, 3, 'txt')"), "a content-only item has a vector");

        // Text alone: every item needs a vector.
        db.Scalar(TrainSasRec("textonly", ", " + text + ", 'item_id_embedding', json('false')", 5));
        db.AssertError(TrainSasRec("bad", ", 'item_text', 'SELECT id, rec_embed(''hash'', title) FROM items WHERE id > 1', 'item_id_embedding', json('false')"),
            Errors.ItemWithoutText("rec_train", 1, 1L).Message);
        db.AssertError(TrainSasRec("bad", ", 'item_id_embedding', json('false')"), Errors.IdEmbeddingOffNeedsText("rec_train").Message);

        // Bad vectors get the modality messages, named 'item_text'.
        db.AssertError(TrainSasRec("bad", ", 'item_text', 'SELECT id, CASE WHEN id = 2 THEN vec_f32(''[1, 2]'') ELSE vec_f32(''[1, 2, 3]'') END FROM items ORDER BY id'"),
            Errors.ModalityDimensionMismatch("rec_train", "item_text", 2, ExternalId.Of(2), 2, 1, 3).Message);
        db.AssertError(TrainSasRec("bad", ", 'item_text', 'SELECT 1, CAST(x''0000C07F'' AS BLOB)'"),
            Errors.ModalityVectorNotFinite("rec_train", "item_text", 1, ExternalId.Of(1), 0, float.NaN).Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_models WHERE name = 'bad'"), "nothing is written");
    }

    [TestMethod]
    [TestCategory("errors:rec_train")]
    public void BadInputGivesClearErrors()
    {
        using var db = Planted(20);
        const string function = "rec_train";
        string Train(string source, string extra = "") =>
            $"SELECT rec_train('m', json_object('model', 'sasrec', 'source', '{source}', 'epochs', 1, 'dim', 8{extra}))";
        db.AssertError(Train("SELECT user_id, item_id FROM events"), Errors.SequenceNeedsTimestamp(function, "sasrec", 2).Message);
        db.AssertError(Train("SELECT user_id, item_id, 1 FROM events"), Errors.SequenceNeedsTimestamp(function, "sasrec", 3).Message);
        db.AssertError(Train("SELECT user_id, item_id, 1, CASE WHEN ts > 1005 THEN NULL ELSE ts END FROM events ORDER BY user_id, ts"),
            Errors.SourceBadTimestamp(function, 7, null).Message);
        db.AssertError(Train("SELECT user_id, item_id, 1, ''yesterday'' FROM events"), Errors.SourceBadTimestamp(function, 1, "yesterday").Message);
        db.AssertError(Train("SELECT user_id, item_id, 1, ts FROM events", ", 'max_len', 0"), Errors.OptionRange(function, "max_len", "between 1 and 512", "0").Message);
        db.AssertError(Train("SELECT user_id, item_id, 1, ts FROM events", ", 'max_len', 513"), Errors.OptionRange(function, "max_len", "between 1 and 512", "513").Message);
        db.AssertError(Train("SELECT user_id, item_id, 1, ts FROM events", ", 'heads', 3"), Errors.HeadsDoNotDivideDim(function, 8, 3).Message);
        db.AssertError(Train("SELECT user_id, item_id, 1, ts FROM events WHERE ts = 1000"), Errors.NoSequences(function, "sasrec", 20).Message);
        db.AssertError(Train("SELECT user_id, item_id, 1, ts FROM events WHERE user_id = 1 AND ts < 1002"),
            Errors.NoNegativeInteractedItems(function, "sasrec", 1, 2).Message);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_master WHERE name = 'rec_models'"), "nothing is written, not even the store's tables");

        // Users with one interaction are kept as context (served from it) but not evaluable; the model says how many.
        db.Execute("INSERT INTO events VALUES (900, 5, 1), (901, 6, 1)");
        db.Scalar(Train("SELECT user_id, item_id, 1, ts FROM events"));
        var metrics = JsonDocument.Parse((string)db.Scalar("SELECT metrics FROM rec_model_versions WHERE model = 'm'")!).RootElement;
        Assert.AreEqual(2, metrics.GetProperty("single_item_users").GetInt32());
        Assert.AreEqual(20, metrics.GetProperty("training_sequences").GetInt32());
        Assert.AreEqual("sasrec", db.Scalar("SELECT DISTINCT source FROM recommend(900, 3, 'm')"));
        var report = JsonDocument.Parse((string)db.Scalar("SELECT rec_evaluate('m', json_object('split', 'last'))")!).RootElement;
        Assert.AreEqual(20, report.GetProperty("users").GetInt32(), "the two single-item users have no test item");
        Assert.AreEqual(2, report.GetProperty("users_without_test").GetInt32(), "and the report says so");

        // A timestamp that breaks after training is the source's error at serving time.
        db.Execute("INSERT INTO events VALUES (1, 9, 'soon')");
        var row = (long)db.Scalar("SELECT count(*) FROM events WHERE user_id = 1")!;
        db.AssertError("SELECT recommend(1, 3, 'm')", Errors.SourceBadTimestamp("recommend", row, "soon").Message);
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void TheSameSeedGivesTheSameModel()
    {
        using var db = Planted(60);
        db.Scalar(TrainSasRec("a", epochs: 4));
        db.Scalar(TrainSasRec("b", epochs: 4));
        db.Scalar(TrainSasRec("c", ", 'seed', 7", 4));
        object? Network(string model) => db.Scalar($"SELECT data FROM rec_arrays WHERE model = '{model}' AND name = 'sasrec_network'");
        CollectionAssert.AreEqual((byte[])Network("a")!, (byte[])Network("b")!, "bit for bit");
        CollectionAssert.AreNotEqual((byte[])Network("a")!, (byte[])Network("c")!, "another seed, another model");
        Assert.AreEqual(db.Scalar("SELECT recommend(3, 10, 'a')"), db.Scalar("SELECT recommend(3, 10, 'b')"));
    }
}
