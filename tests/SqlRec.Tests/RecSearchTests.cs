using SqlRec.Models;
using SqlRec.Vectors;
using static SqlRec.Tests.VectorSqlFixtures;

namespace SqlRec.Tests;

/// <summary>
/// rec_search through SQL, and the acceptance checks of the vector issue: SqlRec's exact path and
/// sqlite-vec's vec0 return the same neighbours on the same vectors for every metric (inner
/// product through the augmented L2 table), filtered queries are always full, and k has no 4096 ceiling.
/// </summary>
[TestClass]
public sealed class RecSearchTests
{
    private static List<(long Id, double Distance)> Vec0(TestDb db, string table, byte[] query, int k, string filter = "") =>
        db.Rows($"SELECT item_id, distance FROM {table} WHERE embedding MATCH $1 AND k = {k} {filter} ORDER BY distance", query)
            .Select(r => ((long)r[0]!, (double)r[1]!)).ToList();

    private static List<(long Id, double Score, double Distance)> Search(TestDb db, string source, byte[] query, int k, string options = "NULL") =>
        db.Rows($"SELECT item_id, score, distance FROM rec_search('{source}', $1, {k}, {options}) ORDER BY rank", query)
            .Select(r => ((long)r[0]!, (double)r[1]!, (double)r[2]!)).ToList();

    [TestMethod]
    [TestCategory("fn:rec_search")]
    [TestCategory("fn:rec_publish")]
    public void SqlRecAndVec0ReturnTheSameNeighboursForEveryMetric()
    {
        foreach (var metric in new[] { "cosine", "l2", "dot" })
        {
            using var db = WithCollection(out var data, metric, seed: 17);
            db.Scalar("SELECT rec_publish('c', json_object('table', 'c'))");
            Assert.AreEqual(metric == "dot" ? Dimensions + 1 : Dimensions, ((byte[])db.Scalar("SELECT embedding FROM c_items LIMIT 1")!).Length / 4);
            var bound = Math.Sqrt(Enumerable.Range(0, Rows).Max(r => VectorTestData.Row(data, Dimensions, r).Sum(v => (double)v * v)));
            for (var q = 0; q < 25; q++)
            {
                var query = VectorTestData.Gaussian(Dimensions, 1000 + q);
                var blob = VectorTestData.Blob(query);
                var ours = Search(db, "c", blob, 10);
                var theirs = Vec0(db, "c_items", metric == "dot" ? VectorTestData.Blob([.. query, 0f]) : blob, 10);
                CollectionAssert.AreEqual(theirs.Select(t => t.Id).ToArray(), ours.Select(o => o.Id).ToArray(), $"{metric} query {q}");
                var queryNorm2 = query.Sum(v => (double)v * v);
                for (var i = 0; i < 10; i++)
                {
                    // vec0's distance, as SqlRec defines it: the same for cosine and l2; for dot, |q - x'|^2 = |q|^2 + M^2 - 2 q.x.
                    var expected = metric == "dot" ? Math.Sqrt(queryNorm2 + bound * bound + 2 * ours[i].Distance) : ours[i].Distance;
                    Assert.AreEqual(expected, theirs[i].Distance, 1e-4 * (1 + expected), $"{metric} query {q} rank {i + 1}");
                }
            }
        }
    }

    [TestMethod]
    [TestCategory("fn:rec_search")]
    public void AModelsDotProductSearchIsItsOwnRankingAndVec0Agrees()
    {
        using var db = WithLightGcn();
        db.Scalar("SELECT rec_publish('lg')");
        foreach (var user in new[] { 0L, 11L, 59L })
        {
            // A dot table's user row is the user vector plus a trailing 0; its first 16 floats are the vector itself.
            var userVector = (byte[])db.Scalar("SELECT substr(embedding, 1, 64) FROM lg_users WHERE user_id = $1", user)!;
            var expected = (string)db.Scalar("SELECT recommend($1, 10, 'lg', json_object('exclude_seen', json('false')))", user)!;
            Assert.AreEqual(expected, db.Scalar("SELECT rec_search('lg', $1, 10)", userVector), $"user {user}");
            Assert.AreEqual(expected, db.Scalar("SELECT json_group_array(item_id) FROM (SELECT item_id FROM lg_items WHERE embedding MATCH (SELECT embedding FROM lg_users WHERE user_id = $1) AND k = 10 ORDER BY distance)", user));
            // Scores are the model's scores.
            var scores = db.Rows("SELECT score FROM recommend($1, 3, 'lg', json_object('exclude_seen', json('false')))", user).Select(r => (double)r[0]!).ToArray();
            var found = db.Rows("SELECT score FROM rec_search('lg', $1, 3)", userVector).Select(r => (double)r[0]!).ToArray();
            for (var i = 0; i < 3; i++) Assert.AreEqual(scores[i], found[i], 1e-5);
        }
    }

    [TestMethod]
    [TestCategory("fn:rec_search")]
    public void FilteredQueriesAreAlwaysFullWhereAJoinAfterTheKnnIsShort()
    {
        using var db = WithCollection(out _, "l2", seed: 23);
        db.Scalar("SELECT rec_publish('c', json_object('table', 'c'))");
        const string inStock = "SELECT id FROM items WHERE in_stock";
        var shortJoins = 0;
        for (var q = 0; q < 20; q++)
        {
            var blob = VectorTestData.Blob(VectorTestData.Gaussian(Dimensions, 2000 + q));
            var ours = Search(db, "c", blob, 10, $"json_object('candidates', '{inStock}')");
            Assert.HasCount(10, ours, $"query {q}");
            Assert.IsTrue(ours.All(o => o.Id % 10 == 0));
            // vec0 agrees when the filter is inside its KNN ...
            CollectionAssert.AreEqual(Vec0(db, "c_items", blob, 10, $"AND item_id IN ({inStock})").Select(v => v.Id).ToArray(), ours.Select(o => o.Id).ToArray());
            // ... and a JOIN after its KNN comes back short.
            var joined = (long)db.Scalar($"SELECT count(*) FROM (SELECT item_id FROM c_items WHERE embedding MATCH $1 AND k = 10) v JOIN items i ON i.id = v.item_id WHERE i.in_stock", blob)!;
            if (joined < 10) shortJoins++;
            var excluded = Search(db, "c", blob, 10, $"json_object('candidates', '{inStock}', 'exclude', json_array({ours[0].Id}, {ours[1].Id}))");
            Assert.HasCount(10, excluded);
            CollectionAssert.AreEqual(ours.Skip(2).Select(o => o.Id).ToArray(), excluded.Take(8).Select(o => o.Id).ToArray());
        }
        Assert.AreEqual(20, shortJoins, "with 10% in stock, the KNN-then-JOIN is short every time");
    }

    [TestMethod]
    [TestCategory("fn:rec_search")]
    public void KHasNo4096Ceiling()
    {
        using var db = TestDb.InMemory().StoreVectors("vecs", VectorTestData.Gaussian(6000 * 4, 5), 4);
        db.Scalar("SELECT rec_publish('big', json_object('source', 'SELECT id, emb FROM vecs', 'table', 'big'))");
        var query = VectorTestData.Blob([1f, 0f, 0f, 0f]);
        Assert.AreEqual(5000L, db.Scalar("SELECT count(*) FROM rec_search('big', $1, 5000)", query));
        Assert.AreEqual(6000L, db.Scalar("SELECT count(*) FROM rec_search('big', $1, 10000)", query));
        var error = Assert.ThrowsExactly<Microsoft.Data.Sqlite.SqliteException>(() => db.Rows("SELECT item_id FROM big_items WHERE embedding MATCH $1 AND k = 5000", query));
        StringAssert.Contains(error.Message, "4096", "sqlite-vec's own ceiling");
    }

    [TestMethod]
    [TestCategory("fn:rec_search")]
    public void QuantizedFirstPassesThroughSql()
    {
        using var db = TestDb.InMemory().StoreVectors("vecs", VectorTestData.VaryingLengths(2000, 32, 9), 32);
        db.Scalar("SELECT rec_publish('v', json_object('source', 'SELECT id, emb FROM vecs'))");
        var query = VectorTestData.Blob(VectorTestData.Gaussian(32, 10));
        var exact = db.Rows("SELECT item_id, score FROM rec_search('v', $1, 10)", query).ToDictionary(r => (long)r[0]!, r => (double)r[1]!);
        foreach (var options in new[] { "json_object('quantize', 'int8')", "json_object('quantize', 'bit', 'rescore', 200)", "json_object('quantize', 'int8', 'rescore', 1)" })
        {
            var rows = db.Rows($"SELECT item_id, score FROM rec_search('v', $1, 10, {options})", query);
            Assert.HasCount(10, rows, options);
            // A shortlist of 2000 (bit, rescore 200) covers everything: exact.
            if (options.Contains("200", StringComparison.Ordinal)) CollectionAssert.AreEquivalent(exact.Keys.ToArray(), rows.Select(r => (long)r[0]!).ToArray());
            var all = db.Rows("SELECT item_id, score FROM rec_search('v', $1, 2000)", query).ToDictionary(r => (long)r[0]!, r => (double)r[1]!);
            foreach (var row in rows) Assert.AreEqual(all[(long)row[0]!], (double)row[1]!, 1e-6, "scores are exact");
        }
    }

    [TestMethod]
    [TestCategory("errors:rec_search")]
    public void RecSearchErrors()
    {
        using var db = WithCollection(out _);
        const string f = "rec_search";
        var good = VectorTestData.Blob(new float[Dimensions]);
        db.AssertError("SELECT rec_search('c', NULL, 3)", Errors.VectorNotBlob(f, "'query'", null).Message);
        db.AssertError("SELECT rec_search('c', 1.5, 3)", Errors.VectorNotBlob(f, "'query'", 1.5).Message);
        db.AssertError("SELECT rec_search('c', x'00000000ff', 3)", Errors.VectorBlobLength(f, "'query'", 5, VectorBlob.MaxDimensions).Message);
        db.AssertError("SELECT rec_search('c', x'', 3)", Errors.VectorBlobLength(f, "'query'", 0, VectorBlob.MaxDimensions).Message);
        db.AssertError("SELECT rec_search('c', $1, 3)", Errors.VectorNotFinite(f, "'query'", 1, float.NaN).Message, VectorTestData.Blob([0f, float.NaN]));
        db.AssertError("SELECT rec_search('c', $1, 3)", Errors.VectorNotFinite(f, "'query'", 0, float.PositiveInfinity).Message, VectorTestData.Blob([float.PositiveInfinity]));
        db.AssertError("SELECT rec_search('c', vec_f32('[1, 2]'), 3)", Errors.DimensionMismatch(f, "'query'", 2, "item", "collection 'c'", Dimensions).Message);
        db.AssertError("SELECT rec_search('c', 'space adventure', 3)", Errors.TextQueryNeedsEmbedder(f, "collection 'c'").Message);
        db.AssertError("SELECT rec_search('c', $1, 0)", Errors.KOutOfRange(f, 0L).Message, good);
        db.AssertError("SELECT rec_search('c', $1, 10001)", Errors.KOutOfRange(f, 10001L).Message, good);
        db.AssertError("SELECT rec_search('c', $1, 'ten')", Errors.ArgumentType(f, "k", "an INTEGER", "ten").Message, good);
        db.AssertError("SELECT rec_search('c', $1, 3, json_object('candidates', 'UPDATE items SET in_stock = 1 RETURNING id'))",
            Errors.QueryNotSelect(f, QueryRole.Candidates, "UPDATE items SET in_stock = 1 RETURNING id").Message, good);
        db.AssertError("SELECT rec_search('c', $1, 3, json_object('candidates', 'WITH x AS (SELECT 1) DELETE FROM items'))",
            Errors.QueryNotSelect(f, QueryRole.Candidates, "WITH x AS (SELECT 1) DELETE FROM items").Message, good);
        Assert.AreEqual(30L, db.Scalar("SELECT count(*) FROM items WHERE in_stock"), "a refused candidates query changed nothing");
        db.AssertError("SELECT rec_search('c', $1, 3, json_object('candidates', 'SELECT 2.5'))", Errors.QueryBadId(f, QueryRole.Candidates, "id", 1, 2.5).Message, good);
        db.AssertError("SELECT rec_search('nope', $1, 3)", Errors.UnknownVectorSource(f, "nope", [], ["c"]).Message, good);
        db.AssertError("SELECT rec_search(5, $1, 3)", Errors.ArgumentType(f, "model", "TEXT", 5L).Message, good);
        db.AssertError("SELECT * FROM rec_search WHERE model = 'c' AND k = 3", Errors.TableArgumentMissing(f, "query", "SELECT * FROM rec_search(model, query, k[, options])").Message);
        db.AssertError("SELECT rec_search('c', $1, 3, json_object('metric', 'ip'))", Errors.OptionRange(f, "metric", "one of 'dot', 'cosine', 'l2'", "\"ip\"").Message, good);
        using var pop = TestDb.InMemory().Execute(RecommendTests.Likes);
        pop.Scalar(RecommendTests.TrainPopular);
        pop.AssertError("SELECT rec_search('pop', $1, 3)", Errors.NoItemVectors(f, "model 'pop' (kind 'popular')", ModelKinds.VectorsFrom).Message, good);
        pop.AssertError("SELECT rec_search('pop', 'text', 3)", Errors.TextQueryNeedsEmbedder(f, "model 'pop'").Message);
        using var lg = WithLightGcn();
        lg.AssertError("SELECT rec_search('lg', vec_f32('[1, 2, 3]'), 3)", Errors.DimensionMismatch(f, "'query'", 3, "item", "model 'lg'", 16).Message);
    }
}
