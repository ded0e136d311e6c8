using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// Vector search through SQL, SqlRec's exact top-k against sqlite-vec's <c>vec0</c> on the same
/// vectors in the same in-memory database, one query at a time, warm (vectors loaded; the first 20
/// queries of each path are not timed), CPU:
/// <list type="bullet">
/// <item>Inner-product top-10 over 40,981 x 64 item vectors (Gowalla's item count): generated
/// CF-like vectors, or with <c>--gowalla</c> the item vectors of a LightGCN trained for 3 epochs on
/// the Gowalla split. SqlRec's <c>rec_search</c> against a <c>vec0</c> <c>MATCH ... AND k = 10</c> on
/// the augmented table <c>rec_publish</c> wrote (L2 order = inner-product order); both must return
/// the same ids. Then a filter (10% of items "in stock"): SqlRec's 'candidates' option, vec0 with
/// <c>item_id IN (...)</c> inside the KNN, and the JOIN after a vec0 KNN that comes back short.</item>
/// <item>Text-like search over 100,000 x 384 unit vectors (generated: 50 topics x 10 themes, see <see cref="VectorData.Clustered"/>): p50 of
/// <c>rec_search</c> with exact float scores, int8 and bit first passes (re-scored exactly), and
/// recall@10 of each against exact float; vec0's cosine KNN on the same vectors for reference.</item>
/// </list>
/// Not measured: cold loads (the first call reads the vectors from the store), concurrency, GPU.
/// </summary>
public static class VectorBenchmark
{
    private const int Warmup = 20;
    private const int Queries = 300;

    public static int Run(string[] args)
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        connection.UseSqlRec();
        Console.WriteLine($"{Environment.ProcessorCount} cores; SQLite {Scalar(connection, "SELECT sqlite_version()")}, sqlite-vec {Scalar(connection, "SELECT vec_version()")}");
        var gowalla = args.Contains("--gowalla");
        if (!args.Contains("--text-only")) InnerProduct(connection, gowalla);
        if (!args.Contains("--mips-only")) TextSearch(connection);
        return 0;
    }

    // ---- inner product, 40,981 x 64 -----------------------------------------------------------

    private static void InnerProduct(SqliteConnection connection, bool gowalla)
    {
        const int dimensions = 64;
        string source;
        float[] queries;
        int items;
        var clock = Stopwatch.StartNew();
        if (gowalla)
        {
            var folder = SharedData.PathOf("lightgcn", "gowalla");
            GowallaBenchmark.Load(connection, Path.Combine(folder, "train.txt"), "train");
            Scalar(connection, "SELECT rec_train('lgcn', json_object('model','lightgcn','source','SELECT user_id, item_id FROM train','epochs',3,'batch',32768,'lr',0.01))");
            Scalar(connection, "SELECT rec_publish('lgcn', json_object('table', 'mips'))");
            source = "lgcn";
            items = Convert.ToInt32(Scalar(connection, "SELECT count(*) FROM mips_items"), CultureInfo.InvariantCulture);
            // Query vectors: users' embeddings, the first 64 floats of their published rows.
            queries = Rows(connection, "SELECT substr(embedding, 1, 256) FROM mips_users ORDER BY random() LIMIT 320")
                .SelectMany(b => MemoryMarshal.Cast<byte, float>((byte[])b).ToArray()).ToArray();
            Console.WriteLine($"LightGCN (3 epochs) on Gowalla trained and published in {clock.Elapsed.TotalSeconds:F1} s");
        }
        else
        {
            items = 40_981;
            var data = VectorData.FactorLike(items, dimensions, seed: 1);
            VectorData.Store(connection, "item_vectors", data, dimensions);
            Scalar(connection, "SELECT rec_publish('cf', json_object('source', 'SELECT id, emb FROM item_vectors', 'metric', 'dot', 'table', 'mips'))");
            source = "cf";
            queries = VectorData.FactorLike(Warmup + Queries, dimensions, seed: 2);
            Console.WriteLine($"{items:N0} x {dimensions} generated CF-like vectors stored and published in {clock.Elapsed.TotalSeconds:F1} s");
        }
        Execute(connection, $"CREATE TABLE stock(id INTEGER PRIMARY KEY, in_stock INTEGER); INSERT INTO stock SELECT item_id, (item_id * 2654435761) % 10 = 0 FROM mips_items");

        var blobs = Enumerable.Range(0, Warmup + Queries).Select(q => Blob(queries, q, dimensions)).ToArray();
        var augmented = Enumerable.Range(0, Warmup + Queries).Select(q => Blob([.. queries.AsSpan(q * dimensions, dimensions), 0f], 0, dimensions + 1)).ToArray();
        var sqlrec = Time(connection, $"SELECT item_id FROM rec_search('{source}', $q, 10)", blobs);
        var vec0 = Time(connection, "SELECT item_id FROM mips_items WHERE embedding MATCH $q AND k = 10", augmented);
        var same = Enumerable.Range(0, blobs.Length).Count(q => sqlrec.Results[q].SequenceEqual(vec0.Results[q]));
        Console.WriteLine();
        Console.WriteLine($"inner-product top-10 over {items:N0} x {dimensions}, {Queries} queries, one at a time:");
        Console.WriteLine("| path | p50 ms | p99 ms | vs vec0 |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine($"| vec0 `MATCH ... AND k = 10` (augmented L2) | {F(vec0.P50)} | {F(vec0.P99)} | 1.0x |");
        Console.WriteLine($"| SqlRec `rec_search` (exact dot) | {F(sqlrec.P50)} | {F(sqlrec.P99)} | {vec0.P50 / sqlrec.P50:F1}x faster |");
        if (gowalla)
        {
            var users = Rows(connection, "SELECT user_id FROM mips_users ORDER BY random() LIMIT 320").ToArray();
            var recommend = Time(connection, "SELECT item_id FROM recommend($q, 10, 'lgcn', '{\"exclude_seen\": false}')", users);
            Console.WriteLine($"| SqlRec `recommend(user, 10)`, seen items kept | {F(recommend.P50)} | {F(recommend.P99)} | {vec0.P50 / recommend.P50:F1}x faster |");
        }
        Console.WriteLine($"same ids in the same order: {same} of {blobs.Length} queries");
        // Where the orders differ, compare the exact inner products of the items at the differing ranks.
        for (var q = 0; q < blobs.Length; q++)
        {
            if (sqlrec.Results[q].SequenceEqual(vec0.Results[q])) continue;
            var scores = ScoresOf(connection, source, blobs[q]);
            var gaps = Enumerable.Range(0, Math.Min(sqlrec.Results[q].Count, vec0.Results[q].Count))
                .Where(i => !Equals(sqlrec.Results[q][i], vec0.Results[q][i]))
                .Select(i => Math.Abs(scores[sqlrec.Results[q][i]] - scores[vec0.Results[q][i]]) / Math.Abs(scores[sqlrec.Results[q][i]]));
            Console.WriteLine($"  query {q}: ranks differ where the inner products differ by at most {gaps.Max():E1} (relative): a float32 near-tie");
        }

        const string inStock = "SELECT id FROM stock WHERE in_stock";
        var filtered = Time(connection, $"SELECT item_id FROM rec_search('{source}', $q, 10, json_object('candidates', '{inStock}'))", blobs);
        var vec0In = Time(connection, $"SELECT item_id FROM mips_items WHERE embedding MATCH $q AND k = 10 AND item_id IN ({inStock})", augmented);
        var vec0Join = Time(connection, "SELECT v.item_id FROM (SELECT item_id FROM mips_items WHERE embedding MATCH $q AND k = 10) v JOIN stock s ON s.id = v.item_id WHERE s.in_stock", augmented);
        var agree = Enumerable.Range(0, blobs.Length).Count(q => filtered.Results[q].SequenceEqual(vec0In.Results[q]));
        Console.WriteLine();
        Console.WriteLine($"filtered to {Scalar(connection, "SELECT count(*) FROM stock WHERE in_stock")} in-stock items:");
        Console.WriteLine("| path | p50 ms | mean rows returned (k = 10) |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine($"| vec0 KNN, then JOIN stock | {F(vec0Join.P50)} | {vec0Join.Results.Average(r => r.Count):F2} |");
        Console.WriteLine($"| vec0 KNN with `item_id IN (SELECT ...)` | {F(vec0In.P50)} | {vec0In.Results.Average(r => r.Count):F2} |");
        Console.WriteLine($"| SqlRec `rec_search` with 'candidates' | {F(filtered.P50)} | {filtered.Results.Average(r => r.Count):F2} |");
        Console.WriteLine($"SqlRec and vec0 IN agree on {agree} of {blobs.Length} queries");
    }

    // ---- text-like search, 100,000 x 384 ------------------------------------------------------

    private static void TextSearch(SqliteConnection connection)
    {
        const int rows = 100_000, dimensions = 384;
        var clock = Stopwatch.StartNew();
        const int topics = 50, themes = 10;
        const float noiseScale = 1.5f;
        var data = VectorData.Clustered(rows, dimensions, topics, themes, noiseScale, seed: 3, out var anchors);
        VectorData.Store(connection, "docs", data, dimensions);
        Console.WriteLine();
        Console.WriteLine($"{rows:N0} x {dimensions} generated text-like vectors stored in {clock.Elapsed.TotalSeconds:F1} s");
        clock.Restart();
        Scalar(connection, "SELECT rec_publish('docs', json_object('source', 'SELECT id, emb FROM docs', 'metric', 'cosine', 'table', 'docs'))");
        Console.WriteLine($"rec_publish (collection + vec0 table) in {clock.Elapsed.TotalSeconds:F1} s");

        // Queries: a theme's anchor plus noise, like a short query near some documents.
        var random = new Random(4);
        var noise = VectorData.Gaussian(random, (Warmup + Queries) * dimensions);
        var queries = new float[(Warmup + Queries) * dimensions];
        for (var q = 0; q < Warmup + Queries; q++)
        {
            var anchor = random.Next(topics * themes);
            for (var d = 0; d < dimensions; d++) queries[q * dimensions + d] = anchors[anchor * dimensions + d] + noiseScale * noise[q * dimensions + d];
            VectorData.Normalize(queries.AsSpan(q * dimensions, dimensions));
        }
        var blobs = Enumerable.Range(0, Warmup + Queries).Select(q => Blob(queries, q, dimensions)).ToArray();
        clock.Restart();
        Time(connection, "SELECT item_id FROM rec_search('docs', $q, 10, json_object('quantize', 'int8'))", blobs[..1]);
        Time(connection, "SELECT item_id FROM rec_search('docs', $q, 10, json_object('quantize', 'bit'))", blobs[..1]);
        Console.WriteLine($"first quantized searches (collection load + int8 and bit codes built) in {clock.Elapsed.TotalSeconds:F1} s");

        var exact = Time(connection, "SELECT item_id FROM rec_search('docs', $q, 10)", blobs);
        var vec0 = Time(connection, "SELECT item_id FROM docs_items WHERE embedding MATCH $q AND k = 10", blobs);
        Console.WriteLine();
        Console.WriteLine($"cosine top-10 over {rows:N0} x {dimensions}, {Queries} queries, one at a time:");
        Console.WriteLine("| path | p50 ms | p99 ms | recall@10 vs exact float |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine($"| vec0 `MATCH ... AND k = 10` (float, cosine) | {F(vec0.P50)} | {F(vec0.P99)} | {Recall(exact, vec0):F4} |");
        Console.WriteLine($"| SqlRec exact float | {F(exact.P50)} | {F(exact.P99)} | 1 (reference) |");
        // The same first passes in plain sqlite-vec: int8 and bit vec0 tables, the shortlist re-scored in SQL on the float vectors.
        Execute(connection, """
            CREATE VIRTUAL TABLE docs_int8 USING vec0(item_id integer primary key, embedding int8[384]);
            INSERT INTO docs_int8 SELECT id, vec_quantize_int8(emb, 'unit') FROM docs;
            CREATE VIRTUAL TABLE docs_bits USING vec0(item_id integer primary key, embedding bit[384]);
            INSERT INTO docs_bits SELECT id, vec_quantize_binary(emb) FROM docs;
            """);
        foreach (var (table, quantizer, shortlist) in new[] { ("docs_int8", "vec_int8(vec_quantize_int8($q, 'unit'))", 40), ("docs_bits", "vec_quantize_binary($q)", 200) })
        {
            var run = Time(connection, $"""
                WITH coarse AS (SELECT item_id FROM {table} WHERE embedding MATCH {quantizer} AND k = {shortlist})
                SELECT c.item_id FROM coarse c JOIN docs d ON d.id = c.item_id ORDER BY vec_distance_cosine(d.emb, $q), c.item_id LIMIT 10
                """, blobs);
            Console.WriteLine($"| vec0 {table[5..]} KNN, shortlist {shortlist} re-scored in SQL | {F(run.P50)} | {F(run.P99)} | {Recall(exact, run):F4} |");
        }
        foreach (var (quantize, rescore) in new[] { ("int8", 1), ("int8", 2), ("int8", 4), ("bit", 10), ("bit", 20), ("bit", 50) })
        {
            var run = Time(connection, $"SELECT item_id FROM rec_search('docs', $q, 10, json_object('quantize', '{quantize}', 'rescore', {rescore}))", blobs);
            var isDefault = rescore == (quantize == "bit" ? 20 : 4) ? " (the default)" : "";
            Console.WriteLine($"| SqlRec {quantize}, shortlist {rescore * 10} re-scored exactly{isDefault} | {F(run.P50)} | {F(run.P99)} | {Recall(exact, run):F4} |");
        }
    }

    // ---- helpers -----------------------------------------------------------------------------

    private sealed record Timing(double P50, double P99, List<List<object>> Results);

    /// <summary>Runs the query once per parameter value, one at a time; the first <see cref="Warmup"/> are not timed.</summary>
    private static Timing Time(SqliteConnection connection, string sql, object[] values)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var parameter = command.Parameters.Add("$q", values[0] is byte[] ? SqliteType.Blob : SqliteType.Integer);
        command.Prepare();
        var times = new List<double>();
        var results = new List<List<object>>();
        for (var q = 0; q < values.Length; q++)
        {
            parameter.Value = values[q];
            var watch = Stopwatch.StartNew();
            var rows = new List<object>();
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read()) rows.Add(reader.GetValue(0));
            }
            var elapsed = watch.Elapsed.TotalMilliseconds;
            results.Add(rows);
            if (q >= Math.Min(Warmup, values.Length - 1)) times.Add(elapsed);
        }
        times.Sort();
        return new Timing(times[times.Count / 2], times[Math.Min(times.Count - 1, (int)(times.Count * 0.99))], results);
    }

    private static Dictionary<object, double> ScoresOf(SqliteConnection connection, string source, byte[] query)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT item_id, score FROM rec_search('{source}', $q, 100)";
        command.Parameters.AddWithValue("$q", query);
        using var reader = command.ExecuteReader();
        var scores = new Dictionary<object, double>();
        while (reader.Read()) scores[reader.GetValue(0)] = reader.GetDouble(1);
        return scores;
    }

    private static double Recall(Timing reference, Timing run) =>
        Enumerable.Range(0, reference.Results.Count).Average(q => reference.Results[q].Intersect(run.Results[q]).Count() / (double)reference.Results[q].Count);

    private static byte[] Blob(float[] data, int row, int dimensions) => VectorData.Blob(data, row, dimensions);

    private static string F(double milliseconds) => milliseconds.ToString("F3", CultureInfo.InvariantCulture);

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static List<object> Rows(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object>();
        while (reader.Read()) rows.Add(reader.GetValue(0));
        return rows;
    }
}
