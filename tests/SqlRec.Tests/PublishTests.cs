using SqlRec.Store;
using SqlRec.Models;
using System.Runtime.InteropServices;
using System.Text.Json;
using SqlRec.Vectors;
using static SqlRec.Tests.VectorSqlFixtures;

namespace SqlRec.Tests;

/// <summary>rec_publish and rec_unpublish: collections, vec0 tables, keeping them in step with model versions, and every error.</summary>
[TestClass]
public sealed class PublishTests
{
    private static float[] Floats(object? blob) => MemoryMarshal.Cast<byte, float>((byte[])blob!).ToArray();

    private static string Schema(TestDb db) =>
        string.Join("\n", db.Rows("SELECT name FROM sqlite_schema ORDER BY name").Select(r => r[0]));

    private static string Store(TestDb db) =>
        JsonSerializer.Serialize(db.Rows("SELECT 'c', name, uid, items FROM rec_collections UNION ALL SELECT 'p', vec_table, version, dim FROM rec_publications ORDER BY 1, 2"));

    [TestMethod]
    [TestCategory("fn:rec_publish")]
    public void ACollectionIsASnapshotOfItsSource()
    {
        using var db = TestDb.InMemory().StoreVectors("vecs", VectorTestData.Gaussian(50 * 6, 1), 6);
        var summary = JsonDocument.Parse((string)db.Scalar("SELECT rec_publish('docs', json_object('source', 'SELECT id, emb FROM vecs WHERE id > 10'))")!).RootElement;
        Assert.AreEqual("docs", summary.GetProperty("collection").GetString());
        Assert.AreEqual(40, summary.GetProperty("items").GetInt32());
        Assert.AreEqual(6, summary.GetProperty("dim").GetInt32());
        Assert.AreEqual("cosine", summary.GetProperty("metric").GetString());
        Assert.AreEqual(0, summary.GetProperty("tables").GetArrayLength(), "no vec0 table unless 'table' is given");
        CollectionAssert.AreEqual(new object?[] { "docs", "SELECT id, emb FROM vecs WHERE id > 10", "cosine", 6L, 40L },
            db.Rows("SELECT name, source, metric, dim, items FROM rec_collections")[0]);
        // The stored rows are the source's vectors, in id order.
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_collection_items c JOIN vecs v ON v.id = c.id WHERE c.vector IS NOT v.emb OR c.idx <> v.id - 11"));
        // A snapshot: a change to the source is seen after the next rec_publish only.
        db.Execute("DELETE FROM vecs WHERE id > 40");
        Assert.AreEqual(40L, db.Scalar("SELECT count(*) FROM similar_items(11, 100, 'docs')") is long n ? n + 1 : 0);
        db.Scalar("SELECT rec_publish('docs', json_object('source', 'SELECT id, emb FROM vecs WHERE id > 10'))");
        Assert.AreEqual(29L, db.Scalar("SELECT count(*) FROM similar_items(11, 100, 'docs')"));
        Assert.AreEqual(30L, db.Scalar("SELECT count(*) FROM rec_collection_items"));
    }

    [TestMethod]
    [TestCategory("fn:rec_publish")]
    public void ACollectionsVec0TableIsRewrittenWithEachSnapshot()
    {
        using var db = TestDb.InMemory().Execute("CREATE TABLE t(name TEXT, v BLOB); INSERT INTO t VALUES ('a', vec_f32('[1, 0]')), ('b', vec_f32('[0, 1]'))");
        var summary = (string)db.Scalar("SELECT rec_publish('t', json_object('source', 'SELECT name, v FROM t', 'metric', 'l2', 'table', 'words'))")!;
        StringAssert.Contains(summary, "\"tables\":[\"words_items\"]");
        StringAssert.Contains((string)db.Scalar("SELECT sql FROM sqlite_schema WHERE name = 'words_items'")!, "item_id text primary key, embedding float[2] distance_metric=l2");
        db.Execute("INSERT INTO t VALUES ('c', vec_f32('[0.5, 0.5]'))");
        // Published again without 'table': the existing vec0 table is rewritten in the same transaction.
        StringAssert.Contains((string)db.Scalar("SELECT rec_publish('t', json_object('source', 'SELECT name, v FROM t', 'metric', 'l2'))")!, "\"tables\":[\"words_items\"]");
        Assert.AreEqual("c", db.Scalar("SELECT item_id FROM words_items WHERE embedding MATCH vec_f32('[0.4, 0.4]') AND k = 1"));
        Assert.AreEqual(3L, db.Scalar("SELECT count(*) FROM words_items"));
        Assert.AreEqual(db.Scalar("SELECT uid FROM rec_collections"), db.Scalar("SELECT version FROM rec_publications WHERE vec_table = 'words_items'"));
        // Publishing an existing collection without 'source' writes its snapshot to more tables.
        db.Scalar("SELECT rec_publish('t', json_object('table', 'more', 'metric', 'cosine'))");
        Assert.AreEqual(3L, db.Scalar("SELECT count(*) FROM more_items"));
        Assert.AreEqual(2L, db.Scalar("SELECT count(*) FROM rec_publications WHERE owner = 't'"));
    }

    [TestMethod]
    [TestCategory("fn:rec_publish")]
    public void AModelsVectorsArePublishedAugmentedForDot()
    {
        using var db = WithLightGcn();
        var summary = JsonDocument.Parse((string)db.Scalar("SELECT rec_publish('lg')")!).RootElement;
        Assert.AreEqual("lg", summary.GetProperty("model").GetString());
        Assert.AreEqual(1, summary.GetProperty("version").GetInt32());
        Assert.AreEqual(40, summary.GetProperty("items").GetInt32());
        Assert.AreEqual(60, summary.GetProperty("users").GetInt32());
        Assert.AreEqual("dot", summary.GetProperty("metric").GetString());
        Assert.AreEqual("[\"lg_items\",\"lg_users\"]", summary.GetProperty("tables").GetRawText());
        var items = db.Rows("SELECT embedding FROM lg_items").Select(r => Floats(r[0])).ToList();
        Assert.IsTrue(items.All(v => v.Length == 17));
        // Every augmented item vector has the same length M, the largest raw norm: L2 order = inner-product order.
        var lengths = items.Select(v => Math.Sqrt(v.Sum(x => (double)x * x))).ToList();
        var bound = items.Max(v => Math.Sqrt(v[..16].Sum(x => (double)x * x)));
        Assert.IsTrue(lengths.All(l => Math.Abs(l - bound) < 1e-4 * bound));
        Assert.IsTrue(db.Rows("SELECT embedding FROM lg_users").All(r => Floats(r[0]) is { Length: 17 } v && v[16] == 0), "user rows end in 0: ready queries");
        // The cosine publication holds the vectors unchanged.
        db.Scalar("SELECT rec_publish('lg', json_object('table', 'raw', 'metric', 'cosine'))");
        var raw = Floats(db.Scalar("SELECT embedding FROM raw_items WHERE item_id = 5"));
        CollectionAssert.AreEqual(raw, Floats(db.Scalar("SELECT embedding FROM lg_items WHERE item_id = 5"))[..16]);
    }

    [TestMethod]
    [TestCategory("fn:rec_publish")]
    public void EveryNewModelVersionRewritesItsTablesInTheSameTransaction()
    {
        using var db = WithLightGcn();
        db.Scalar("SELECT rec_publish('lg')");
        var before = Floats(db.Scalar("SELECT embedding FROM lg_items WHERE item_id = 3"));
        db.Scalar("SELECT rec_train('lg', json_object('model', 'lightgcn', 'source', 'SELECT user_id, item_id FROM likes', 'dim', 8, 'epochs', 2, 'seed', 9))");
        var uid = db.Scalar("SELECT uid FROM rec_model_versions WHERE model = 'lg' AND version = 2");
        Assert.AreEqual(2L, db.Scalar("SELECT count(*) FROM rec_publications WHERE owner = 'lg' AND version = $1 AND dim = 8", uid));
        var after = Floats(db.Scalar("SELECT embedding FROM lg_items WHERE item_id = 3"));
        Assert.HasCount(9, after, "the new version's width, plus one");
        CollectionAssert.AreNotEqual(before, after);
        // The tables hold the serving version: vec0 and recommend() agree.
        Assert.AreEqual(db.Scalar("SELECT recommend(7, 5, 'lg', json_object('exclude_seen', json('false')))"),
            db.Scalar("SELECT json_group_array(item_id) FROM (SELECT item_id FROM lg_items WHERE embedding MATCH (SELECT embedding FROM lg_users WHERE user_id = 7) AND k = 5 ORDER BY distance)"));
        // A new version without vectors fails the training and changes nothing.
        var schema = Schema(db);
        var store = Store(db);
        db.AssertError("SELECT rec_train('lg', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM likes'))",
            Errors.RepublishWithoutVectors("rec_train", "lg", "lg_items", "popular", "item").Message);
        Assert.AreEqual(2L, db.Scalar("SELECT current_version FROM rec_models WHERE name = 'lg'"));
        Assert.AreEqual(schema, Schema(db));
        Assert.AreEqual(store, Store(db));
        CollectionAssert.AreEqual(after, Floats(db.Scalar("SELECT embedding FROM lg_items WHERE item_id = 3")));
    }

    [TestMethod]
    [TestCategory("fn:rec_publish")]
    [TestCategory("fn:rec_unpublish")]
    public void UnpublishAndDropRemoveTheTables()
    {
        using var db = WithLightGcn();
        db.Scalar("SELECT rec_publish('lg')");
        Assert.AreEqual(2L, db.Scalar("SELECT rec_unpublish('lg')"));
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name GLOB 'lg_*'"));
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_publications"));
        Assert.AreEqual(0L, db.Scalar("SELECT rec_unpublish('lg')"), "nothing left to drop");
        // Not republished by the next training, and a model without publications trains as before.
        db.Scalar("SELECT rec_train('lg', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM likes'))");
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name GLOB 'lg_*'"));
        // rec_drop takes a model's tables with it, and drops collections.
        db.Scalar("SELECT rec_train('lg2', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes', 'components', 3))");
        db.Scalar("SELECT rec_publish('lg2', json_object('table', 'gf'))");
        Assert.AreEqual(2L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name IN ('gf_items', 'gf_users')"));
        Assert.AreEqual(1L, db.Scalar("SELECT rec_drop('lg2')"));
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name GLOB 'gf_*'"));
        db.StoreVectors("vecs", VectorTestData.Gaussian(30, 2), 3);
        db.Scalar("SELECT rec_publish('v', json_object('source', 'SELECT id, emb FROM vecs', 'table', 'v'))");
        Assert.AreEqual(1L, db.Scalar("SELECT rec_unpublish('v')"));
        db.Scalar("SELECT rec_publish('v', json_object('table', 'v'))");
        Assert.AreEqual(1L, db.Scalar("SELECT rec_drop('v')"));
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_collections"));
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_collection_items"));
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM sqlite_schema WHERE name GLOB 'v_*'"));
    }

    [TestMethod]
    [TestCategory("fn:rec_publish")]
    public void PublishedTablesAreVisibleToOtherConnectionsAtCommit()
    {
        using var db = TestDb.InFile();
        db.Execute(Likes);
        db.Scalar("SELECT rec_train('lg', json_object('model', 'lightgcn', 'source', 'SELECT user_id, item_id FROM likes', 'dim', 8, 'epochs', 2))");
        db.Scalar("SELECT rec_publish('lg')");
        using var other = db.OpenAnother();
        Assert.AreEqual(40L, TestDb.Scalar(other, "SELECT count(*) FROM lg_items"));
        Assert.AreEqual(TestDb.Scalar(other, "SELECT similar_items(3, 4, 'lg')"), db.Scalar("SELECT similar_items(3, 4, 'lg')"));
    }

    [TestMethod]
    [TestCategory("errors:rec_publish")]
    public void RecPublishErrorsChangeNothing()
    {
        using var db = TestDb.InMemory().Execute(RecommendTests.Likes);
        db.Scalar(RecommendTests.TrainPopular);
        db.Execute("CREATE TABLE iv(id, v); INSERT INTO iv VALUES (10, vec_f32('[1, 0, 0]')), (11, vec_f32('[0, 1, 0]'))");
        db.Scalar("SELECT rec_publish('tags', json_object('source', 'SELECT id, v FROM iv', 'table', 'tags'))");
        var schema = Schema(db);
        var store = Store(db);
        const string f = "rec_publish";
        void Fails(string sql, SqlRecException expected)
        {
            db.AssertError(sql, expected.Message);
            Assert.AreEqual(schema, Schema(db), sql);
            Assert.AreEqual(store, Store(db), sql);
        }
        Fails("SELECT rec_publish(NULL)", Errors.ModelNameInvalid(f, null));
        Fails("SELECT rec_publish('')", Errors.ModelNameInvalid(f, ""));
        Fails("SELECT rec_publish('nope')", Errors.UnknownVectorSource(f, "nope", ["pop"], ["tags"]));
        Fails("SELECT rec_publish('pop')", Errors.NoItemVectors(f, "model 'pop' (kind 'popular')", ModelKinds.VectorsFrom));
        Fails("SELECT rec_publish('pop', json_object('source', 'SELECT id, v FROM iv'))", Errors.CollectionNameIsModel(f, "pop"));
        Fails("SELECT rec_publish('x', json_object('source', 'DELETE FROM iv'))", Errors.QueryNotSelect(f, QueryRole.Source, "DELETE FROM iv"));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv; DROP TABLE iv'))", Errors.QuerySeveralStatements(f, QueryRole.Source, " DROP TABLE iv"));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM nowhere'))", Errors.QueryFailed(f, QueryRole.Source, "no such table: nowhere"));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id FROM iv'))", Errors.QueryColumns(f, QueryRole.CollectionSource, 1));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv WHERE 0'))", Errors.QueryEmpty(f, QueryRole.CollectionSource));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT NULL, v FROM iv'))", Errors.QueryBadId(f, QueryRole.Source, "id", 1, null));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT 10, v FROM iv'))", Errors.CollectionDuplicateId(f, 10L, 1, 2));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, CASE id WHEN 11 THEN ''[1, 2]'' ELSE v END FROM iv ORDER BY id'))",
            Errors.VectorNotBlob(f, "the 'source' query's vector in row 2", "[1, 2]"));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, NULL FROM iv'))", Errors.VectorNotBlob(f, "the 'source' query's vector in row 1", null));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT 1, x''0000803f00'''))", Errors.VectorBlobLength(f, "the 'source' query's vector in row 1", 5, VectorBlob.MaxDimensions));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT 1, x''0000803f0000803f0000807f'''))", Errors.VectorNotFinite(f, "the 'source' query's vector in row 1", 2, float.PositiveInfinity));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, CASE id WHEN 11 THEN vec_f32(''[1, 2]'') ELSE v END FROM iv ORDER BY id'))",
            Errors.CollectionDimensionMismatch(f, 2, 2, 3));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv', 'table', 'my table'))",
            Errors.OptionRange(f, "table", Vec0Tables.NameRule, "\"my table\""));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv', 'table', 'sqlite_x'))",
            Errors.OptionRange(f, "table", Vec0Tables.NameRule, "\"sqlite_x\""));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv', 'metric', 'ip'))", Errors.OptionRange(f, "metric", "one of 'dot', 'cosine', 'l2'", "\"ip\""));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv', 'k', 1))", Errors.UnknownOption(f, "k", "rec_publish()", ["source", "metric", "table", "text", "embedder"]));
        // Tables that are not this owner's are never overwritten: the application's own, another owner's publication.
        db.Execute("CREATE TABLE taken_items(id INTEGER)");
        schema = Schema(db);
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv', 'table', 'taken'))", Errors.PublishTableTaken(f, "taken_items", "x"));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv', 'table', 'tags'))", Errors.PublishTableTaken(f, "tags_items", "x"));
        // vec0 keys rows by one id type; the failure comes after the snapshot was written and undoes it.
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT id, v FROM iv UNION ALL SELECT ''t'', vec_f32(''[0, 0, 1]'')', 'table', 'mixed'))",
            Errors.PublishMixedIds(f, "collection 'x'", "item"));
        Fails("SELECT rec_publish('x', json_object('source', 'SELECT 1, zeroblob(32768)', 'metric', 'dot', 'table', 'wide'))", Errors.PublishTooWide(f, 8192, 8192));
        Fails("SELECT rec_publish('tags', json_object('table', 'taken'))", Errors.PublishTableTaken(f, "taken_items", "tags"));
        // Replacing a vec0 table drops it, which SQLite refuses while the calling statement reads a table.
        Fails("SELECT rec_publish('tags', json_object('table', 'tags')) FROM iv", Errors.Vec0DropFailed(f, "tags_items", "database table is locked"));
        Assert.AreEqual(2L, db.Scalar("SELECT count(*) FROM tags_items"));
        StringAssert.Contains((string)db.Scalar("SELECT rec_publish('tags', json_object('table', 'tags'))")!, "tags_items", "on its own it works");
    }

    [TestMethod]
    [TestCategory("errors:rec_unpublish")]
    public void RecUnpublishErrors()
    {
        using var db = TestDb.InMemory().Execute(RecommendTests.Likes);
        db.AssertError("SELECT rec_unpublish('nope')", Errors.UnknownVectorSource("rec_unpublish", "nope", [], []).Message);
        db.Scalar(RecommendTests.TrainPopular);
        db.AssertError("SELECT rec_unpublish('nope')", Errors.UnknownVectorSource("rec_unpublish", "nope", ["pop"], []).Message);
        db.AssertError("SELECT rec_unpublish(NULL)", Errors.ModelNameInvalid("rec_unpublish", null).Message);
        db.AssertError("SELECT rec_unpublish(3)", Errors.ModelNameInvalid("rec_unpublish", 3L).Message);
        Assert.AreEqual(0L, db.Scalar("SELECT rec_unpublish('pop')"));
    }
}
