using SqlRec.Models;
using SqlRec.Vectors;
using static SqlRec.Tests.VectorSqlFixtures;

namespace SqlRec.Tests;

/// <summary>similar_items and similar_users through SQL: results against the plain reference, filters, forms and every error.</summary>
[TestClass]
public sealed class SimilarTests
{
    private static (int Index, double Score)[] Indexed(List<(long Id, double Score)> rows, long[] ids) =>
        rows.Select(r => (Array.IndexOf(ids, r.Id), r.Score)).ToArray();

    [TestMethod]
    [TestCategory("fn:similar_items")]
    public void NeighboursOfACollectionItemMatchTheReferenceForEveryMetric()
    {
        foreach (var metric in new[] { "cosine", "dot", "l2" })
        {
            using var db = WithCollection(out var data, metric);
            var ids = Enumerable.Range(1, Rows).Select(i => (long)i).ToArray();
            foreach (var item in new[] { 1, 17, 300 })
            {
                var expected = VectorTestData.Reference(data, Dimensions, VectorTestData.Row(data, Dimensions, item - 1), VectorMetrics.Parse(metric), 15, excluded: [item - 1]);
                var actual = Scored(db, "SELECT item_id, score FROM similar_items($1, 15, 'c') ORDER BY rank", item);
                VectorTestData.AssertSameRanking(expected, Indexed(actual, ids), 1e-4, $"{metric} item {item}");
                // The collection's metric is the default; naming it gives the same.
                Assert.AreEqual(db.Scalar("SELECT similar_items($1, 15, 'c')", item), db.Scalar($"SELECT similar_items($1, 15, 'c', json_object('metric', '{metric}'))", item));
            }
        }
    }

    [TestMethod]
    [TestCategory("fn:similar_items")]
    public void ScalarAndTableFormsAgreeAndTheItemItselfIsLeftOut()
    {
        using var db = WithCollection(out _);
        var scalar = (string)db.Scalar("SELECT similar_items(5, 8, 'c')")!;
        var table = (string)db.Scalar("SELECT json_group_array(item_id) FROM (SELECT item_id FROM similar_items(5, 8, 'c') ORDER BY rank)")!;
        Assert.AreEqual(scalar, table);
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM similar_items(5, 299, 'c') WHERE item_id = 5"));
        Assert.AreEqual(299L, db.Scalar("SELECT count(*) FROM similar_items(5, 10000, 'c')"), "k above the set returns every other item");
        var row = db.Rows("SELECT rank, score, distance, item, k, model FROM similar_items(5, 1, 'c')")[0];
        Assert.AreEqual(1L, row[0]);
        Assert.AreEqual(1 - (double)row[1]!, (double)row[2]!, 1e-6, "cosine distance is 1 - similarity");
        CollectionAssert.AreEqual(new object?[] { 5L, 1L, "c" }, row[3..]);
        // Named-parameter form, and a lateral join: one neighbour per in-stock item.
        Assert.AreEqual(db.Scalar("SELECT similar_items(5, 1, 'c') ->> 0"), db.Scalar("SELECT item_id FROM similar_items WHERE item = 5 AND k = 1 AND model = 'c'"));
        Assert.AreEqual(30L, db.Scalar("SELECT count(*) FROM items i JOIN similar_items(i.id, 1, 'c') s WHERE i.in_stock"));
    }

    [TestMethod]
    [TestCategory("fn:similar_items")]
    public void FiltersAreAppliedBeforeTheTopKSoResultsAreFull()
    {
        using var db = WithCollection(out var data);
        const string inStock = "SELECT id FROM items WHERE in_stock";
        var rows = Scored(db, $"SELECT item_id, score FROM similar_items(7, 10, 'c', json_object('candidates', '{inStock}', 'exclude', json_array(10, 20))) ORDER BY rank");
        Assert.HasCount(10, rows);
        Assert.IsTrue(rows.All(r => r.Id % 10 == 0 && r.Id != 10 && r.Id != 20));
        var candidates = Enumerable.Range(0, Rows).Where(i => (i + 1) % 10 == 0).ToArray();
        var expected = VectorTestData.Reference(data, Dimensions, VectorTestData.Row(data, Dimensions, 6), VectorMetric.Cosine, 10, candidates, [9, 19, 6]);
        VectorTestData.AssertSameRanking(expected, Indexed(rows, Enumerable.Range(1, Rows).Select(i => (long)i).ToArray()), 1e-4, "filtered");
        // The JOIN after the top 10 that the filter replaces comes back short.
        Assert.IsLessThan(10L, (long)db.Scalar($"SELECT count(*) FROM similar_items(7, 10, 'c') s JOIN items i ON i.id = s.item_id WHERE i.in_stock")!);
        // Only 30 items are in stock: asking for 50 gives all 30 (28 after the exclusions), never more.
        Assert.AreEqual(28L, db.Scalar($"SELECT count(*) FROM similar_items(7, 50, 'c', json_object('candidates', '{inStock}', 'exclude', json_array(10, 20)))"));
        // Unknown ids in either list are skipped; a text id matches nothing here.
        Assert.AreEqual(10L, db.Scalar("SELECT count(*) FROM similar_items(7, 10, 'c', json_object('candidates', 'SELECT id FROM items UNION SELECT 9999', 'exclude', json_array('8', 12345)))"));
    }

    [TestMethod]
    [TestCategory("fn:similar_items")]
    public void ModelVectorsCompareByCosineAndMatchWhatRecPublishWrites()
    {
        using var db = WithLightGcn();
        db.Scalar("SELECT rec_publish('lg', json_object('metric', 'cosine'))");
        var (ids, data, dimensions) = Matrix(VectorSqlFixtures.Vectors(db, "SELECT item_id, embedding FROM lg_items ORDER BY item_id"));
        Assert.AreEqual(16, dimensions, "cosine tables hold the vectors as they are");
        foreach (var item in new[] { 0L, 13L, 39L })
        {
            var self = Array.IndexOf(ids, item);
            var expected = VectorTestData.Reference(data, dimensions, VectorTestData.Row(data, dimensions, self), VectorMetric.Cosine, 10, excluded: [self]);
            VectorTestData.AssertSameRanking(expected, Indexed(Scored(db, "SELECT item_id, score FROM similar_items($1, 10, 'lg') ORDER BY rank", item), ids), 1e-4, $"item {item}");
            var dot = VectorTestData.Reference(data, dimensions, VectorTestData.Row(data, dimensions, self), VectorMetric.Dot, 10, excluded: [self]);
            VectorTestData.AssertSameRanking(dot, Indexed(Scored(db, "SELECT item_id, score FROM similar_items($1, 10, 'lg', '{\"metric\": \"dot\"}') ORDER BY rank", item), ids), 1e-4, $"dot item {item}");
        }
        Assert.AreEqual(db.Scalar("SELECT similar_items(3, 5)"), db.Scalar("SELECT similar_items(3, 5, 'lg')"), "the only model needs no name");
    }

    [TestMethod]
    [TestCategory("fn:similar_items")]
    public void GraphFilterItemVectorsAndTextIds()
    {
        using var db = TestDb.InMemory().Execute(Likes);
        db.Scalar("SELECT rec_train('gf', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes', 'components', 4))");
        Assert.AreEqual(5L, db.Scalar("SELECT count(*) FROM similar_items(1, 5, 'gf')"));
        db.Execute("CREATE TABLE words(w TEXT, v BLOB); INSERT INTO words VALUES ('a', vec_f32('[1, 0]')), ('b', vec_f32('[1, 0.1]')), ('c', vec_f32('[0, 1]')), ('d', vec_f32('[-1, 0]'))");
        db.Scalar("SELECT rec_publish('w', json_object('source', 'SELECT w, v FROM words'))");
        Assert.AreEqual("[\"b\",\"c\",\"d\"]", db.Scalar("SELECT similar_items('a', 3, 'w')"));
        Assert.AreEqual("text", db.Scalar("SELECT typeof(item_id) FROM similar_items('a', 1, 'w')"));
    }

    [TestMethod]
    [TestCategory("fn:similar_items")]
    public void ANewSnapshotIsServedAtOnce()
    {
        using var db = WithCollection(out _);
        var before = db.Scalar("SELECT similar_items(1, 5, 'c')");
        db.Execute("UPDATE vecs SET emb = (SELECT emb FROM vecs WHERE id = 1) WHERE id = 300");
        db.Scalar("SELECT rec_publish('c', json_object('source', 'SELECT id, emb FROM vecs'))");
        var after = (string)db.Scalar("SELECT similar_items(1, 5, 'c')")!;
        Assert.AreNotEqual(before, after);
        Assert.StartsWith("[300,", after, "an identical vector is the nearest");
    }

    [TestMethod]
    [TestCategory("errors:similar_items")]
    public void SimilarItemsErrors()
    {
        using var db = WithCollection(out _);
        const string f = "similar_items";
        db.AssertError("SELECT similar_items(NULL, 3, 'c')", Errors.ArgumentNull(f, "item", "pass the id of the item whose neighbours you want").Message);
        db.AssertError("SELECT similar_items(x'00', 3, 'c')", Errors.ArgumentType(f, "item", "an INTEGER or TEXT id", new byte[1]).Message);
        db.AssertError("SELECT similar_items(1, 0, 'c')", Errors.KOutOfRange(f, 0L).Message);
        db.AssertError("SELECT similar_items(1, 10001, 'c')", Errors.KOutOfRange(f, 10001L).Message);
        db.AssertError("SELECT similar_items(1, NULL, 'c')", Errors.ArgumentNull(f, "k", "pass how many items to return").Message);
        db.AssertError("SELECT similar_items(1, 3, 7)", Errors.ArgumentType(f, "model", "TEXT", 7L).Message);
        db.AssertError("SELECT similar_items(999, 3, 'c')", Errors.UnknownVectorId(f, "item", 999L, "collection 'c'").Message);
        db.AssertError("SELECT similar_items('1', 3, 'c')", Errors.UnknownVectorId(f, "item", "1", "collection 'c'").Message);
        db.AssertError("SELECT similar_items(1, 3, 'nope')", Errors.UnknownVectorSource(f, "nope", [], ["c"]).Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('metric', 'hamming'))", Errors.OptionRange(f, "metric", "one of 'dot', 'cosine', 'l2'", "\"hamming\"").Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('quantize', 'pq'))", Errors.OptionRange(f, "quantize", "one of 'none', 'int8', 'bit'", "\"pq\"").Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('rescore', 0))", Errors.OptionRange(f, "rescore", "between 1 and 1000", "0").Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('k', 3))", Errors.UnknownOption(f, "k", "similar_items()", ["metric", "candidates", "exclude", "quantize", "rescore"]).Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', '[1]')", Errors.OptionsNotObject(f, "array").Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('exclude', 5))", Errors.OptionType(f, "exclude", "an array of ids (integers or strings)", "5").Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('exclude', json_array(1, json('true'))))",
            Errors.OptionType(f, "exclude", "an array of ids (integers or strings)", "true at position 2 of the array").Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('exclude', json_array(1.5)))",
            Errors.OptionType(f, "exclude", "an array of ids (integers or strings)", "1.5 at position 1 of the array").Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('candidates', 'DELETE FROM items'))", Errors.QueryNotSelect(f, QueryRole.Candidates, "DELETE FROM items").Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('candidates', 'SELECT id FROM items; DELETE FROM items'))", Errors.QuerySeveralStatements(f, QueryRole.Candidates, " DELETE FROM items").Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('candidates', 'SELECT id FROM nowhere'))", Errors.QueryFailed(f, QueryRole.Candidates, "no such table: nowhere").Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('candidates', 'SELECT id, in_stock FROM items'))", Errors.QueryColumns(f, QueryRole.Candidates, 2).Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('candidates', 'SELECT NULL'))", Errors.QueryBadId(f, QueryRole.Candidates, "id", 1, null).Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('candidates', 'SELECT id + 0.5 FROM items'))", Errors.QueryBadId(f, QueryRole.Candidates, "id", 1, 1.5).Message);
        db.AssertError("SELECT similar_items(1, 3, 'c', json_object('candidates', 'SELECT emb FROM vecs'))", Errors.QueryBadId(f, QueryRole.Candidates, "id", 1, new byte[48]).Message);
        db.AssertError("SELECT * FROM similar_items WHERE k = 3", Errors.TableArgumentMissing(f, "item", "SELECT * FROM similar_items(item, k[, model[, options]])").Message);
        Assert.AreEqual(db.Scalar("SELECT similar_items(1, 3, 'c')"), db.Scalar("SELECT similar_items(1, 3, NULL)"), "the only collection needs no name");
    }

    [TestMethod]
    [TestCategory("errors:similar_items")]
    public void WhichModelOrCollectionErrors()
    {
        using var db = TestDb.InMemory().Execute(RecommendTests.Likes);
        const string f = "similar_items";
        db.AssertError("SELECT similar_items(10, 3)", Errors.NoVectorSources(f).Message);
        db.Scalar(RecommendTests.TrainPopular);
        db.AssertError("SELECT similar_items(10, 3)", Errors.NoItemVectors(f, "model 'pop' (kind 'popular')", ModelKinds.VectorsFrom).Message);
        db.Scalar("SELECT rec_train('gf0', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes', 'components', 0))");
        db.AssertError("SELECT similar_items(10, 3, 'gf0')", Errors.NoItemVectors(f, "model 'gf0' (kind 'graph_filter')", ModelKinds.VectorsFrom).Message);
        db.AssertError("SELECT similar_items(10, 3)", Errors.VectorSourceRequired(f, ["gf0", "pop"], []).Message);
        db.AssertError("SELECT similar_items(10, 3, 'nope')", Errors.UnknownVectorSource(f, "nope", ["gf0", "pop"], []).Message);
    }

    [TestMethod]
    [TestCategory("fn:similar_users")]
    public void NeighboursOfAUserMatchTheReference()
    {
        using var db = WithLightGcn();
        db.Scalar("SELECT rec_publish('lg', json_object('metric', 'l2'))");
        var (ids, data, dimensions) = Matrix(VectorSqlFixtures.Vectors(db, "SELECT user_id, embedding FROM lg_users ORDER BY user_id"));
        foreach (var (metric, name) in new[] { (VectorMetric.Cosine, "cosine"), (VectorMetric.L2, "l2"), (VectorMetric.Dot, "dot") })
        {
            var self = Array.IndexOf(ids, 4L);
            var expected = VectorTestData.Reference(data, dimensions, VectorTestData.Row(data, dimensions, self), metric, 8, excluded: [self]);
            var actual = Scored(db, $"SELECT user_id, score FROM similar_users(4, 8, 'lg', json_object('metric', '{name}')) ORDER BY rank");
            VectorTestData.AssertSameRanking(expected, Indexed(actual, ids), 1e-4, name);
        }
        Assert.AreEqual(db.Scalar("SELECT similar_users(4, 8, 'lg')"), db.Scalar("SELECT similar_users(4, 8, 'lg', json_object('metric', 'cosine'))"), "cosine is the default");
        var scalar = (string)db.Scalar("SELECT similar_users(4, 5)")!;
        Assert.AreEqual(scalar, db.Scalar("SELECT json_group_array(user_id) FROM (SELECT user_id FROM similar_users(4, 5) ORDER BY rank)"));
        // Candidates restrict users here: only even users, never user 2.
        var even = db.Rows("SELECT user_id FROM similar_users(4, 10, 'lg', json_object('candidates', 'SELECT DISTINCT user_id FROM likes WHERE user_id % 2 = 0', 'exclude', json_array(2)))");
        Assert.HasCount(10, even);
        Assert.IsTrue(even.All(r => (long)r[0]! % 2 == 0 && (long)r[0]! != 2 && (long)r[0]! != 4));
    }

    [TestMethod]
    [TestCategory("fn:similar_users")]
    public void GraphFilterUserVectorsAreProjectionsOfTheirRows()
    {
        using var db = TestDb.InMemory().Execute(Likes);
        db.Scalar("SELECT rec_train('gf', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes', 'components', 6))");
        // Users with the same items have the same projection: nearest of all, at cosine 1.
        db.Execute("INSERT INTO likes SELECT 100, item_id FROM likes WHERE user_id = 7; INSERT INTO likes SELECT 101, item_id FROM likes WHERE user_id = 7");
        db.Scalar("SELECT rec_train('gf', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes', 'components', 6))");
        var scores = db.Rows("SELECT user_id, score FROM similar_users(100, 100, 'gf')").ToDictionary(r => (long)r[0]!, r => (double)r[1]!);
        Assert.AreEqual(1.0, scores[7], 1e-5);
        Assert.AreEqual(1.0, scores[101], 1e-5);
        Assert.AreEqual(scores.Values.Max(), scores[7], 1e-6);
    }

    [TestMethod]
    [TestCategory("errors:similar_users")]
    public void SimilarUsersErrors()
    {
        using var db = WithCollection(out _);
        const string f = "similar_users";
        db.AssertError("SELECT similar_users(1, 3, 'c')", Errors.NoUserVectors(f, "collection 'c'", ModelKinds.VectorsFrom, isCollection: true).Message);
        db.Execute("CREATE TABLE pop_likes(user_id INTEGER, item_id INTEGER); INSERT INTO pop_likes VALUES (1, 1), (1, 2), (2, 2)");
        db.Scalar("SELECT rec_train('pop', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM pop_likes'))");
        db.AssertError("SELECT similar_users(1, 3, 'pop')", Errors.NoUserVectors(f, "model 'pop' (kind 'popular')", ModelKinds.VectorsFrom, isCollection: false).Message);
        // The kinds with vectors name themselves (ModelKinds.VectorsFrom); the sentence around them is fixed.
        Assert.AreEqual("similar_users(): collection 'c' has no user vectors; a collection holds item vectors only; user vectors come from a, b or c.",
            Errors.NoUserVectors(f, "collection 'c'", ["a", "b", "c"], isCollection: true).Message);
        Assert.AreEqual("similar_items(): model 'p' has no item vectors; vectors come from a, b, or a collection made with rec_publish(name, json_object('source', ...)).",
            Errors.NoItemVectors("similar_items", "model 'p'", ["a", "b"]).Message);
        db.AssertError("SELECT similar_users(NULL, 3, 'pop')", Errors.ArgumentNull(f, "user", "pass the id of the user whose neighbours you want").Message);
        db.AssertError("SELECT similar_users(1, -1, 'pop')", Errors.KOutOfRange(f, -1L).Message);
        db.AssertError("SELECT similar_users(1, 3)", Errors.VectorSourceRequired(f, ["pop"], ["c"]).Message);
        db.AssertError("SELECT * FROM similar_users WHERE k = 3", Errors.TableArgumentMissing(f, "user", "SELECT * FROM similar_users(user, k[, model[, options]])").Message);
        using var lg = WithLightGcn();
        lg.AssertError("SELECT similar_users(12345, 3, 'lg')", Errors.UnknownVectorId(f, "user", 12345L, "model 'lg'").Message);
        lg.AssertError("SELECT similar_users(1, 3, 'lg', json_object('candidates', 'SELECT 1, 2'))", Errors.QueryColumns(f, QueryRole.Candidates, 2).Message);
    }
}
