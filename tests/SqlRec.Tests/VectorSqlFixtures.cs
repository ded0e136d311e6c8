using System.Runtime.InteropServices;

namespace SqlRec.Tests;

/// <summary>Databases the SQL-level vector tests share: collections of generated vectors and small trained models.</summary>
internal static class VectorSqlFixtures
{
    /// <summary>Rows and width of <see cref="WithCollection"/>'s vectors.</summary>
    public const int Rows = 300, Dimensions = 12;

    /// <summary>
    /// A database with table <c>vecs(id, emb)</c> of <see cref="Rows"/> generated vectors (ids 1..n,
    /// varying lengths), a table <c>items(id, in_stock)</c> with every 10th item in stock, and the
    /// collection <c>c</c> made from <c>vecs</c> with the given metric.
    /// </summary>
    public static TestDb WithCollection(out float[] data, string metric = "cosine", int seed = 7)
    {
        data = VectorTestData.VaryingLengths(Rows, Dimensions, seed);
        var db = TestDb.InMemory().StoreVectors("vecs", data, Dimensions);
        db.Execute("CREATE TABLE items(id INTEGER PRIMARY KEY, in_stock INTEGER)");
        db.Execute("INSERT INTO items SELECT id, id % 10 = 0 FROM vecs");
        db.Scalar($"SELECT rec_publish('c', json_object('source', 'SELECT id, emb FROM vecs', 'metric', '{metric}'))");
        return db;
    }

    /// <summary>Likes of 60 users over 40 items, every user with several items and several without.</summary>
    public const string Likes = """
        CREATE TABLE likes(user_id INTEGER, item_id INTEGER);
        WITH RECURSIVE s(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM s WHERE x < 599)
        INSERT INTO likes SELECT x % 60, (x * 7 + (x / 60) * 3 + (x % 60) / 6) % 40 FROM s;
        CREATE INDEX likes_user ON likes(user_id);
        """;

    /// <summary>A database with <see cref="Likes"/> and a small LightGCN model 'lg' (dim 16, a few epochs).</summary>
    public static TestDb WithLightGcn()
    {
        var db = TestDb.InMemory().Execute(Likes);
        db.Scalar("SELECT rec_train('lg', json_object('model', 'lightgcn', 'source', 'SELECT user_id, item_id FROM likes', 'dim', 16, 'epochs', 4, 'seed', 3))");
        return db;
    }

    /// <summary>(id, vector) of every row of a table or query returning (id, float32 blob).</summary>
    public static List<(long Id, float[] Vector)> Vectors(TestDb db, string sql) =>
        db.Rows(sql).Select(r => ((long)r[0]!, MemoryMarshal.Cast<byte, float>((byte[])r[1]!).ToArray())).ToList();

    /// <summary>Row-major data and ids of a list of vectors.</summary>
    public static (long[] Ids, float[] Data, int Dimensions) Matrix(List<(long Id, float[] Vector)> vectors) =>
        (vectors.Select(v => v.Id).ToArray(), vectors.SelectMany(v => v.Vector).ToArray(), vectors[0].Vector.Length);

    /// <summary>(item id, score) rows of a vector TVF query selecting item_id and score.</summary>
    public static List<(long Id, double Score)> Scored(TestDb db, string sql, params object?[] args) =>
        db.Rows(sql, args).Select(r => ((long)r[0]!, (double)r[1]!)).ToList();
}
