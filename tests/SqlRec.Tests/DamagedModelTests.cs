using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SqlRec.Operations;

namespace SqlRec.Tests;

/// <summary>
/// Issue 18, class 3: damaged model rows. A version of every kind (and a collection) is trained in a
/// file; each case of a table of corruptions (truncated, odd-length and empty blobs, a flipped byte,
/// NaN and infinity, out-of-range indices in every index array, a wrong dtype, missing and extra
/// parts, id maps with a repeated, swapped, missing, out-of-range or REAL id, impossible counts,
/// options that no longer fit, a dangling or deleted version) is applied to a fresh copy of the
/// file, and every SQL function that takes the model is called. Every call must give exactly the
/// damaged-model message, with no .NET text, leave the file as it was (integrity_check ok), and an
/// intact model in the same file must rank exactly as before. The table runs twice: with the
/// checksums, and with every checksum set to NULL (a store written before checksums), where the
/// shape and bounds checks alone must catch every structural case; a changed value that keeps the
/// shape (a flipped byte, an index moved within range) may then go unnoticed, and is counted apart.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class DamagedModelTests
{
    private const string Held = "SELECT user_id, item_id FROM held";

    /// <summary>The models, by name: one per kind, and a weighted graph filter (its weights array).</summary>
    private static readonly (string Name, string Options, int Dim)[] Models =
    [
        ("popular", "'model', 'popular', 'source', 'SELECT user_id, item_id FROM likes'", 0),
        ("graph_filter", "'model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes', 'components', 4", 4),
        ("gf_weighted", "'model', 'graph_filter', 'source', 'SELECT user_id, item_id, stars FROM likes', 'components', 4, 'weighting', 'weight', 'live', false", 4),
        ("lightgcn", "'model', 'lightgcn', 'source', 'SELECT user_id, item_id FROM likes', 'dim', 8, 'epochs', 3", 8),
        ("freedom", "'model', 'freedom', 'source', 'SELECT user_id, item_id FROM likes', 'dim', 8, 'epochs', 3, " +
            "'modalities', json_array(json_object('name', 'text', 'source', 'SELECT id, rec_embed(''hash'', title) FROM items'))", 8),
        // The row order stands in for time: sasrec needs a 4th column.
        ("sasrec", "'model', 'sasrec', 'source', 'SELECT user_id, item_id, stars, rowid FROM likes', 'dim', 8, 'epochs', 3, 'max_len', 5", 8),
    ];

    private const string Collection = "c";
    private const string Intact = "intact";

    private sealed record Case(string Target, string Name, bool Structural, Action<TestDb, bool> Apply);

    private sealed record Call(string Function, string Sql);

    private sealed class Tally
    {
        public int Cases, NotApplicable, Calls, ClearErrors, Crashes, WrongResults, Unnoticed, DataLost, StructuralMissed;
        public readonly List<string> Problems = [];
        public readonly Dictionary<string, string> Messages = [];
        public readonly SortedSet<string> ValueOnlyWrong = [];

        public override string ToString() =>
            $"{Cases} cases ({NotApplicable} refused by the schema), {Calls} calls: {ClearErrors} clear errors, {Crashes} crashes, " +
            $"{WrongResults} wrong results, {Unnoticed} unnoticed with the intact result, {DataLost} data lost, {StructuralMissed} structural cases missed";
    }

    // ---- the data ---------------------------------------------------------------------------------

    /// <summary>40 users in 4 taste clusters over items 100-139 with titles and stars; 'held' holds one more item per user for rec_evaluate.</summary>
    private static TestDb Trained()
    {
        var db = TestDb.InFile();
        db.Execute("CREATE TABLE items(id INTEGER PRIMARY KEY, title TEXT); CREATE TABLE likes(user_id INTEGER, item_id INTEGER, stars REAL); CREATE TABLE held(user_id INTEGER, item_id INTEGER)");
        db.Execute("CREATE TABLE vectors(id INTEGER PRIMARY KEY, v BLOB)");
        var random = new Random(18);
        using (var transaction = db.Connection.BeginTransaction())
        {
            string[] words = ["space", "castle", "detective", "garden"];
            for (var i = 100; i < 140; i++) db.Execute("INSERT INTO items VALUES ($1, $2)", i, $"{words[(i - 100) / 10]} story {i}");
            for (var u = 1; u <= 40; u++)
            {
                var cluster = u % 4;
                for (var i = 0; i < 10; i++)
                {
                    if (random.NextDouble() < 0.5 || i == u % 10) db.Execute("INSERT INTO likes VALUES ($1, $2, $3)", u, 100 + cluster * 10 + i, 1 + random.Next(5));
                    else if (random.NextDouble() < 0.2) db.Execute("INSERT INTO held VALUES ($1, $2)", u, 100 + cluster * 10 + i);
                }
            }
            for (var i = 1; i <= 12; i++) db.Execute("INSERT INTO vectors VALUES ($1, $2)", i, Floats(random, 4));
            transaction.Commit();
        }
        foreach (var (name, options, _) in Models) db.Scalar($"SELECT rec_train('{name}', json_object({options}))");
        db.Scalar($"SELECT rec_train('{Intact}', json_object('model', 'graph_filter', 'source', 'SELECT user_id, item_id FROM likes', 'components', 3))");
        db.Scalar($"SELECT rec_publish('{Collection}', json_object('source', 'SELECT id, v FROM vectors'))");
        return db;
    }

    private static byte[] Floats(Random random, int count)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
    }

    private static string Query(int dim) => "vec_f32('[" + string.Join(", ", Enumerable.Range(0, Math.Max(dim, 1)).Select(i => (0.5 - i * 0.1).ToString(CultureInfo.InvariantCulture))) + "]')";

    /// <summary>Every call that takes the model (or collection): each loads it.</summary>
    private static List<Call> Calls(string target, int dim) => target == Collection
        ?
        [
            new("similar_items", $"SELECT item_id, score FROM similar_items(2, 3, '{target}')"),
            new("rec_search", $"SELECT item_id, score FROM rec_search('{target}', {Query(4)}, 3)"),
            new("rec_publish", $"SELECT rec_publish('{target}')"),
        ]
        :
        [
            new("recommend", $"SELECT recommend(1, 5, '{target}')"),
            new("recommend", $"SELECT rank, item_id, score, source FROM recommend(2, 5, '{target}')"),
            new("similar_items", $"SELECT item_id, score FROM similar_items(101, 3, '{target}')"),
            new("similar_users", $"SELECT user_id, score FROM similar_users(1, 3, '{target}')"),
            new("rec_search", $"SELECT item_id, score FROM rec_search('{target}', {Query(dim)}, 3)"),
            new("rec_publish", $"SELECT rec_publish('{target}')"),
            new("rec_evaluate", $"SELECT json_extract(rec_evaluate('{target}', json_object('test', '{Held}')), '$.metrics')"),
        ];

    /// <summary>What a call gives: its rows, with the published vec0 tables for rec_publish; or its error message.</summary>
    private static (bool Ok, string Text) Run(TestDb db, Call call)
    {
        try
        {
            var rows = db.Rows(call.Sql);
            var text = string.Join("\n", rows.Select(r => string.Join(",", r.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)))));
            if (call.Function == "rec_publish")
            {
                foreach (var table in db.Rows("SELECT vec_table FROM rec_publications ORDER BY 1").Select(r => (string)r[0]!))
                    text += $"\n{table}:" + string.Join(";", db.Rows($"SELECT * FROM \"{table}\" ORDER BY 1").Select(r => string.Join(",", r.Select(v => v is byte[] b ? Convert.ToHexString(b) : Convert.ToString(v, CultureInfo.InvariantCulture)))));
                // The JSON names the published version's uid and time: only the tables are compared.
                text = text[(text.IndexOf('\n', StringComparison.Ordinal) + 1)..];
            }
            return (true, text);
        }
        catch (SqliteException e)
        {
            return (false, TestDb.SqliteMessage(e));
        }
    }

    private static string IntactRanking(TestDb db) =>
        string.Join("|", new long[] { 1, 2, 3, 7, 999 }.Select(u => (string)db.Scalar("SELECT recommend($1, 5, $2)", u, Intact)!));

    // ---- the corruptions --------------------------------------------------------------------------

    private static void EditBlob(TestDb db, string sql, object?[] key, Func<byte[], byte[]> edit, string update)
    {
        var data = (byte[])db.Scalar(sql, key)!;
        db.Execute(update, [.. key, edit(data)]);
    }

    private static byte[] SetInt(byte[] data, int element, int value)
    {
        var copy = (byte[])data.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(copy.AsSpan(element * 4), value);
        return copy;
    }

    private static byte[] SetFloat(byte[] data, int element, float value)
    {
        var copy = (byte[])data.Clone();
        BinaryPrimitives.WriteSingleLittleEndian(copy.AsSpan(element * 4), value);
        return copy;
    }

    private static byte[] Flip(byte[] data)
    {
        var copy = (byte[])data.Clone();
        copy[(copy.Length / 8) * 4 + 1] ^= 0x10;
        return copy;
    }

    private static List<Case> Cases(TestDb pristine)
    {
        var cases = new List<Case>();
        foreach (var (model, _, dim) in Models)
        {
            const string keyed = "model = $1 AND version = 1";
            foreach (var row in pristine.Rows($"SELECT name, dtype, length(data) FROM rec_arrays WHERE {keyed} AND part = 0 ORDER BY name", model))
            {
                var (name, dtype, length) = ((string)row[0]!, (string)row[1]!, (int)(long)row[2]!);
                var middle = length / 8;
                object?[] key = [model, name];
                const string select = "SELECT data FROM rec_arrays WHERE model = $1 AND version = 1 AND name = $2 AND part = 0";
                const string update = "UPDATE rec_arrays SET data = $3 WHERE model = $1 AND version = 1 AND name = $2 AND part = 0";
                void Blob(string what, bool structural, Func<byte[], byte[]> edit) =>
                    cases.Add(new(model, $"{name}: {what}", structural, (db, _) => EditBlob(db, select, key, edit, update)));
                Blob("odd length", true, d => [.. d, 0]);
                if (length == 0)
                {
                    // An empty array (a model with no content-only items) has no element to change.
                    Blob("one element", true, _ => new byte[4]);
                }
                else
                {
                    // gf_parameters cut to two elements is the form written before 'normalization' existed: for a
                    // symmetric filter the same model, read as such, so not damage the shape can show.
                    Blob("truncated", name != "gf_parameters", d => d[..^4]);
                    Blob("empty", true, _ => []);
                    Blob("a flipped byte", false, Flip);
                }
                if (length == 0) { }
                else if (dtype == "f32")
                {
                    Blob("NaN", true, d => SetFloat(d, middle, float.NaN));
                    Blob("+Infinity", true, d => SetFloat(d, middle, float.PositiveInfinity));
                }
                else
                {
                    Blob("an index past the end", true, d => SetInt(d, middle, 1_000_000));
                    Blob("a negative index", true, d => SetInt(d, middle, -1));
                    Blob("an index moved by one", false, d => SetInt(d, middle, BinaryPrimitives.ReadInt32LittleEndian(d.AsSpan(middle * 4)) - 1));
                }
                cases.Add(new(model, $"{name}: wrong dtype", true, (db, _) =>
                    db.Execute("UPDATE rec_arrays SET dtype = CASE dtype WHEN 'f32' THEN 'i32' ELSE 'f32' END WHERE model = $1 AND version = 1 AND name = $2", model, name)));
                cases.Add(new(model, $"{name}: missing part", true, (db, _) =>
                    db.Execute("DELETE FROM rec_arrays WHERE model = $1 AND version = 1 AND name = $2 AND part = 0", model, name)));
                // An extra part with a correct checksum of its own: only the shape check can refuse it.
                cases.Add(new(model, $"{name}: extra part", true, (db, checksums) =>
                    db.Execute("INSERT INTO rec_arrays(model, version, name, part, dtype, data, checksum) VALUES ($1, 1, $2, 1, $3, zeroblob(4), $4)",
                        model, name, dtype, checksums ? Checksum.Stored(new byte[4], 1) : null)));
            }
            var lastItem = (long)pristine.Scalar($"SELECT items - 1 FROM rec_model_versions WHERE {keyed}", model)!;
            void Sql(string what, bool structural, string sql) => cases.Add(new(model, what, structural, (db, _) => db.Execute(sql, model, lastItem)));
            Sql("id map: an id repeated", true, $"UPDATE rec_id_map SET id = (SELECT id FROM rec_id_map WHERE {keyed} AND space = 'item' AND idx = 0) WHERE {keyed} AND space = 'item' AND idx = 1");
            Sql("id map: two ids swapped", true, $"UPDATE rec_id_map SET id = CASE idx WHEN 0 THEN (SELECT id FROM rec_id_map WHERE {keyed} AND space = 'item' AND idx = 1) ELSE (SELECT id FROM rec_id_map WHERE {keyed} AND space = 'item' AND idx = 0) END WHERE {keyed} AND space = 'item' AND idx IN (0, 1)");
            Sql("id map: a row missing", true, $"DELETE FROM rec_id_map WHERE {keyed} AND space = 'item' AND idx = $2");
            Sql("id map: an index out of range", true, $"UPDATE rec_id_map SET idx = $2 + 5 WHERE {keyed} AND space = 'item' AND idx = $2");
            Sql("id map: a REAL id", true, $"UPDATE rec_id_map SET id = 1.5 WHERE {keyed} AND space = 'item' AND idx = 0");
            Sql("id map: an id renamed in order", false, $"UPDATE rec_id_map SET id = id + 1000 WHERE {keyed} AND space = 'item' AND idx = $2");
            Sql("version: users + 1", true, $"UPDATE rec_model_versions SET users = users + 1 WHERE {keyed}");
            Sql("version: items - 1", true, $"UPDATE rec_model_versions SET items = items - 1 WHERE {keyed}");
            Sql("version: negative users", true, $"UPDATE rec_model_versions SET users = -3 WHERE {keyed}");
            Sql("version: options not JSON", true, $"UPDATE rec_model_versions SET options = '{{' WHERE {keyed}");
            Sql("version: another kind", true, $"UPDATE rec_model_versions SET kind = CASE kind WHEN 'popular' THEN 'lightgcn' ELSE 'popular' END WHERE {keyed}");
            if (dim > 0) Sql("version: options with another dim", true, $"UPDATE rec_model_versions SET options = json_set(options, CASE kind WHEN 'graph_filter' THEN '$.components' ELSE '$.dim' END, {dim / 2}) WHERE {keyed}");
            Sql("dangling current_version", true, "UPDATE rec_models SET current_version = 99 WHERE name = $1");
            Sql("version row deleted", true, $"DELETE FROM rec_model_versions WHERE {keyed}");
        }
        const string vector = "SELECT vector FROM rec_collection_items WHERE collection = $1 AND idx = $2";
        const string setVector = "UPDATE rec_collection_items SET vector = $3 WHERE collection = $1 AND idx = $2";
        void Row(string what, bool structural, Func<byte[], byte[]> edit) =>
            cases.Add(new(Collection, $"vector: {what}", structural, (db, _) => EditBlob(db, vector, [Collection, 3], edit, setVector)));
        Row("truncated", true, d => d[..^4]);
        Row("odd length", true, d => [.. d, 0]);
        Row("empty", true, _ => []);
        Row("a flipped byte", false, Flip);
        Row("NaN", true, d => SetFloat(d, 1, float.NaN));
        Row("+Infinity", true, d => SetFloat(d, 1, float.PositiveInfinity));
        void CollectionSql(string what, bool structural, string sql) => cases.Add(new(Collection, what, structural, (db, _) => db.Execute(sql, Collection)));
        CollectionSql("row index out of range", true, "UPDATE rec_collection_items SET idx = 1000 WHERE collection = $1 AND idx = 5");
        CollectionSql("row missing", true, "DELETE FROM rec_collection_items WHERE collection = $1 AND idx = 5");
        CollectionSql("a REAL id", true, "UPDATE rec_collection_items SET id = 2.5 WHERE collection = $1 AND idx = 1");
        CollectionSql("an id repeated", true, "UPDATE rec_collection_items SET id = (SELECT id FROM rec_collection_items WHERE collection = $1 AND idx = 0) WHERE collection = $1 AND idx = 1");
        CollectionSql("items + 1", true, "UPDATE rec_collections SET items = items + 1 WHERE name = $1");
        CollectionSql("dim + 1", true, "UPDATE rec_collections SET dim = dim + 1 WHERE name = $1");
        CollectionSql("dim 0", true, "UPDATE rec_collections SET dim = 0 WHERE name = $1");
        return cases;
    }

    /// <summary>The file as a store written before checksums existed: every checksum NULL.</summary>
    private static void RemoveChecksums(TestDb db) => db.Execute(
        "UPDATE rec_arrays SET checksum = NULL; UPDATE rec_model_versions SET id_checksum = NULL; UPDATE rec_collection_items SET checksum = NULL");

    // ---- the runs ---------------------------------------------------------------------------------

    private static Tally RunTable(TestDb pristine, TestDb work, bool checksums)
    {
        var tally = new Tally();
        var targets = Models.Select(m => (Name: m.Name, Dim: m.Dim)).Append((Name: Collection, Dim: 4)).ToList();
        pristine.Connection.BackupDatabase(work.Connection);
        LoadedVersions.Clear();
        var expected = targets.ToDictionary(t => t.Name, t => Calls(t.Name, t.Dim).Select(c => { pristine.Connection.BackupDatabase(work.Connection); return Run(work, c); }).ToList());
        var intact = IntactRanking(work);
        foreach (var @case in Cases(pristine))
        {
            pristine.Connection.BackupDatabase(work.Connection);
            LoadedVersions.Clear();
            tally.Cases++;
            try { @case.Apply(work, checksums); }
            catch (SqliteException) { tally.NotApplicable++; continue; }
            var dim = targets.First(t => t.Name == @case.Target).Dim;
            var calls = Calls(@case.Target, dim);
            for (var i = 0; i < calls.Count; i++)
            {
                var call = calls[i];
                tally.Calls++;
                var label = $"{(checksums ? "with" : "without")} checksums, {@case.Target}, {@case.Name}, {call.Sql}";
                var before = FuzzTests.Fingerprint(work.Connection);
                var (ok, text) = Run(work, call);
                if (ok || expected[@case.Target][i] == (false, text))
                {
                    // Served as if intact (or refused as the intact model is, e.g. a popular model's missing vectors).
                    var same = expected[@case.Target][i] == (ok, text);
                    if (same) tally.Unnoticed++;
                    else tally.WrongResults++;
                    if (@case.Structural) { tally.StructuralMissed++; tally.Problems.Add($"{label}: structural damage {(same ? "unnoticed" : "gave a WRONG RESULT")}"); }
                    else if (checksums) tally.Problems.Add($"{label}: the checksum let it through");
                    else if (!same) tally.ValueOnlyWrong.Add($"{@case.Target}: {@case.Name}");
                    continue;
                }
                tally.Messages[$"{checksums}|{@case.Target}|{@case.Name}|{call.Function}"] = text;
                var prefix = @case.Target == Collection ? $"{call.Function}(): the stored collection '{Collection}' is damaged: " : $"{call.Function}(): the stored model '{@case.Target}' v";
                var suffix = @case.Target == Collection ? "; publish it again with rec_publish." : "; retrain it with rec_train.";
                if (FuzzTests.Problem(text) is { } problem) { tally.Crashes++; tally.Problems.Add($"{label}: {problem}: {text}"); }
                else if (!text.StartsWith(prefix, StringComparison.Ordinal) || !text.EndsWith(suffix, StringComparison.Ordinal)) { tally.Crashes++; tally.Problems.Add($"{label}: not the damaged message: {text}"); }
                else tally.ClearErrors++;
                if (FuzzTests.Fingerprint(work.Connection) != before) { tally.DataLost++; tally.Problems.Add($"{label}: the failed call changed the file"); }
            }
            if (work.Scalar("PRAGMA integrity_check") as string != "ok") { tally.DataLost++; tally.Problems.Add($"{@case.Name}: integrity_check"); }
            if (IntactRanking(work) != intact) { tally.DataLost++; tally.Problems.Add($"{@case.Target}, {@case.Name}: the intact model ranks differently"); }
        }
        return tally;
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    [TestCategory("fn:similar_items")]
    [TestCategory("fn:similar_users")]
    [TestCategory("fn:rec_search")]
    [TestCategory("fn:rec_publish")]
    [TestCategory("fn:rec_evaluate")]
    public void EveryCorruptionGivesTheDamagedMessage()
    {
        if (ExtensionHost.Enabled) Assert.Inconclusive("damages the rows of versions this process has loaded and clears the process's cache of loaded versions between cases, which the loadable extension's copy of SqlRec does not share");
        using var pristine = Trained();
        // Every call loads the version whole, which checks all of it; a paged recommend() checks what it reads (PagedServingTests).
        using var work = TestDb.InFile(new SqlRecOptions { PagedServing = false });
        var withChecksums = RunTable(pristine, work, checksums: true);
        Console.WriteLine($"damaged models, with checksums: {withChecksums}");
        RemoveChecksums(pristine);
        var withoutChecksums = RunTable(pristine, work, checksums: false);
        Console.WriteLine($"damaged models, checksums NULL (shape and bounds checks alone): {withoutChecksums}");
        foreach (var problem in withChecksums.Problems.Concat(withoutChecksums.Problems).Take(40)) Console.WriteLine(problem);
        var valueCases = withoutChecksums.Unnoticed + withoutChecksums.WrongResults;
        Console.WriteLine("value-only cases that changed a result without checksums: " + string.Join("; ", withoutChecksums.ValueOnlyWrong));
        Console.WriteLine($"without checksums, calls on value-only damage (a flipped byte, an index or id moved within range) that went unnoticed: {withoutChecksums.Unnoticed} with the intact result, {withoutChecksums.WrongResults} with another");

        Assert.IsEmpty(withChecksums.Problems, string.Join("\n", withChecksums.Problems.Take(30)));
        Assert.AreEqual(withChecksums.Calls, withChecksums.ClearErrors, "with checksums every call on a damaged model is refused");
        Assert.AreEqual(0, withoutChecksums.Crashes + withoutChecksums.DataLost + withoutChecksums.StructuralMissed,
            string.Join("\n", withoutChecksums.Problems.Take(30)));
        Assert.AreEqual(withoutChecksums.Calls, valueCases + withoutChecksums.ClearErrors, "every call is a clear error or value-only damage that kept the shape");

        // The exact text, for a few cases.
        var m = withChecksums.Messages;
        Assert.AreEqual(Errors.ModelDamaged("recommend", "lightgcn", 1, Errors.DamagedArrayChecksum("lgcn_items", 0)).Message, m["True|lightgcn|lgcn_items: a flipped byte|recommend"]);
        Assert.AreEqual(Errors.ModelDamaged("similar_items", "lightgcn", 99, Errors.DamagedMissingVersion()).Message, m["True|lightgcn|dangling current_version|similar_items"]);
        Assert.AreEqual(Errors.ModelDamaged("rec_publish", "freedom", 1, Errors.DamagedIdChecksum()).Message, m["True|freedom|id map: an id renamed in order|rec_publish"]);
        Assert.AreEqual(Errors.CollectionDamaged("rec_search", Collection, Errors.DamagedCollectionRow(3, "fails its checksum")).Message, m["True|c|vector: a flipped byte|rec_search"]);
        var n = withoutChecksums.Messages;
        var seenItems = (int)(long)pristine.Scalar("SELECT length(data) / 4 FROM rec_arrays WHERE model = 'popular' AND name = 'seen_items'")!;
        var items = (long)pristine.Scalar("SELECT items FROM rec_model_versions WHERE model = 'popular'")!;
        Assert.AreEqual(Errors.ModelDamaged("recommend", "popular", 1, Errors.DamagedArrayIndex("seen_items", seenItems / 2, 1_000_000, $"0..{items - 1}")).Message,
            n["False|popular|seen_items: an index past the end|recommend"]);
        Assert.AreEqual(Errors.ModelDamaged("similar_users", "lightgcn", 1, Errors.DamagedArrayNotFinite("lgcn_items", (long)items * 8 / 2, float.NaN)).Message,
            n["False|lightgcn|lgcn_items: NaN|similar_users"]);
        Assert.AreEqual(Errors.ModelDamaged("rec_search", "lightgcn", 1, Errors.DamagedArrayValue("lgcn_shape", 0, "-1", "8, the stored options' 'dim'")).Message,
            n["False|lightgcn|lgcn_shape: a negative index|rec_search"]);
        Assert.AreEqual(Errors.ModelDamaged("rec_evaluate", "graph_filter", 1, Errors.DamagedIdValue("item", 0, 1.5)).Message, n["False|graph_filter|id map: a REAL id|rec_evaluate"]);
        Assert.AreEqual(Errors.ModelDamaged("recommend", "gf_weighted", 1, Errors.DamagedArrayBytes("gf_weights", 0, seenItems * 0 + (long)pristine.Scalar("SELECT length(data) + 1 FROM rec_arrays WHERE model = 'gf_weighted' AND name = 'gf_weights'")!)).Message,
            n["False|gf_weighted|gf_weights: odd length|recommend"]);
    }

    [TestMethod]
    [TestCategory("fn:rec_train")]
    public void RetrainingRepairsADamagedModel()
    {
        if (ExtensionHost.Enabled) Assert.Inconclusive("damages the rows of versions this process has loaded and clears the process's cache of loaded versions between cases, which the loadable extension's copy of SqlRec does not share");
        using var db = Trained();
        var before = db.Scalar("SELECT recommend(1, 5, 'lightgcn')");
        db.Execute("UPDATE rec_arrays SET data = substr(data, 1, 8) WHERE model = 'lightgcn' AND name = 'lgcn_users'");
        LoadedVersions.Clear();
        var message = Assert.ThrowsExactly<SqliteException>(() => db.Scalar("SELECT recommend(1, 5, 'lightgcn')"));
        StringAssert.EndsWith(TestDb.SqliteMessage(message), "; retrain it with rec_train.");
        db.Scalar($"SELECT rec_train('lightgcn', json_object({Models.Single(m => m.Name == "lightgcn").Options}))");
        Assert.AreEqual(before, db.Scalar("SELECT recommend(1, 5, 'lightgcn')"), "the same seed gives the same model again");
    }

    [TestMethod]
    [TestCategory("fn:recommend")]
    public void AStoreFromBeforeChecksumsLoadsAndGainsThemWithTheNextTraining()
    {
        using var db = Trained();
        var before = db.Scalar("SELECT recommend(1, 5, 'graph_filter')");
        var search = db.Rows($"SELECT item_id FROM rec_search('{Collection}', {Query(4)}, 3)").Count;
        db.Execute("ALTER TABLE rec_arrays DROP COLUMN checksum; ALTER TABLE rec_model_versions DROP COLUMN id_checksum; ALTER TABLE rec_collection_items DROP COLUMN checksum");
        LoadedVersions.Clear();
        Assert.AreEqual(before, db.Scalar("SELECT recommend(1, 5, 'graph_filter')"));
        Assert.HasCount(search, db.Rows($"SELECT item_id FROM rec_search('{Collection}', {Query(4)}, 3)"));
        db.Scalar($"SELECT rec_train('graph_filter', json_object({Models.Single(m => m.Name == "graph_filter").Options}))");
        Assert.AreEqual(0L, db.Scalar("SELECT count(*) FROM rec_arrays WHERE model = 'graph_filter' AND version = 2 AND checksum IS NULL"));
        Assert.IsNotNull(db.Scalar("SELECT id_checksum FROM rec_model_versions WHERE model = 'graph_filter' AND version = 2"));
        Assert.AreEqual(before, db.Scalar("SELECT recommend(1, 5, 'graph_filter')"));
    }

    /// <summary>xxHash's own sanity vectors (xsum_sanity_check.c: a buffer of 101 bytes from a 32-bit generator) and published string vectors.</summary>
    [TestMethod]
    public void ChecksumIsXxHash64()
    {
        const uint prime = 2654435761U;
        var buffer = new byte[101];
        var generator = prime;
        for (var i = 0; i < buffer.Length; i++)
        {
            buffer[i] = (byte)(generator >> 24);
            generator *= generator;
        }
        Assert.AreEqual(0xEF46DB3751D8E999UL, Checksum.Hash([]));
        Assert.AreEqual(0xAC75FDA2929B17EFUL, Checksum.Hash([], prime));
        Assert.AreEqual(0x4FCE394CC88952D8UL, Checksum.Hash(buffer.AsSpan(0, 1)));
        Assert.AreEqual(0x739840CB819FA723UL, Checksum.Hash(buffer.AsSpan(0, 1), prime));
        Assert.AreEqual(0xCFFA8DB881BC3A3DUL, Checksum.Hash(buffer.AsSpan(0, 14)));
        Assert.AreEqual(0x5B9611585EFCC9CBUL, Checksum.Hash(buffer.AsSpan(0, 14), prime));
        Assert.AreEqual(0x0EAB543384F878ADUL, Checksum.Hash(buffer));
        Assert.AreEqual(0xCAA65939306F1E21UL, Checksum.Hash(buffer, prime));
        Assert.AreEqual(0xD24EC4F1A98C6E5BUL, Checksum.Hash("a"u8));
        Assert.AreEqual(0x44BC2CF5AD770999UL, Checksum.Hash("abc"u8));
        Assert.AreEqual(0xFBCEA83C8A378BF1UL, Checksum.Hash("Nobody inspects the spammish repetition"u8));
        Assert.AreEqual(0x8F26F2B986AFDC52UL, Checksum.Hash(Encoding.ASCII.GetBytes("Some years ago--never mind how long precisely-")));
    }
}
