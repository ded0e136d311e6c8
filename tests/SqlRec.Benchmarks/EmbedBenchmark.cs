using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.ML.OnnxRuntime;
using SqlRec.Embeddings;

namespace SqlRec.Benchmarks;

/// <summary>
/// Text embedding speed with the real all-MiniLM-L6-v2 (the named model the SqlRec.Models.MiniLM
/// project puts beside the binaries), CPU, warm (each session loaded and run before timing), one
/// process, one call at a time:
/// <list type="bullet">
/// <item>bulk, for each thread count x batch size: <c>SELECT count(*) FROM rec_embed_each(...)</c>
/// over N real texts, against ONNX Runtime's <c>InferenceSession.Run</c> alone on the same batches
/// (same windows, same length-sorted batches, the same token ids, tensors built before the clock
/// starts). The ratio is the share of the model's own speed the SQL pipeline keeps; the tokenizer's
/// share is tokenizing the same texts alone over the bulk time. Configurations alternate inside
/// each round and the best round of each is kept: the machine is shared and noisy.</item>
/// <item>for the default settings, <c>INSERT INTO vec0 ... FROM rec_embed_each(...)</c>, and per row:
/// <c>SELECT rec_embed('minilm', $text)</c> p50 against <c>Run</c> alone on the same single
/// pre-tokenised text; the difference is what SqlRec adds per call (argument reading, registry
/// lookup, tokenization, tensors, pooling, the BLOB, SQLite's own call).</item>
/// </list>
/// Texts: MovieLens 100K titles + genres (u.item, about 10-20 tokens) and, for a length mix, one
/// text in three a concatenation of 4 to 10 of them (about 60-180 tokens), shuffled with a fixed seed.
/// Not measured: cold loads, GPUs, concurrent callers, the inter-op pool (BERT's graph is sequential).
/// </summary>
public static class EmbedBenchmark
{
    private sealed record Setting(string Name, int Threads, int BatchSize)
    {
        public string Label => (Threads == 0 ? "0 (one per core)" : Threads.ToString(CultureInfo.InvariantCulture));
    }

    private sealed class Result
    {
        public double RunOnly = double.MaxValue, Pipeline = double.MaxValue, Tokenize = double.MaxValue;
        public int Batches;
    }

    public static int Run(string[] args)
    {
        var count = 300;
        int[] threadCounts = [1, 2];
        int[] batchSizes = [16, 32, 64];
        var rounds = 3;
        var dataFolder = SharedData.PathOf("ml-100k");
        foreach (var arg in args)
        {
            if (arg.StartsWith("threads=", StringComparison.Ordinal)) threadCounts = [.. arg[8..].Split(',').Select(int.Parse)];
            else if (arg.StartsWith("batches=", StringComparison.Ordinal)) batchSizes = [.. arg[8..].Split(',').Select(int.Parse)];
            else if (arg.StartsWith("rounds=", StringComparison.Ordinal)) rounds = int.Parse(arg[7..], CultureInfo.InvariantCulture);
            else if (int.TryParse(arg, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)) count = n;
            else dataFolder = arg;
        }
        var itemFile = Path.Combine(dataFolder, "u.item");
        if (!File.Exists(itemFile))
        {
            Console.Error.WriteLine($"MovieLens u.item not found in '{dataFolder}'; pass the ml-100k folder.");
            return 2;
        }
        var texts = Texts(itemFile, count);

        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        connection.UseSqlRec();
        // The settings a user gets without options first, then the grid.
        var settings = new List<Setting> { new("minilm", 0, 0) };
        foreach (var t in threadCounts)
            foreach (var b in batchSizes) settings.Add(new($"minilm_t{t}_b{b}", t, b));
        foreach (var s in settings)
        {
            var options = "'model', 'all-MiniLM-L6-v2'" + (s.Threads > 0 ? $", 'threads', {s.Threads}" : "") + (s.BatchSize > 0 ? $", 'batch_size', {s.BatchSize}" : "");
            try { Execute(connection, $"SELECT rec_register_embedder('{s.Name}', json_object({options}))"); }
            catch (SqliteException e)
            {
                Console.Error.WriteLine($"all-MiniLM-L6-v2 is not installed beside the benchmark: {e.Message}");
                return 2;
            }
        }
        Execute(connection, "CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
        using (var transaction = connection.BeginTransaction())
        {
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO docs VALUES ($id, $body)";
            var id = insert.Parameters.Add("$id", SqliteType.Integer);
            var body = insert.Parameters.Add("$body", SqliteType.Text);
            for (var i = 0; i < texts.Count; i++)
            {
                id.Value = i + 1;
                body.Value = texts[i];
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
        }

        var db = new SqlRec.Sqlite.SqliteDb(connection.Handle!.DangerousGetHandle());
        var embedders = settings.ToDictionary(s => s.Name, s => (OnnxEmbedder)EmbedderCache.Get("bench", SqlRec.Store.EmbedderStore.Find(db, s.Name)!, Environment.CurrentDirectory, EmbedderCache.DefaultRecheckInterval));
        var standard = embedders["minilm"];
        var tokenCounts = texts.Select(t => standard.Tokenizer.Encode(t).Length).ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Environment.ProcessorCount} cores; all-MiniLM-L6-v2 from {standard.ModelPath}; {texts.Count} texts ({texts.Count(t => !t.Contains(" / ", StringComparison.Ordinal))} titles + genres, the rest 4-10 of them joined), " +
            $"{tokenCounts.Sum()} tokens, {tokenCounts.Average():F1} per text (min {tokenCounts.Min()}, max {tokenCounts.Max()}); defaults: threads {((OnnxDefinition)standard.Definition).Threads} (one per core), batch_size {standard.BatchSize}; {rounds} rounds, best of each"));

        var results = settings.ToDictionary(s => s.Name, _ => new Result());
        var prepared = new Dictionary<string, List<OnnxEmbedder.PreparedBatch>>();
        foreach (var s in settings)
        {
            var embedder = embedders[s.Name];
            // Warm: every code path and ONNX Runtime's allocations have run once.
            Execute(connection, $"SELECT count(*) FROM rec_embed_each('{s.Name}', 'SELECT id, body FROM docs WHERE id <= 64')");
            var tokens = texts.Select(embedder.Tokenizer.Encode).ToList();
            var batches = new List<OnnxEmbedder.PreparedBatch>();
            for (var start = 0; start < tokens.Count; start += embedder.WindowSize)
            {
                var window = tokens.GetRange(start, Math.Min(embedder.WindowSize, tokens.Count - start));
                foreach (var rows in OnnxEmbedder.Batches(window, embedder.BatchSize)) batches.Add(embedder.Prepare(window, rows));
            }
            prepared[s.Name] = batches;
            results[s.Name].Batches = batches.Count;
        }

        using var runOptions = new RunOptions();
        var clock = new Stopwatch();
        for (var round = 0; round < rounds; round++)
        {
            foreach (var s in settings)
            {
                var embedder = embedders[s.Name];
                var result = results[s.Name];
                var names = embedder.Session.InputMetadata.Keys.ToArray();
                clock.Restart();
                foreach (var batch in prepared[s.Name])
                {
                    using var outputs = embedder.Session.Run(runOptions, names, batch.Values, ["last_hidden_state"]);
                }
                result.RunOnly = Math.Min(result.RunOnly, clock.Elapsed.TotalSeconds);

                clock.Restart();
                Execute(connection, $"SELECT count(*) FROM rec_embed_each('{s.Name}', 'SELECT id, body FROM docs')");
                result.Pipeline = Math.Min(result.Pipeline, clock.Elapsed.TotalSeconds);

                clock.Restart();
                foreach (var text in texts) embedder.Tokenizer.Encode(text);
                result.Tokenize = Math.Min(result.Tokenize, clock.Elapsed.TotalSeconds);
            }
            Console.Error.WriteLine($"round {round + 1} of {rounds} done");
        }
        foreach (var batches in prepared.Values)
            foreach (var batch in batches) batch.Dispose();

        Console.WriteLine();
        Console.WriteLine("| intra-op threads | batch_size | `Run` alone texts/s | `rec_embed_each` texts/s | `rec_embed_each` / `Run` alone | SqlRec adds per text | tokenizer share of `rec_embed_each` |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var s in settings)
        {
            var r = results[s.Name];
            var batch = embedders[s.Name].BatchSize;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {s.Label} | {batch}{(s.BatchSize == 0 ? " (default)" : "")} | {texts.Count / r.RunOnly:F1} | {texts.Count / r.Pipeline:F1} | {r.RunOnly / r.Pipeline:P1} | {(r.Pipeline - r.RunOnly) / texts.Count * 1e6:F0} us | {r.Tokenize / r.Pipeline:P2} ({r.Tokenize / texts.Count * 1e6:F0} us per text) |"));
        }
        var best = settings.MaxBy(s => texts.Count / results[s.Name].Pipeline)!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fastest rec_embed_each: threads {best.Label}, batch_size {embedders[best.Name].BatchSize}, {texts.Count / results[best.Name].Pipeline:F1} texts/s = {results["minilm"].Pipeline / results[best.Name].Pipeline:F2}x the defaults"));

        IntoVec0(connection, standard, texts, results["minilm"].Pipeline);
        PerRow(connection, standard, texts);
        return 0;
    }

    private static void IntoVec0(SqliteConnection connection, OnnxEmbedder embedder, List<string> texts, double pipeline)
    {
        var best = double.MaxValue;
        for (var round = 0; round < 2; round++)
        {
            Execute(connection, $"DROP TABLE IF EXISTS vecs; CREATE VIRTUAL TABLE vecs USING vec0(embedding float[{embedder.Dimension}])");
            var clock = Stopwatch.StartNew();
            Execute(connection, "INSERT INTO vecs(rowid, embedding) SELECT id, embedding FROM rec_embed_each('minilm', 'SELECT id, body FROM docs')");
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"defaults: INSERT INTO vec0 ... FROM rec_embed_each(...): {texts.Count / best:F1} texts/s ({best:F3} s; count(*) alone {pipeline:F3} s)"));
    }

    private static void PerRow(SqliteConnection connection, OnnxEmbedder embedder, List<string> texts)
    {
        const int calls = 200;
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT rec_embed($model, $text)";
        var name = command.Parameters.AddWithValue("$model", "minilm");
        var text = command.Parameters.Add("$text", SqliteType.Text);
        command.Prepare();
        // Titles + genres only: the per-row call is how a single new item or a search query is embedded.
        var sample = texts.Where(t => !t.Contains(" / ", StringComparison.Ordinal)).Take(40).ToList();
        var names = embedder.Session.InputMetadata.Keys.ToArray();
        using var runOptions = new RunOptions();
        var prepared = sample.Select(t => embedder.Prepare([embedder.Tokenizer.Encode(t)], [0])).ToList();
        var sqlTimes = new List<double>();
        var runTimes = new List<double>();
        var directTimes = new List<double>();
        var output = new float[embedder.Dimension];
        for (var round = 0; round < 2; round++)
        {
            sqlTimes.Clear();
            runTimes.Clear();
            directTimes.Clear();
            for (var i = 0; i < calls; i++)
            {
                var k = i % sample.Count;
                text.Value = sample[k];
                var start = Stopwatch.GetTimestamp();
                command.ExecuteScalar();
                sqlTimes.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                start = Stopwatch.GetTimestamp();
                using (embedder.Session.Run(runOptions, names, prepared[k].Values, ["last_hidden_state"])) { }
                runTimes.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                start = Stopwatch.GetTimestamp();
                embedder.Embed("bench", "minilm", [sample[k]], output);
                directTimes.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            }
        }
        foreach (var p in prepared) p.Dispose();
        // The SQL call's own cost, without a model: the built-in hash embedder on the same texts.
        name.Value = "hash";
        var hashTimes = new List<double>();
        for (var i = 0; i < calls; i++)
        {
            text.Value = sample[i % sample.Count];
            var start = Stopwatch.GetTimestamp();
            command.ExecuteScalar();
            hashTimes.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
        var sql = Median(sqlTimes);
        var run = Median(runTimes);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"defaults, per row (titles + genres, {calls} calls, p50): SELECT rec_embed('minilm', $text) {sql:F0} us; Run alone on the same tokens {run:F0} us; " +
            $"SqlRec adds {sql - run:F0} us per call ({(sql - run) / sql:P1}; the embedder in C#, tokenizer and pooling included: {Median(directTimes) - run:F0} us; " +
            $"SELECT rec_embed('hash', $text) in all: {Median(hashTimes):F1} us); rec_embed one by one {1e6 / sql:F1} texts/s"));
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    /// <summary>
    /// <paramref name="count"/> texts: two in three a MovieLens title with its genres, one in three
    /// 4 to 10 of them joined with " / " (a longer description), in a seeded random order.
    /// </summary>
    private static List<string> Texts(string itemFile, int count)
    {
        string[] genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
            "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"];
        var items = File.ReadLines(itemFile, System.Text.Encoding.Latin1).Select(line => line.Split('|')).Where(f => f.Length >= 24)
            .Select(f => f[1] + " " + string.Join(' ', genres.Where((_, g) => f[5 + g] == "1"))).ToArray();
        var random = new Random(16);
        var texts = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            texts.Add(i % 3 == 2
                ? string.Join(" / ", Enumerable.Range(0, 4 + random.Next(7)).Select(_ => items[random.Next(items.Length)]))
                : items[random.Next(items.Length)]);
        }
        return texts;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        while (reader.Read()) { }
    }
}
