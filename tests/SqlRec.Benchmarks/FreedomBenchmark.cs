using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SqlRec.Cli.Data;
using SqlRec.Cli.Output;
using SqlRec.Models;
using SqlRec.Vectors;

namespace SqlRec.Benchmarks;

/// <summary>
/// The FREEDOM quality comparison on MovieLens 100K (or ML-1M's <c>.dat</c> files), MMRec's protocol,
/// everything through SQL on one database: the CLI's importer loads the GroupLens files; ratings >= 4
/// are the positives; item text is title and genres through the built-in <c>hash</c> embedder, or
/// all-MiniLM-L6-v2 registered by name with <c>embedder=minilm</c> (<c>rec_embed</c>, stored once in
/// a table the modality query reads). For each seed, every user's positives are split 8:1:1 at
/// random: the test tenth goes to a table, the rest is the <c>source</c> of <c>popular</c>,
/// <c>lightgcn</c> and <c>freedom</c>, which hold out a ninth of it themselves
/// (<c>validation_ratio</c> 1/9, the same seeded split for both) for early stopping on validation
/// recall@20; then <c>rec_evaluate</c> ranks all items for every test user (full ranking, training
/// items excluded) and reports recall and ndcg @10 and @20.
/// <para>
/// Slices where content should help, per seed: the test positives of long-tail items (not among the
/// 20% most popular items by training pairs), those of users with at most 10 training items, and
/// the cold-start items below; each is <c>rec_evaluate</c> with a <c>test</c> query restricted to
/// the slice's pairs. The closing table is model x slice, mean and standard error over the seeds.
/// </para>
/// <para>
/// Cold start (every seed): 10% of the items with positives are held out entirely (all their pairs
/// leave the training data); FREEDOM knows them from their text alone. Their test pairs are ranked
/// (a) among the held-out items only, the usual cold-start protocol, where a random order scores
/// about 20 / |cold items|, and (b) among all items. Baselines: popularity and LightGCN cannot rank
/// items they never saw (0); a plain text kNN (a user's score for an item = the summed cosine
/// similarity to the user's training items) shows what the text alone gives.
/// </para>
/// <para>
/// Time per epoch is the models' own <c>seconds_per_epoch</c> (wall time of the training loop
/// divided by epochs, validation included); memory is the peak growth of the managed heap during
/// <c>rec_train</c>, sampled every 5 ms, over the heap before it (so it includes reading the source,
/// the model's arrays and the stored version). Not measured: GPU training (FREEDOM runs on the CPU
/// path only), cold processes (one process, JIT warm after the first training).
/// </para>
/// </summary>
public static class FreedomBenchmark
{
    private const string TextModality = "SELECT id, emb FROM movie_text";

    /// <summary>FREEDOM's modalities: the item text, and the second text when one is given.</summary>
    private static string Modalities = $"json_array(json_object('name', 'text', 'source', '{TextModality}'))";

    /// <summary>Runs the comparison; arguments: [ml-100k folder] [seeds=1,2,3] [freedom.option=value ...] [lightgcn.option=value ...].</summary>
    public static int Run(string[] args)
    {
        var folder = args.FirstOrDefault(a => !a.Contains('=')) ?? SharedData.PathOf("ml-100k");
        var isDat = File.Exists(Path.Combine(folder, "ratings.dat")) && File.Exists(Path.Combine(folder, "movies.dat"));
        if (!File.Exists(Path.Combine(folder, "u.data")) && !isDat)
        {
            Console.Error.WriteLine($"MovieLens files not found in '{folder}'; pass the folder holding u.data and u.item (ML-100K) or ratings.dat and movies.dat (ML-1M).");
            return 2;
        }
        var dataset = isDat ? "ML-1M" : "ML-100K";
        var seeds = Setting(args, "seeds", "1,2,3").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var freedomOptions = Overrides(args, "freedom.", DefaultFreedom);
        var lightGcnOptions = Overrides(args, "lightgcn.", DefaultLightGcn);
        var skipCold = Setting(args, "cold", "true") == "false";
        var only = Setting(args, "models", "popular,lightgcn,freedom").Split(',');

        var directory = Directory.CreateTempSubdirectory("sqlrec-freedom-");
        try
        {
            var dbPath = Path.Combine(directory.FullName, "movielens.db");
            var clock = Stopwatch.StartNew();
            if (!isDat) MovieLensImporter.Import(folder, dbPath, replace: false, new Quiet());
            using var connection = new SqliteConnection($"Data Source={dbPath}");
            connection.Open();
            connection.UseSqlRec();
            if (isDat) ImportDat(connection, folder);
            Execute(connection, "CREATE TABLE likes AS SELECT user_id, movie_id AS item_id FROM ratings WHERE rating >= 4");
            var text = Setting(args, "text", "title || ' ' || replace(coalesce(genres, ''), '|', ' ')");
            var embedder = Setting(args, "embedder", "hash");
            if (embedder == "minilm")
            {
                // The real sentence model as a named model: SqlRec.Models.MiniLM puts it beside the binaries.
                Scalar(connection, "SELECT rec_register_embedder('minilm', json_object('model', 'all-MiniLM-L6-v2'))");
            }
            else if (embedder != "hash")
            {
                Console.Error.WriteLine($"embedder must be 'hash' or 'minilm', not '{embedder}'.");
                return 2;
            }
            Execute(connection, $"CREATE TABLE movie_text AS SELECT id, rec_embed('{embedder}', {text}) AS emb FROM movies");
            // An optional second text modality (its own kNN graph, mixed with the first by 'second_weight').
            var second = Setting(args, "text2", "");
            if (second.Length > 0)
            {
                Execute(connection, $"CREATE TABLE movie_text2 AS SELECT id, rec_embed('{embedder}', {second}) AS emb FROM movies");
                Modalities = $"json_array(json_object('name', 'text', 'source', '{TextModality}', 'weight', {1 - double.Parse(Setting(args, "second_weight", "0.5"), CultureInfo.InvariantCulture)}), "
                    + $"json_object('name', 'text2', 'source', 'SELECT id, emb FROM movie_text2', 'weight', {Setting(args, "second_weight", "0.5")}))";
                Console.WriteLine($"second item text: {second}");
            }
            Console.WriteLine($"item text: {text} (embedder '{embedder}')");
            Console.WriteLine($"imported {dataset} and embedded {Scalar(connection, "SELECT count(*) FROM movie_text")} titles in {clock.Elapsed.TotalSeconds:F1} s; "
                + $"{Scalar(connection, "SELECT count(*) FROM likes")} positives (ratings >= 4); {Environment.ProcessorCount} cores");
            Console.WriteLine($"lightgcn options: {lightGcnOptions}");
            Console.WriteLine($"freedom options:  {freedomOptions}, 'modalities', {Modalities}");
            Console.WriteLine();

            var likes = ReadInteractions(connection, "SELECT user_id, item_id FROM likes");
            var results = new List<(int Seed, string Model, Dictionary<string, double> Metrics, double Epoch, long Bytes, int Epochs)>();
            var slices = new List<SliceResult>();
            foreach (var seed in seeds)
            {
                WriteSplit(connection, likes, seed);
                WriteSlices(connection, seed);
                foreach (var (model, options) in Models(seed, lightGcnOptions, freedomOptions).Where(m => only.Contains(m.Model)))
                {
                    var (train, peak) = TrainMeasured(connection, model, options);
                    var report = JsonDocument.Parse((string)Scalar(connection,
                        $"SELECT rec_evaluate('{model}', json_object('test', 'SELECT user_id, item_id FROM test', 'k', json_array(10, 20)))")!).RootElement;
                    var metrics = report.GetProperty("metrics").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
                    var trainMetrics = JsonDocument.Parse((string)Scalar(connection, $"SELECT metrics FROM rec_models WHERE name = '{model}'")!).RootElement;
                    var perEpoch = trainMetrics.TryGetProperty("seconds_per_epoch", out var e) ? e.GetDouble() : 0;
                    var epochs = trainMetrics.TryGetProperty("epochs", out var n) ? n.GetInt32() : 0;
                    results.Add((seed, model, metrics, perEpoch, peak, epochs));
                    slices.Add(new(seed, model, "all test positives", metrics["recall@20"], metrics["ndcg@20"]));
                    foreach (var (slice, table) in SliceTables)
                    {
                        var (recall, ndcg) = Evaluate(connection, model, $"SELECT user_id, item_id FROM {table}");
                        slices.Add(new(seed, model, slice, recall, ndcg));
                    }
                    // How much of the top 20 goes to the long tail at all: the popularity bias behind the long-tail slice.
                    var tailShare = Convert.ToDouble(Scalar(connection, "SELECT avg(h.item_id IS NULL) FROM (SELECT DISTINCT user_id FROM test) t "
                        + $"JOIN recommend(t.user_id, 20, '{model}') r LEFT JOIN head_items h ON h.item_id = r.item_id"), CultureInfo.InvariantCulture);
                    slices.Add(new(seed, model, TailShare, tailShare, double.NaN));
                    Console.WriteLine($"seed {seed} {model,-8} recall@10 {metrics["recall@10"]:F4} ndcg@10 {metrics["ndcg@10"]:F4} recall@20 {metrics["recall@20"]:F4} ndcg@20 {metrics["ndcg@20"]:F4}"
                        + $"  (train {train:F1} s{(epochs > 0 ? $", {epochs} epochs, best {trainMetrics.GetProperty("best_epoch")} with validation recall@20 {trainMetrics.GetProperty("validation_recall@20")}, {perEpoch:F3} s/epoch" : "")}, peak heap +{peak / 1048576.0:F0} MiB)"
                        + "; slices recall@20: " + string.Join(", ", slices.Where(r => r.Seed == seed && r.Model == model && r.Slice != "all test positives").Select(r => $"{r.Slice} {r.Recall:F4}")));
                }
            }
            Console.WriteLine();
            Console.WriteLine($"{dataset}, ratings >= 4, random 8:1:1 per user, seeds {string.Join(", ", seeds)}, full ranking (mean over seeds):");
            Console.WriteLine();
            Console.WriteLine("| model | recall@10 | ndcg@10 | recall@20 | ndcg@20 | epochs | s / epoch | peak heap MiB |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|");
            foreach (var model in new[] { "popular", "lightgcn", "freedom" })
            {
                var rows = results.Where(r => r.Model == model).ToList();
                if (rows.Count == 0) continue;
                double Mean(string metric) => rows.Average(r => r.Metrics[metric]);
                Console.WriteLine($"| {model} | {Mean("recall@10"):F4} | {Mean("ndcg@10"):F4} | {Mean("recall@20"):F4} | {Mean("ndcg@20"):F4} | "
                    + (model == "popular" ? "- | - | " : $"{rows.Average(r => r.Epochs):F0} | {rows.Average(r => r.Epoch):F3} | ")
                    + $"{rows.Average(r => r.Bytes) / 1048576.0:F0} |");
            }
            foreach (var seed in only.Contains("lightgcn") && only.Contains("freedom") ? seeds : [])
            {
                var row = results.Where(r => r.Seed == seed).ToDictionary(r => r.Model, r => r.Metrics);
                Console.WriteLine($"seed {seed}: freedom - lightgcn recall@20 {Signed(row["freedom"]["recall@20"] - row["lightgcn"]["recall@20"])}, "
                    + $"ndcg@20 {Signed(row["freedom"]["ndcg@20"] - row["lightgcn"]["ndcg@20"])}");
            }
            if (!skipCold)
                foreach (var seed in seeds) slices.AddRange(ColdStart(connection, likes, seed, lightGcnOptions, freedomOptions, only));
            PrintSlices(dataset, seeds, slices);
            return 0;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try { directory.Delete(recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// LightGCN on ML-100K: the paper's dim 64 and 3 layers, batch 2048, SqlRec's spectral start; lr
    /// chosen on validation recall (see the README); the same patience as FREEDOM.
    /// </summary>
    private const string DefaultLightGcn = "'dim', 64, 'layers', 3, 'batch', 2048, 'lr', 0.005, 'epochs', 1000, 'eval_every', 5, 'patience', 8";

    /// <summary>
    /// FREEDOM on ML-100K: MMRec's settings (dim 64, 2 + 1 layers, knn_k 10, dropout 0.8, reg_weight
    /// 0.001, lr 0.001, batch 2048). Both models stop after 8 evaluations of 5 epochs without
    /// improvement (MMRec: 20 epochs): at lr 0.001 validation recall moves slowly and noisily.
    /// </summary>
    private const string DefaultFreedom = "'dim', 64, 'batch', 2048, 'lr', 0.001, 'epochs', 1000, 'eval_every', 5, 'patience', 8";

    private static IEnumerable<(string Model, string Options)> Models(int seed, string lightGcn, string freedom)
    {
        var common = $"'source', 'SELECT user_id, item_id FROM train', 'seed', {seed}";
        yield return ("popular", $"json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM train')");
        yield return ("lightgcn", $"json_object('model', 'lightgcn', {common}, 'validation_ratio', 1.0 / 9, {lightGcn})");
        yield return ("freedom", $"json_object('model', 'freedom', {common}, 'validation_ratio', 1.0 / 9, {freedom}, "
            + $"'modalities', {Modalities})");
    }

    /// <summary>Trains through SQL while sampling the managed heap; returns seconds and the peak heap growth in bytes.</summary>
    private static (double Seconds, long PeakBytes) TrainMeasured(SqliteConnection connection, string model, string options)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var baseline = GC.GetTotalMemory(false);
        long peak = baseline;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var now = GC.GetTotalMemory(false);
                if (now > Interlocked.Read(ref peak)) Interlocked.Exchange(ref peak, now);
                Thread.Sleep(5);
            }
        });
        var clock = Stopwatch.StartNew();
        Scalar(connection, $"SELECT rec_train('{model}', {options})");
        var seconds = clock.Elapsed.TotalSeconds;
        stop.Cancel();
        sampler.Wait();
        return (seconds, Math.Max(0, Interlocked.Read(ref peak) - baseline));
    }

    /// <summary>Writes the seed's split: <c>test</c> (a tenth of each user's positives) and <c>train</c> (the rest).</summary>
    private static void WriteSplit(SqliteConnection connection, Interactions likes, int seed)
    {
        var split = Splits.Split(likes, SplitMethod.Random, 0.1, seed);
        Execute(connection, "DROP TABLE IF EXISTS train; DROP TABLE IF EXISTS test; CREATE TABLE train(user_id INTEGER, item_id INTEGER); CREATE TABLE test(user_id INTEGER, item_id INTEGER)");
        using var transaction = connection.BeginTransaction();
        var train = Pairs(split.Train).ToHashSet();
        Insert(connection, "train", train);
        // Everything not in training is test: the held-out pairs, including those of items no training pair names.
        Insert(connection, "test", Pairs(likes).Where(p => !train.Contains(p)));
        transaction.Commit();
    }

    private static IEnumerable<(long User, long Item)> Pairs(Interactions data)
    {
        for (var u = 0; u < data.Users.Count; u++)
            for (var p = data.UserOffsets[u]; p < data.UserOffsets[u + 1]; p++) yield return (data.Users.Ids[u].Integer, data.Items.Ids[data.UserItems[p]].Integer);
    }

    private static void Insert(SqliteConnection connection, string table, IEnumerable<(long, long)> pairs)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"INSERT INTO {table} VALUES ($u, $i)";
        var u = command.Parameters.Add("$u", SqliteType.Integer);
        var i = command.Parameters.Add("$i", SqliteType.Integer);
        command.Prepare();
        foreach (var (user, item) in pairs)
        {
            u.Value = user;
            i.Value = item;
            command.ExecuteNonQuery();
        }
    }

    private static Interactions ReadInteractions(SqliteConnection connection, string sql)
    {
        var users = new List<ExternalId>();
        var items = new List<ExternalId>();
        var userCodes = new Dictionary<long, int>();
        var itemCodes = new Dictionary<long, int>();
        var rowUsers = new List<int>();
        var rowItems = new List<int>();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rowUsers.Add(Code(reader.GetInt64(0), userCodes, users));
            rowItems.Add(Code(reader.GetInt64(1), itemCodes, items));
        }
        return Interactions.Build(users, items, [.. rowUsers], [.. rowItems], [.. Enumerable.Repeat(1f, rowUsers.Count)], null);

        static int Code(long id, Dictionary<long, int> codes, List<ExternalId> ids)
        {
            if (codes.TryGetValue(id, out var code)) return code;
            codes[id] = ids.Count;
            ids.Add(ExternalId.Of(id));
            return ids.Count - 1;
        }
    }

    // ---- cold start ----------------------------------------------------------------------------

    private static List<SliceResult> ColdStart(SqliteConnection connection, Interactions likes, int seed, string lightGcn, string freedom, string[] only)
    {
        // 10% of the items with positives, drawn with the seed, leave the training data entirely.
        var random = new SplitMix64((ulong)seed * 7919);
        var itemIds = likes.Items.Ids.Select(i => i.Integer).ToArray();
        for (var i = itemIds.Length - 1; i > 0; i--)
        {
            var j = random.NextInt(i + 1);
            (itemIds[i], itemIds[j]) = (itemIds[j], itemIds[i]);
        }
        var cold = itemIds[..(itemIds.Length / 10)].ToHashSet();
        var all = Pairs(likes).ToList();
        Execute(connection, "DROP TABLE IF EXISTS train; DROP TABLE IF EXISTS test; DROP TABLE IF EXISTS cold; CREATE TABLE train(user_id INTEGER, item_id INTEGER); "
            + "CREATE TABLE test(user_id INTEGER, item_id INTEGER); CREATE TABLE cold(item_id INTEGER PRIMARY KEY)");
        using (var transaction = connection.BeginTransaction())
        {
            Insert(connection, "train", all.Where(p => !cold.Contains(p.Item)));
            var trainUsers = all.Where(p => !cold.Contains(p.Item)).Select(p => p.User).ToHashSet();
            Insert(connection, "test", all.Where(p => cold.Contains(p.Item) && trainUsers.Contains(p.User)));
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO cold VALUES ($i)";
            var parameter = command.Parameters.Add("$i", SqliteType.Integer);
            foreach (var item in cold)
            {
                parameter.Value = item;
                command.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        var testPairs = (long)Scalar(connection, "SELECT count(*) FROM test")!;
        var testUsers = (long)Scalar(connection, "SELECT count(DISTINCT user_id) FROM test")!;
        Console.WriteLine();
        Console.WriteLine($"Cold start, seed {seed}: {cold.Count} of {likes.Items.Count} items held out entirely ({testPairs} positives of {testUsers} users); "
            + "the models train on the rest (early stopping on a ninth of it)");
        var truth = TestByUser(connection);
        var coldItems = cold.Order().ToArray();
        var results = new List<SliceResult>();
        foreach (var (model, options) in Models(seed, lightGcn, freedom).Where(m => only.Contains(m.Model)))
        {
            var (train, _) = TrainMeasured(connection, model + "_cold", options);
            var (recall, ndcg) = Evaluate(connection, model + "_cold", "SELECT user_id, item_id FROM test");
            var (coldRecall, coldNdcg) = AmongCold(connection, model + "_cold", truth);
            results.Add(new(seed, model, ColdAmongAll, recall, ndcg));
            results.Add(new(seed, model, ColdAmongCold, coldRecall, coldNdcg));
            Console.WriteLine($"seed {seed} {model}_cold: among all items recall@20 {recall:F4} ndcg@20 {ndcg:F4}; among the held-out items recall@20 {coldRecall:F4} ndcg@20 {coldNdcg:F4} (train {train:F1} s)");
        }
        var (knnRecall, knnNdcg) = TextKnn(connection, truth, coldItems);
        results.Add(new(seed, "text kNN", ColdAmongCold, knnRecall, knnNdcg));
        // A random order: each of the first min(20, |cold|) places holds one of the user's |T| held-out positives with probability |T| / |cold|.
        double randomRecall = 0, randomNdcg = 0;
        foreach (var items in truth.Values)
        {
            var p = (double)items.Count / coldItems.Length;
            var places = Math.Min(20, coldItems.Length);
            randomRecall += places * p / items.Count;
            randomNdcg += Enumerable.Range(0, places).Sum(r => p / Math.Log2(r + 2)) / Ideal(items.Count);
        }
        results.Add(new(seed, "random order (expected)", ColdAmongCold, randomRecall / truth.Count, randomNdcg / truth.Count));
        if (only.Contains("freedom"))
            Console.WriteLine($"content_items in freedom's model: {Scalar(connection, "SELECT json_extract(metrics, '$.content_items') FROM rec_models WHERE name = 'freedom_cold'")}; "
                + $"rows labelled 'content' in recommend(u, 20) over the test users: {Scalar(connection, "SELECT count(*) FROM (SELECT DISTINCT user_id FROM test) t JOIN recommend(t.user_id, 20, 'freedom_cold') r WHERE r.source = 'content'")}");
        return results;
    }

    private const string TailShare = "share of the test users' top-20 slots on long-tail items (not a recall)";
    private const string ColdAmongAll = "cold items, ranked among all items";
    private const string ColdAmongCold = "cold items, ranked among the held-out items";

    /// <summary>The warm slices: name and the table of the seed's test pairs in it (written by <see cref="WriteSlices"/>).</summary>
    private static readonly (string Slice, string Table)[] SliceTables =
    [
        ("long-tail items (80% least popular)", "test_tail"),
        ("users with <= 10 training items", "test_few"),
    ];

    /// <summary>
    /// The seed's slices of <c>test</c>: pairs whose item is not among the 20% most popular items with
    /// positives (popularity = training pairs, ties by id, items no training pair names count 0), and
    /// pairs of users with at most 10 training pairs (the <c>train</c> table, before the models'
    /// own validation ninth).
    /// </summary>
    private static void WriteSlices(SqliteConnection connection, int seed)
    {
        Execute(connection, """
            DROP TABLE IF EXISTS head_items; DROP TABLE IF EXISTS test_tail; DROP TABLE IF EXISTS test_few;
            CREATE TABLE head_items AS
              WITH pop AS (SELECT item_id, count(*) AS n FROM train GROUP BY item_id)
              SELECT l.item_id FROM (SELECT DISTINCT item_id FROM likes) l LEFT JOIN pop p ON p.item_id = l.item_id
              ORDER BY coalesce(p.n, 0) DESC, l.item_id
              LIMIT (SELECT (count(DISTINCT item_id) + 4) / 5 FROM likes);
            CREATE TABLE test_tail AS SELECT user_id, item_id FROM test WHERE item_id NOT IN (SELECT item_id FROM head_items);
            CREATE TABLE test_few AS SELECT user_id, item_id FROM test
              WHERE user_id IN (SELECT user_id FROM train GROUP BY user_id HAVING count(*) <= 10);
            """);
        Console.WriteLine($"seed {seed} slices: long tail {Scalar(connection, "SELECT count(*) FROM test_tail")} of {Scalar(connection, "SELECT count(*) FROM test")} test positives "
            + $"({Scalar(connection, "SELECT count(DISTINCT user_id) FROM test_tail")} users; head = {Scalar(connection, "SELECT count(*) FROM head_items")} items); "
            + $"users with <= 10 training items: {Scalar(connection, "SELECT count(DISTINCT user_id) FROM test_few")} users, {Scalar(connection, "SELECT count(*) FROM test_few")} test positives");
    }

    /// <summary>recall@20 and ndcg@20 of a model (full ranking, training items excluded) on the test pairs a query returns.</summary>
    private static (double Recall, double Ndcg) Evaluate(SqliteConnection connection, string model, string test)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT rec_evaluate('{model}', json_object('test', $test, 'k', 20))";
        command.Parameters.AddWithValue("$test", test);
        var metrics = JsonDocument.Parse((string)command.ExecuteScalar()!).RootElement.GetProperty("metrics");
        return (metrics.GetProperty("recall@20").GetDouble(), metrics.GetProperty("ndcg@20").GetDouble());
    }

    private sealed record SliceResult(int Seed, string Model, string Slice, double Recall, double Ndcg);

    /// <summary>The model x slice table: recall@20 and ndcg@20, mean +- standard error over the seeds.</summary>
    private static void PrintSlices(string dataset, int[] seeds, List<SliceResult> results)
    {
        Console.WriteLine();
        Console.WriteLine($"{dataset}, slices, seeds {string.Join(", ", seeds)} (mean +- standard error over seeds):");
        Console.WriteLine();
        Console.WriteLine("| slice | model | recall@20 | ndcg@20 |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var slice in results.Select(r => r.Slice).Distinct())
            foreach (var model in results.Where(r => r.Slice == slice).Select(r => r.Model).Distinct())
            {
                var rows = results.Where(r => r.Slice == slice && r.Model == model).ToList();
                Console.WriteLine($"| {slice} | {model} | {MeanSe(rows.Select(r => r.Recall).ToList())} | {MeanSe(rows.Select(r => r.Ndcg).ToList())} |");
            }
        foreach (var slice in results.Select(r => r.Slice).Distinct())
        {
            var pairs = seeds.Select(seed => (F: results.FirstOrDefault(r => r.Seed == seed && r.Slice == slice && r.Model == "freedom"),
                L: results.FirstOrDefault(r => r.Seed == seed && r.Slice == slice && r.Model == "lightgcn"))).Where(p => p.F is not null && p.L is not null).ToList();
            if (pairs.Count == 0) continue;
            Console.WriteLine($"freedom - lightgcn, {slice}: recall@20 {MeanSe(pairs.Select(p => p.F!.Recall - p.L!.Recall).ToList(), signed: true)}, "
                + $"ndcg@20 {MeanSe(pairs.Select(p => p.F!.Ndcg - p.L!.Ndcg).ToList(), signed: true)} (paired over seeds)");
        }
    }

    private static string MeanSe(List<double> values, bool signed = false)
    {
        if (values.Any(double.IsNaN)) return "-";
        var mean = values.Average();
        var text = signed ? Signed(mean) : mean.ToString("F4", CultureInfo.InvariantCulture);
        if (values.Count < 2) return text;
        var sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return $"{text} ± {sd / Math.Sqrt(values.Count):F4}";
    }

    private static double Ideal(int relevant) => Enumerable.Range(0, Math.Min(20, relevant)).Sum(r => 1 / Math.Log2(r + 2));

    /// <summary>ML-1M's movies.dat (MovieID::Title::Genres, Latin-1) and ratings.dat into the tables the ML-100K importer makes.</summary>
    private static void ImportDat(SqliteConnection connection, string folder)
    {
        Execute(connection, "CREATE TABLE movies(id INTEGER PRIMARY KEY, title TEXT, genres TEXT); CREATE TABLE ratings(user_id INTEGER, movie_id INTEGER, rating INTEGER, timestamp INTEGER)");
        using var transaction = connection.BeginTransaction();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "INSERT INTO movies VALUES ($id, $title, $genres)";
            var id = command.Parameters.Add("$id", SqliteType.Integer);
            var title = command.Parameters.Add("$title", SqliteType.Text);
            var genres = command.Parameters.Add("$genres", SqliteType.Text);
            foreach (var f in File.ReadLines(Path.Combine(folder, "movies.dat"), System.Text.Encoding.Latin1).Select(l => l.Split("::")).Where(f => f.Length >= 3))
            {
                id.Value = long.Parse(f[0], CultureInfo.InvariantCulture);
                title.Value = f[1];
                genres.Value = f[2];
                command.ExecuteNonQuery();
            }
        }
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "INSERT INTO ratings VALUES ($u, $i, $r, $t)";
            var u = command.Parameters.Add("$u", SqliteType.Integer);
            var i = command.Parameters.Add("$i", SqliteType.Integer);
            var r = command.Parameters.Add("$r", SqliteType.Integer);
            var t = command.Parameters.Add("$t", SqliteType.Integer);
            foreach (var f in File.ReadLines(Path.Combine(folder, "ratings.dat")).Select(l => l.Split("::")).Where(f => f.Length >= 4))
            {
                u.Value = long.Parse(f[0], CultureInfo.InvariantCulture);
                i.Value = long.Parse(f[1], CultureInfo.InvariantCulture);
                r.Value = long.Parse(f[2], CultureInfo.InvariantCulture);
                t.Value = long.Parse(f[3], CultureInfo.InvariantCulture);
                command.ExecuteNonQuery();
            }
        }
        transaction.Commit();
    }

    private static Dictionary<long, HashSet<long>> TestByUser(SqliteConnection connection)
    {
        var truth = new Dictionary<long, HashSet<long>>();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT user_id, item_id FROM test";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            if (!truth.TryGetValue(reader.GetInt64(0), out var set)) truth[reader.GetInt64(0)] = set = [];
            set.Add(reader.GetInt64(1));
        }
        return truth;
    }

    /// <summary>recall@20 and ndcg@20 of each test user's cold items when the model's ranking is cut to the cold items (recommend() through SQL).</summary>
    private static (double Recall, double Ndcg) AmongCold(SqliteConnection connection, string model, Dictionary<long, HashSet<long>> truth)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT r.item_id FROM recommend($user, 10000, '{model}') r JOIN cold c ON c.item_id = r.item_id ORDER BY r.rank LIMIT 20";
        var user = command.Parameters.Add("$user", SqliteType.Integer);
        command.Prepare();
        double recall = 0, ndcg = 0;
        foreach (var (id, items) in truth)
        {
            user.Value = id;
            using var reader = command.ExecuteReader();
            var hits = 0;
            double dcg = 0;
            for (var rank = 0; reader.Read(); rank++)
                if (items.Contains(reader.GetInt64(0)))
                {
                    hits++;
                    dcg += 1 / Math.Log2(rank + 2);
                }
            recall += (double)hits / items.Count;
            ndcg += dcg / Ideal(items.Count);
        }
        return (recall / truth.Count, ndcg / truth.Count);
    }

    /// <summary>recall@20 among the cold items of a plain content ranking: summed cosine to the user's training items.</summary>
    private static (double Recall, double Ndcg) TextKnn(SqliteConnection connection, Dictionary<long, HashSet<long>> truth, long[] coldItems)
    {
        var vectors = new Dictionary<long, float[]>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id, emb FROM movie_text";
            using var reader = command.ExecuteReader();
            while (reader.Read()) vectors[reader.GetInt64(0)] = VectorBlob.ToFloats("benchmark", "emb", (byte[])reader.GetValue(1));
        }
        var byUser = new Dictionary<long, List<long>>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT user_id, item_id FROM train";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                if (!byUser.TryGetValue(reader.GetInt64(0), out var list)) byUser[reader.GetInt64(0)] = list = [];
                list.Add(reader.GetInt64(1));
            }
        }
        double total = 0, ndcg = 0;
        foreach (var (user, items) in truth)
        {
            var profile = new float[vectors.First().Value.Length];
            foreach (var item in byUser[user]) System.Numerics.Tensors.TensorPrimitives.Add(profile, vectors[item], profile);
            var top = coldItems.OrderByDescending(c => System.Numerics.Tensors.TensorPrimitives.Dot(profile, vectors[c])).ThenBy(c => c).Take(20).ToList();
            total += (double)top.Count(items.Contains) / items.Count;
            ndcg += top.Select((c, rank) => items.Contains(c) ? 1 / Math.Log2(rank + 2) : 0).Sum() / Ideal(items.Count);
        }
        return (total / truth.Count, ndcg / truth.Count);
    }

    // ---- helpers -------------------------------------------------------------------------------

    /// <summary>A difference with its sign; rounded first, since a custom format prints a tiny negative as "-+0.0000".</summary>
    private static string Signed(double difference) =>
        (Math.Round(difference, 4) + 0.0).ToString("+0.0000;-0.0000;0.0000", CultureInfo.InvariantCulture);

    private static string Setting(string[] args, string name, string fallback) =>
        args.FirstOrDefault(a => a.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..] ?? fallback;

    /// <summary>The default options text with <c>prefix.name=value</c> arguments replacing or adding options.</summary>
    private static string Overrides(string[] args, string prefix, string defaults)
    {
        var options = new List<(string Name, string Value)>();
        var parts = defaults.Split(", ");
        for (var p = 0; p + 1 < parts.Length; p += 2) options.Add((parts[p].Trim('\''), parts[p + 1]));
        foreach (var arg in args.Where(a => a.StartsWith(prefix, StringComparison.Ordinal) && a.Contains('=')))
        {
            var name = arg[prefix.Length..arg.IndexOf('=')];
            var value = arg[(arg.IndexOf('=') + 1)..];
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _) && value is not ("true" or "false")) value = $"'{value}'";
            if (value is "true" or "false") value = $"json('{value}')";
            options.RemoveAll(o => o.Name == name);
            options.Add((name, value));
        }
        return string.Join(", ", options.Select(o => $"'{o.Name}', {o.Value}"));
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private sealed class Quiet : IStageProgress
    {
        public void Report(string stage, long done, long? total, string? detail = null)
        {
        }
    }
}
