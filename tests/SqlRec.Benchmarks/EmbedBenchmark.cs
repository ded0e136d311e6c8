using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.ML.OnnxRuntime;
using SqlRec.Embeddings;
using SqlRec.Tests.Onnx;

namespace SqlRec.Benchmarks;

/// <summary>
/// Text embedding throughput and per-call overhead, CPU, warm (the session is loaded and has run
/// before timing), one process:
/// <list type="bullet">
/// <item>bulk: <c>INSERT INTO vec0 ... SELECT id, embedding FROM rec_embed_each(...)</c> over N generated
/// item texts (5 to 60 words), against the baseline of ONNX Runtime's <c>Run</c> alone on the same
/// pre-tokenised batches (same windows, same length-sorted batches of 32, tensors built before
/// the clock starts). The ratio is the share of the model's own speed the SQL pipeline keeps;
/// the tokenizer's share is tokenizing the same texts alone over the bulk time.</item>
/// <item>per row: <c>SELECT rec_embed(m, $text)</c> one call at a time, p50, against <c>Run</c> alone
/// on the same single pre-tokenised text; the difference is what SqlRec adds per call (argument
/// reading, registry lookup, tokenization, tensors, pooling, the BLOB, SQLite's own call).</item>
/// </list>
/// The model is generated (no pretrained weights can be downloaded here) with all-MiniLM-L6-v2's
/// shape - 6 layers, hidden 384, 12 heads, feed-forward 1536, vocabulary 30,522 - so its cost per
/// token is the real model's; the real vocab.txt is used when ../shared/data has it. A small
/// 2-layer, hidden-32 model shows the per-call overhead where the model itself is cheap.
/// Not measured: cold loads, GPUs (none here), concurrent callers.
/// </summary>
public static class EmbedBenchmark
{
    public static int Run(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        var folder = Directory.CreateTempSubdirectory("sqlrec-embed-bench-").FullName;
        try
        {
            var vocabulary = Vocabulary();
            Console.WriteLine($"{Environment.ProcessorCount} cores; vocabulary {vocabulary.Count} tokens; {count} texts");
            var big = new BertFixture(BertFixture.Config.MiniLm(vocabulary.Count)).Write(Path.Combine(folder, "minilm"), vocabulary);
            var small = new BertFixture(BertFixture.Config.Small(vocabulary.Count)).Write(Path.Combine(folder, "small"), vocabulary);
            using var connection = new SqliteConnection("Data Source=:memory:");
            connection.Open();
            connection.UseSqlRec();
            Execute(connection, $"SELECT rec_register_embedder('minilm', json_object('model', '{big}', 'batch_size', 32))");
            Execute(connection, $"SELECT rec_register_embedder('small', json_object('model', '{small}', 'batch_size', 32))");
            var texts = Texts(vocabulary, count);
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

            foreach (var model in new[] { "minilm", "small" })
            {
                var embedder = (OnnxEmbedder)EmbedderCache.Get("bench", SqlRec.Store.EmbedderStore.Find(new SqlRec.Sqlite.SqliteDb(connection.Handle!.DangerousGetHandle()), model)!, Environment.CurrentDirectory, EmbedderCache.DefaultRecheckInterval);
                Bulk(connection, model, embedder, texts);
                PerRow(connection, model, embedder, texts);
            }
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void Bulk(SqliteConnection connection, string model, OnnxEmbedder embedder, List<string> texts)
    {
        // Warm: every code path and ONNX Runtime's allocations have run once.
        Execute(connection, $"SELECT count(*) FROM rec_embed_each('{model}', 'SELECT id, body FROM docs WHERE id <= 64')");

        // The same batches, tokenized and turned into tensors before the clock starts.
        var clock = Stopwatch.StartNew();
        var tokens = texts.Select(embedder.Tokenizer.Encode).ToList();
        var tokenizeSeconds = clock.Elapsed.TotalSeconds;
        var batches = new List<OnnxEmbedder.PreparedBatch>();
        for (var start = 0; start < tokens.Count; start += embedder.WindowSize)
        {
            var window = tokens.GetRange(start, Math.Min(embedder.WindowSize, tokens.Count - start));
            foreach (var rows in OnnxEmbedder.Batches(window, embedder.BatchSize)) batches.Add(embedder.Prepare(window, rows));
        }
        var names = embedder.Session.InputMetadata.Keys.ToArray();
        using var runOptions = new RunOptions();

        // Three rounds, alternating, best of each: the machine is shared and noisy.
        double pipeline = double.MaxValue, intoVec0 = double.MaxValue, runOnly = double.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            clock.Restart();
            foreach (var batch in batches)
            {
                using var outputs = embedder.Session.Run(runOptions, names, batch.Values, ["last_hidden_state"]);
            }
            runOnly = Math.Min(runOnly, clock.Elapsed.TotalSeconds);

            clock.Restart();
            Execute(connection, $"SELECT count(*) FROM rec_embed_each('{model}', 'SELECT id, body FROM docs')");
            pipeline = Math.Min(pipeline, clock.Elapsed.TotalSeconds);

            Execute(connection, $"DROP TABLE IF EXISTS vecs; CREATE VIRTUAL TABLE vecs USING vec0(embedding float[{embedder.Dimension}])");
            clock.Restart();
            Execute(connection, $"INSERT INTO vecs(rowid, embedding) SELECT id, embedding FROM rec_embed_each('{model}', 'SELECT id, body FROM docs')");
            intoVec0 = Math.Min(intoVec0, clock.Elapsed.TotalSeconds);
        }
        foreach (var batch in batches) batch.Dispose();
        var tokensTotal = tokens.Sum(t => t.Length);
        Console.WriteLine($"{model}: {texts.Count} texts, {batches.Count} batches of {embedder.BatchSize}, {tokensTotal} tokens");
        Console.WriteLine($"  ONNX Runtime Run alone on the pre-tokenised batches: {texts.Count / runOnly:F0} texts/s ({runOnly:F3} s)");
        Console.WriteLine($"  SELECT count(*) FROM rec_embed_each(...):           {texts.Count / pipeline:F0} texts/s ({pipeline:F3} s) = {runOnly / pipeline:P1} of Run alone");
        Console.WriteLine($"  INSERT INTO vec0 ... FROM rec_embed_each(...):      {texts.Count / intoVec0:F0} texts/s ({intoVec0:F3} s) = {runOnly / intoVec0:P1} of Run alone");
        Console.WriteLine($"  tokenizer alone: {tokenizeSeconds * 1000:F1} ms = {tokenizeSeconds / pipeline:P1} of the rec_embed_each time");
    }

    private static void PerRow(SqliteConnection connection, string model, OnnxEmbedder embedder, List<string> texts)
    {
        const int calls = 400;
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT rec_embed($model, $text)";
        var name = command.Parameters.AddWithValue("$model", model);
        var text = command.Parameters.Add("$text", SqliteType.Text);
        command.Prepare();
        var sample = texts.Where((_, i) => i % 7 == 0).Take(40).ToList();
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
                embedder.Embed("bench", model, [sample[k]], output);
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
        Console.WriteLine($"  rec_embed per call p50 {sql:F1} us; Run alone p50 {run:F1} us: SqlRec adds {sql - run:F1} us per call " +
            $"(the embedder in C#, tokenizer and pooling included: {Median(directTimes) - run:F1} us; SELECT rec_embed('hash', text) in all: {Median(hashTimes):F1} us)");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private static List<string> Vocabulary()
    {
        var real = SharedData.PathOf("models", "all-MiniLM-L6-v2", "vocab.txt");
        if (File.Exists(real)) return [.. File.ReadAllLines(real).Where(l => l.Length > 0)];
        Console.WriteLine($"(real vocab.txt not found at {real}: using a generated vocabulary of the same size)");
        var tokens = BertFixture.SmallVocabulary();
        for (var i = tokens.Count; i < 30522; i++) tokens.Add($"tok{i}");
        return tokens;
    }

    private static List<string> Texts(List<string> vocabulary, int count)
    {
        var words = vocabulary.Where(w => w.Length > 2 && w.All(char.IsAsciiLetterLower)).ToArray();
        var random = new Random(11);
        var texts = new List<string>(count);
        for (var i = 0; i < count; i++)
            texts.Add(string.Join(' ', Enumerable.Range(0, 5 + random.Next(56)).Select(_ => words[random.Next(words.Length)])) + ".");
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
