using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace SqlRec.Tests;

/// <summary>
/// Seeded, time-bounded fuzzing of every SQL function: random argument values and types, random
/// JSON options built from the option names SqlRec knows, random blobs. The invariants, for every
/// call: no crash (the test process survives), no .NET exception text in a message, every error
/// names a SqlRec function, an error changes nothing in the file; at the end
/// <c>PRAGMA integrity_check</c> is ok and the reference models rank exactly as before.
/// Each run prints its counts; a failure prints the seed and the call to replay.
/// </summary>
[TestClass]
public sealed class FuzzTests
{
    /// <summary>Calls per run, and the wall-clock budget that stops a run early on a slow machine.</summary>
    private const int Calls = 20_000;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(60);

    private static readonly string[] OptionNames =
    [
        "model", "source", "alpha", "batch", "batch_size", "candidates", "components", "device", "device_id", "dim", "dropout", "embedder",
        "epochs", "eval_every", "exclude", "half_life_days", "image_weight", "init", "item_layers", "knn", "knn_k", "l2", "layers", "live",
        "lowercase", "lr", "lr_decay", "max_length", "metric", "modalities", "negatives", "normalization", "normalize", "output",
        "oversampling", "patience", "pooling", "power_iterations", "provider", "reg_weight", "seed", "table", "threads", "tokenizer",
        "tune_features", "validation_ratio", "weighting", "word_ngrams", "split", "k", "test", "test_ratio", "save", "text", "kind", "space",
        "exclude_seen", "nope",
    ];

    private static readonly string[] Names = ["m1", "m2", "pop", "gf", "nope", "", "c1", "h", "x'y", "\u00e9\u00e8", "rec_models", new string('n', 300)];

    private static readonly string[] Texts =
    [
        "SELECT user_id, item_id FROM likes", "SELECT user_id, item_id, stars FROM likes", "SELECT user_id, item_id, stars, 1700000000 FROM likes",
        "SELECT item_id FROM likes", "SELECT id, title FROM items", "SELECT id, rec_embed('h', title) FROM items", "SELECT 1", "SELECT NULL, NULL",
        "DROP TABLE likes", "SELECT user_id, item_id FROM likes; DELETE FROM likes", "SELECT user_id, item_id FROM likes WHERE rec_drop('ref_pop') > 0",
        "popular", "graph_filter", "lightgcn", "freedom", "hash", "onnx", "cpu", "cuda", "auto", "random", "last", "dot", "cosine", "l2",
        "/etc/passwd", "/nonexistent/model.onnx", "", " ", "'", "\"", "NaN", "-1", "1e400", "\u0000", "space story",
        "{", "[1,2", "{\"model\":\"popular\"}", new string('x', 5000),
    ];

    [TestMethod]
    public void EveryFunctionSurvivesRandomArguments()
    {
        var seed = Environment.GetEnvironmentVariable("SQLREC_FUZZ_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : 20261206;
        var random = new Random(seed);
        using var db = TestDb.InFile();
        db.Execute(RecommendTests.Likes);
        db.Execute("CREATE TABLE vectors(id INTEGER PRIMARY KEY, v BLOB)");
        for (var i = 0; i < 8; i++) db.Execute("INSERT INTO vectors VALUES ($1, $2)", i + 1, FloatBlob(random, 4, finite: true));
        // The reference models: names the fuzzer never produces, ranked before and after.
        db.Scalar("SELECT rec_train('ref_pop', json_object('model','popular','source','SELECT user_id, item_id FROM likes'))");
        db.Scalar("SELECT rec_train('ref_gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',2))");
        db.Scalar("SELECT rec_register_embedder('h', json_object('kind','hash'))");
        // Models and a collection the fuzzer may read, retrain and drop.
        db.Scalar("SELECT rec_train('pop', json_object('model','popular','source','SELECT user_id, item_id FROM likes'))");
        db.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',2))");
        db.Scalar("SELECT rec_train('m1', json_object('model','lightgcn','source','SELECT user_id, item_id FROM likes','epochs',2,'dim',8))");
        db.Scalar("SELECT rec_publish('c1', json_object('source','SELECT id, v FROM vectors'))");
        string Rankings() => string.Join("|", new[] { "ref_pop", "ref_gf" }.SelectMany(m => new long[] { 1, 2, 3, 5, 99 }
            .Select(u => (string)db.Scalar("SELECT recommend($1, 5, $2)", u, m)!)));
        var reference = Rankings();

        var functions = SqlRec.Sql.SqlFunctions.All;
        var clock = Stopwatch.StartNew();
        int calls = 0, succeeded = 0, clearErrors = 0;
        var failures = new List<string>();
        for (; calls < Calls && clock.Elapsed < Budget && failures.Count < 5; calls++)
        {
            var function = functions[random.Next(functions.Length)];
            var table = function.Table is not null && (function.Scalar is null || random.Next(2) == 0);
            var arity = table ? random.Next(function.Required, function.Parameters.Count + 1) : function.Arities.ElementAt(random.Next(function.Arities.Count()));
            var args = Enumerable.Range(0, arity).Select(_ => RandomValue(random)).ToArray();
            var placeholders = string.Join(", ", args.Select((_, i) => $"${i + 1}"));
            var sql = table ? $"SELECT * FROM {function.Name}({placeholders})" : $"SELECT {function.Name}({placeholders})";
            var before = Fingerprint(db.Connection);
            using var stop = new Timer(_ => SQLitePCL.raw.sqlite3_interrupt(db.Connection.Handle), null, TimeSpan.FromSeconds(3), Timeout.InfiniteTimeSpan);
            try
            {
                db.Rows(sql, args);
                succeeded++;
            }
            catch (SqliteException e)
            {
                var message = TestDb.SqliteMessage(e);
                var problem = Problem(message);
                if (problem is null && Fingerprint(db.Connection) != before) problem = "the failed call changed the file";
                if (problem is null) clearErrors++;
                else failures.Add($"seed {seed}, call {calls}: {sql} with ({string.Join(", ", args.Select(Describe))}): {problem}: {message}");
            }
            stop.Dispose();
        }
        Console.WriteLine($"fuzz seed {seed}: {calls} calls in {clock.Elapsed.TotalSeconds:F1} s; {succeeded} succeeded, {clearErrors} clear errors, " +
            $"{failures.Count} bad (crashes end the run)");
        Assert.IsEmpty(failures, string.Join("\n", failures));
        Assert.IsGreaterThan(100, calls, "the run made enough calls to mean something");
        Assert.AreEqual("ok", db.Scalar("PRAGMA integrity_check"));
        SqlRec.Operations.LoadedVersions.Clear();
        Assert.AreEqual(reference, Rankings(), "the reference models rank as before, loaded again from the file");
    }

    /// <summary>What is wrong with an error message, or null when it is a clear SqlRec or SQLite error.</summary>
    internal static string? Problem(string message)
    {
        foreach (var marker in new[] { "Exception", "System.", "internal error", "   at ", "Object reference", "Index was outside" })
            if (message.Contains(marker, StringComparison.Ordinal)) return $".NET text ('{marker}') in the message";
        if (!OwnFunctions.All.Any(f => message.StartsWith(f + "(): ", StringComparison.Ordinal)))
            return "the message does not name a SqlRec function";
        return null;
    }

    /// <summary>A digest of every row of every table of the main database.</summary>
    internal static string Fingerprint(SqliteConnection connection)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var tables = TestDb.Rows(connection, "SELECT name FROM main.sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .Select(r => (string)r[0]!).ToList();
        foreach (var table in tables)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(table));
            foreach (var row in TestDb.Rows(connection, $"SELECT * FROM main.\"{table.Replace("\"", "\"\"")}\" ORDER BY 1, 2"))
                foreach (var value in row) hash.AppendData(Encoding.UTF8.GetBytes(value switch { byte[] b => Convert.ToHexString(b), null => "NULL", _ => $"{value.GetType().Name}:{value}" }));
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private static object? RandomValue(Random random) => random.Next(11) switch
    {
        0 => null,
        10 => (long)random.Next(1, 6),
        1 => (long)random.Next(-2, 120),
        2 => new[] { long.MaxValue, long.MinValue, 0L, 10_001L, 1L << 40 }[random.Next(5)],
        3 => new[] { 0.5, -0.0, 1e308, -1e308, 3.0, 1e-320 }[random.Next(6)],
        4 => Names[random.Next(Names.Length)],
        5 => Texts[random.Next(Texts.Length)],
        6 or 7 => RandomOptions(random),
        8 => FloatBlob(random, random.Next(0, 9), finite: random.Next(3) != 0),
        _ => RandomBytes(random),
    };

    private static string RandomOptions(Random random)
    {
        var parts = new List<string>();
        var count = random.Next(0, 6);
        if (random.Next(2) == 0) parts.Add($"\"model\": \"{new[] { "popular", "graph_filter", "lightgcn", "freedom", "hash", "nope" }[random.Next(6)]}\"");
        if (random.Next(2) == 0) parts.Add($"\"source\": \"{new[] { "SELECT user_id, item_id FROM likes", "SELECT id, v FROM vectors", "SELECT 1, 2", "SELECT x" }[random.Next(4)]}\"");
        for (var i = 0; i < count; i++) parts.Add($"\"{OptionNames[random.Next(OptionNames.Length)]}\": {RandomJson(random, 2)}");
        return random.Next(20) == 0 ? "{" + string.Join(", ", parts) : "{" + string.Join(", ", parts) + "}";
    }

    private static string RandomJson(Random random, int depth) => random.Next(depth > 0 ? 10 : 8) switch
    {
        0 => "null",
        1 => random.Next(-3, 70).ToString(System.Globalization.CultureInfo.InvariantCulture),
        2 => new[] { "1e400", "-1e-400", "0.000001", "2147483648", "9223372036854775808", "1.5", "-0" }[random.Next(7)],
        3 => random.Next(2) == 0 ? "true" : "false",
        4 or 5 => System.Text.Json.JsonSerializer.Serialize(Texts[random.Next(Texts.Length)]),
        6 => "\"\"",
        7 => "[]",
        8 => "[" + string.Join(", ", Enumerable.Range(0, random.Next(4)).Select(_ => RandomJson(random, depth - 1))) + "]",
        _ => "{\"" + OptionNames[random.Next(OptionNames.Length)] + "\": " + RandomJson(random, depth - 1) + "}",
    };

    private static byte[] FloatBlob(Random random, int count, bool finite)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
            values[i] = finite || random.Next(3) > 0 ? (float)(random.NextDouble() * 2 - 1) * (random.Next(10) == 0 ? 3e38f : 1f) : new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity }[random.Next(3)];
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 40)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string Describe(object? value) => value switch
    {
        null => "NULL",
        byte[] b => $"x'{Convert.ToHexString(b)}'",
        string s => "'" + (s.Length > 60 ? s[..60] + "..." : s).Replace("'", "''") + "'",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!,
    };
}
