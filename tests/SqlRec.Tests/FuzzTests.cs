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
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(50);

    /// <summary>The wall-clock budget of the run over damaged stored rows; the two runs together stay within about 75 s.</summary>
    private static readonly TimeSpan DamageBudget = TimeSpan.FromSeconds(25);

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

    /// <summary>The store's tables the damage run corrupts, with the columns that key a row.</summary>
    private static readonly (string Table, string[] Key, string Owner)[] StoreTables =
    [
        ("rec_arrays", ["model", "version", "name", "part"], "model"),
        ("rec_id_map", ["model", "version", "space", "idx"], "model"),
        ("rec_model_versions", ["model", "version"], "model"),
        ("rec_models", ["name"], "name"),
        ("rec_collection_items", ["collection", "idx"], "collection"),
        ("rec_collections", ["name"], "name"),
    ];

    /// <summary>
    /// Seeded, time-bounded corruption of stored rows: each round copies the trained file afresh, changes
    /// one to three random cells of the store's tables (a flipped byte, a cut or lengthened blob, another
    /// number or type, a deleted row) of the models and the collection the calls use, then calls every
    /// function - the model-taking ones on those names, the rest with random values. The invariants are
    /// the first run's: no .NET text in any message, an error changes nothing, integrity_check ok, and the
    /// reference models (never corrupted) rank exactly as before.
    /// </summary>
    [TestMethod]
    public void EveryFunctionSurvivesDamagedStoredRows()
    {
        var seed = Environment.GetEnvironmentVariable("SQLREC_FUZZ_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : 20261206;
        var random = new Random(seed);
        using var pristine = TestDb.InFile();
        pristine.Execute(RecommendTests.Likes);
        pristine.Execute("CREATE TABLE vectors(id INTEGER PRIMARY KEY, v BLOB)");
        for (var i = 0; i < 8; i++) pristine.Execute("INSERT INTO vectors VALUES ($1, $2)", i + 1, FloatBlob(random, 4, finite: true));
        pristine.Scalar("SELECT rec_train('ref_pop', json_object('model','popular','source','SELECT user_id, item_id FROM likes'))");
        pristine.Scalar("SELECT rec_train('ref_gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',2))");
        pristine.Scalar("SELECT rec_register_embedder('h', json_object('kind','hash'))");
        pristine.Scalar("SELECT rec_train('pop', json_object('model','popular','source','SELECT user_id, item_id FROM likes'))");
        pristine.Scalar("SELECT rec_train('gf', json_object('model','graph_filter','source','SELECT user_id, item_id FROM likes','components',2))");
        pristine.Scalar("SELECT rec_train('m1', json_object('model','lightgcn','source','SELECT user_id, item_id FROM likes','epochs',2,'dim',8))");
        pristine.Scalar("SELECT rec_publish('c1', json_object('source','SELECT id, v FROM vectors'))");
        using var db = TestDb.InFile();
        string Rankings() => string.Join("|", new[] { "ref_pop", "ref_gf" }.SelectMany(m => new long[] { 1, 2, 3, 5, 99 }
            .Select(u => (string)db.Scalar("SELECT recommend($1, 5, $2)", u, m)!)));
        pristine.Connection.BackupDatabase(db.Connection);
        var reference = Rankings();

        string[] targets = ["pop", "gf", "m1", "c1"];
        var functions = SqlRec.Sql.SqlFunctions.All;
        var clock = Stopwatch.StartNew();
        int rounds = 0, corruptions = 0, refused = 0, calls = 0, succeeded = 0, clearErrors = 0;
        var failures = new List<string>();
        while (clock.Elapsed < DamageBudget && failures.Count < 5)
        {
            rounds++;
            pristine.Connection.BackupDatabase(db.Connection);
            SqlRec.Operations.LoadedVersions.Clear();
            var changes = new List<string>();
            for (var c = random.Next(1, 4); c > 0; c--)
            {
                try
                {
                    changes.Add(Corrupt(db, random, targets));
                    corruptions++;
                }
                catch (SqliteException) { refused++; }
            }
            for (var n = 0; n < 8; n++)
            {
                var (sql, args) = random.Next(3) > 0 ? ModelCall(random, targets[random.Next(targets.Length)]) : RandomCall(random, functions);
                calls++;
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
                    else failures.Add($"seed {seed}, round {rounds} ({string.Join("; ", changes)}): {sql} with ({string.Join(", ", args.Select(Describe))}): {problem}: {message}");
                }
            }
            if (db.Scalar("PRAGMA integrity_check") as string != "ok") failures.Add($"seed {seed}, round {rounds} ({string.Join("; ", changes)}): integrity_check failed");
            SqlRec.Operations.LoadedVersions.Clear();
            if (Rankings() != reference) failures.Add($"seed {seed}, round {rounds} ({string.Join("; ", changes)}): the reference models rank differently");
        }
        Console.WriteLine($"damage fuzz seed {seed}: {rounds} rounds in {clock.Elapsed.TotalSeconds:F1} s, {corruptions} corruptions ({refused} more refused by the schema), " +
            $"{calls} calls: {succeeded} succeeded, {clearErrors} clear errors, {failures.Count} bad (crashes end the run)");
        Assert.IsEmpty(failures, string.Join("\n", failures));
        Assert.IsGreaterThan(20, rounds, "the run made enough rounds to mean something");
    }

    /// <summary>Changes one random cell (or deletes one row) of the store's rows of the target models and collection; returns what it did.</summary>
    private static string Corrupt(TestDb db, Random random, string[] targets)
    {
        var (table, key, owner) = StoreTables[random.Next(StoreTables.Length)];
        var inTargets = $"{owner} IN ({string.Join(", ", targets.Select(t => $"'{t}'"))})";
        var rows = db.Rows($"SELECT {string.Join(", ", key)} FROM main.{table} WHERE {inTargets} ORDER BY {string.Join(", ", key)}");
        if (rows.Count == 0) return $"{table}: no rows";
        var row = rows[random.Next(rows.Count)];
        var where = string.Join(" AND ", key.Select((k, i) => $"{k} = ${i + 1}"));
        if (random.Next(12) == 0)
        {
            db.Execute($"DELETE FROM main.{table} WHERE {where}", row);
            return $"{table} row ({string.Join(", ", row.Select(Describe))}) deleted";
        }
        var columns = db.Rows($"SELECT name FROM pragma_table_info('{table}', 'main')").Select(r => (string)r[0]!).ToArray();
        var column = columns[random.Next(columns.Length)];
        var value = db.Scalar($"SELECT {column} FROM main.{table} WHERE {where}", row);
        object? changed = (value, random.Next(6)) switch
        {
            (byte[] b, 0) when b.Length > 0 => FlipByte(b, random),
            (byte[] b, 1) => b[..random.Next(b.Length + 1)],
            (byte[] b, 2) => b.Concat(RandomBytes(random)).ToArray(),
            (long l, 0 or 1) => l + random.Next(-2, 3),
            (long, 2) => new[] { -1L, 0L, 1L << 31, long.MaxValue, 99L }[random.Next(5)],
            (string t, 0 or 1) => t.Length > 0 ? t[..random.Next(t.Length)] : "x",
            (string, 2) => new[] { "{", "", "user", "item", "f32", "i32", "popular", "lightgcn", "graph_filter", "ready", "training" }[random.Next(11)],
            (_, 3) => null,
            (_, 4) => 1.5,
            _ => RandomValue(random),
        };
        db.Execute($"UPDATE main.{table} SET {column} = ${key.Length + 1} WHERE {where}", [.. row, changed]);
        return $"{table}.{column} of ({string.Join(", ", row.Select(Describe))}) set to {Describe(changed)}";
    }

    private static byte[] FlipByte(byte[] data, Random random)
    {
        var copy = (byte[])data.Clone();
        copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
        return copy;
    }

    /// <summary>A well-formed call of a function that takes a model or collection, on <paramref name="target"/>.</summary>
    private static (string Sql, object?[] Args) ModelCall(Random random, string target) => random.Next(10) switch
    {
        0 => ("SELECT recommend($1, 5, $2)", [(long)random.Next(1, 6), target]),
        1 => ("SELECT * FROM recommend($1, 3, $2, '{\"exclude_seen\": false}')", [(long)random.Next(1, 6), target]),
        2 => ("SELECT * FROM similar_items($1, 3, $2)", [new object[] { 10L, 11L, 1L, "x" }[random.Next(4)], target]),
        3 => ("SELECT * FROM similar_users($1, 3, $2)", [(long)random.Next(1, 6), target]),
        4 => ("SELECT * FROM rec_search($1, $2, 3)", [target, FloatBlob(random, new[] { 2, 4, 8 }[random.Next(3)], finite: true)]),
        5 => ("SELECT rec_publish($1)", [target]),
        6 => ("SELECT rec_evaluate($1, '{\"test\": \"SELECT user_id, item_id FROM likes\"}')", [target]),
        7 => ("SELECT rec_evaluate($1, '{\"k\": 3}')", [target]),
        8 => ("SELECT rec_drop($1)", [target]),
        _ => ("SELECT rec_train($1, '{\"model\": \"popular\", \"source\": \"SELECT user_id, item_id FROM likes\"}')", [target]),
    };

    /// <summary>A call of any function with random values, as the first run makes them.</summary>
    private static (string Sql, object?[] Args) RandomCall(Random random, SqlRec.Sql.SqlFunction[] functions)
    {
        var function = functions[random.Next(functions.Length)];
        var table = function.Table is not null && (function.Scalar is null || random.Next(2) == 0);
        var arity = table ? random.Next(function.Required, function.Parameters.Count + 1) : function.Arities.ElementAt(random.Next(function.Arities.Count()));
        var args = Enumerable.Range(0, arity).Select(_ => RandomValue(random)).ToArray();
        var placeholders = string.Join(", ", args.Select((_, i) => $"${i + 1}"));
        return (table ? $"SELECT * FROM {function.Name}({placeholders})" : $"SELECT {function.Name}({placeholders})", args);
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
