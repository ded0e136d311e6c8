using System.Text.Json;
using SqlRec.Sqlite;

namespace SqlRec.Tests;

/// <summary>
/// SqlRec as a loadable extension in real hosts: the Debian <c>sqlite3</c> shell, Debian's system
/// <c>python3</c>, and small C hosts compiled here against <c>sqlite3ext.h</c> (gcc and
/// libsqlite3-dev). Each test is inconclusive, with the reason, where its host is missing.
/// </summary>
[TestClass]
[TestCategory("Extension")]
public sealed class ExtensionTests
{
    /// <summary>gcc, or inconclusive with the reason.</summary>
    private static string Gcc()
    {
        const string gcc = "/usr/bin/gcc";
        if (!File.Exists(gcc)) Assert.Inconclusive($"host not present: {gcc} (the C compiler the routine-offset and C-host tests build with)");
        if (!File.Exists("/usr/include/sqlite3ext.h")) Assert.Inconclusive("host not present: /usr/include/sqlite3ext.h (libsqlite3-dev)");
        return gcc;
    }

    /// <summary>Compiles <paramref name="source"/> with the system SQLite and returns the program's path.</summary>
    private static string CompileC(string source, string name)
    {
        var gcc = Gcc();
        var folder = Directory.CreateTempSubdirectory("sqlrec-c-").FullName;
        File.WriteAllText(Path.Combine(folder, name + ".c"), source);
        var result = ExtensionHost.Run(gcc, $"-O1 -o {name} {name}.c -lsqlite3 -ldl", folder, TimeSpan.FromMinutes(2));
        Assert.AreEqual(0, result.Exit, $"gcc failed:\n{result.Output}\n{result.Error}");
        return Path.Combine(folder, name);
    }

    [TestMethod]
    public void EveryRoutineOffsetIsTheOneSqlite3ExtHGives()
    {
        var members = HostRoutines.Members;
        var lines = string.Join("\n", members.Select(m => $"  printf(\"%s %zu\\n\", \"{m.Name}\", offsetof(sqlite3_api_routines, {m.Name}));"));
        var program = CompileC($$"""
            #include <stdio.h>
            #include <stddef.h>
            #include <sqlite3ext.h>
            int main(void) {
              printf("pointer %zu\n", sizeof(void*));
            {{lines}}
              printf("size %zu\n", sizeof(sqlite3_api_routines));
              return 0;
            }
            """, "offsets");
        var result = ExtensionHost.Run(program, "", Path.GetDirectoryName(program)!, TimeSpan.FromSeconds(30));
        var offsets = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToDictionary(p => p[0], p => long.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
        var pointer = offsets["pointer"];
        for (var i = 0; i < members.Length; i++) Assert.AreEqual(offsets[members[i].Name], i * pointer, members[i].Name);
        // The x86-64 loader (no header at build time) names sqlite3_malloc's place itself; the header checks it.
        var loader = Path.Combine(TestData.RepositoryRoot(), "native", "extension", "loader", "sqlrec_loader.c");
        var compiled = ExtensionHost.Run(Gcc(), $"-DSQLREC_CHECK_OFFSETS -fsyntax-only -Wall -Werror \"{loader}\"", Path.GetDirectoryName(program)!, TimeSpan.FromMinutes(1));
        Assert.AreEqual(0, compiled.Exit, "the loader's SQLREC_MALLOC_INDEX is sqlite3_api_routines.malloc: " + compiled.Error);
        Assert.AreEqual(members.Length * pointer, offsets["size"], "the table has every member of the struct");
        // The versions each member came with are the header's too: the generator, run again, gives the committed file.
        var check = ExtensionHost.Run("python3", $"\"{Path.Combine(TestData.RepositoryRoot(), "native", "extension", "routines.py")}\" --check",
            TestData.RepositoryRoot(), TimeSpan.FromSeconds(60));
        Assert.AreEqual(0, check.Exit, check.Output + check.Error);
    }

    [TestMethod]
    public void TheShellRunsEveryCatalogExampleAsTheLibraryDoes()
    {
        var setup = Path.Combine(TestData.RepositoryRoot(), "sql", "examples", "setup.sql");
        var examples = CatalogTests.Examples();
        Assert.IsNotEmpty(examples);
        foreach (var (sql, expected) in examples)
        {
            var input = $".load '{ExtensionHost.Library}'\n.output /dev/null\n.read '{setup}'\n.output stdout\n{sql}";
            var (exit, output, error) = ExtensionHost.RunShell(":memory:", input);
            Assert.AreEqual("", error.Trim(), $"example: {sql}");
            Assert.AreEqual(0, exit, $"example: {sql}");
            Assert.AreEqual(expected, output.TrimEnd('\n'), $"example: {sql}");
        }
    }

    [TestMethod]
    public void TheShellSaysWhatTheExtensionCannotDoAndRecovers()
    {
        var input = $"""
            .load '{ExtensionHost.Library}'
            .load '{ExtensionHost.Library}'
            CREATE TABLE likes(user_id INTEGER, item_id INTEGER);
            INSERT INTO likes VALUES (1, 10), (1, 11), (2, 10), (2, 12), (3, 11), (3, 12), (3, 13);
            SELECT rec_train('g', json_object('model', 'lightgcn', 'source', 'SELECT user_id, item_id FROM likes', 'device', 'cuda'));
            SELECT recommend(1, 0);
            SELECT rec_train('p', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM likes')) ->> 'kind';
            SELECT recommend(1, 2, 'p');
            """;
        var (_, output, error) = ExtensionHost.RunShell(":memory:", input);
        StringAssert.Contains(error, Errors.DeviceUnavailable("rec_train", "cuda", Compute.ComputeDevices.NoJit).Message);
        StringAssert.Contains(error, Errors.KOutOfRange("recommend", 0L).Message);
        Assert.AreEqual("popular\n[12,13]", output.Trim(), "loaded twice, SqlRec works and the errors left nothing behind");
    }

    /// <summary>A Python script in a host process, start to end, with its own assertions; it prints what the test checks.</summary>
    private const string PythonFlow = """
        import json, sqlite3, sys, threading, time
        lib, db_path = sys.argv[1], sys.argv[2]
        def connect():
            c = sqlite3.connect(db_path, timeout=30, check_same_thread=False)
            c.enable_load_extension(True)
            c.load_extension(lib)
            c.enable_load_extension(False)
            return c
        c = connect()
        out = {}
        c.executescript('''
          CREATE TABLE likes(user_id INTEGER, item_id INTEGER);
          CREATE TABLE items(id INTEGER PRIMARY KEY, title TEXT);
        ''')
        import random
        random.seed(3)
        rows = [(u, 100 + (u % 4) * 10 + i) for u in range(1, 81) for i in range(10) if random.random() < 0.5]
        c.executemany('INSERT INTO likes VALUES (?, ?)', rows)
        c.executemany('INSERT INTO items VALUES (?, ?)', [(i, ['space', 'castle', 'spy', 'garden'][(i - 100) // 10] + ' story ' + str(i)) for i in range(100, 140)])
        c.commit()
        src = 'SELECT user_id, item_id FROM likes'
        out['train'] = json.loads(c.execute("SELECT rec_train('gf', json_object('model', 'graph_filter', 'source', ?, 'components', 8))", (src,)).fetchone()[0])['kind']
        c.execute("SELECT rec_train('lg', json_object('model', 'lightgcn', 'source', ?, 'epochs', 20, 'dim', 16))", (src,)).fetchall()
        out['lgcn'] = c.execute("SELECT metrics ->> 'device' FROM rec_models WHERE name = 'lg'").fetchone()[0]
        out['scalar'] = json.loads(c.execute("SELECT recommend(1, 5, 'gf')").fetchone()[0])
        out['rows'] = [list(r) for r in c.execute("SELECT rank, item_id, source FROM recommend(1, 5, 'gf')")]
        out['evaluate'] = json.loads(c.execute("SELECT rec_evaluate('gf', json_object('split', 'random', 'k', 10))").fetchone()[0])['metrics']['recall@10']
        out['embed'] = len(c.execute("SELECT rec_embed('hash', 'space story')").fetchone()[0])
        c.execute("SELECT rec_publish('titles', json_object('text', 'SELECT id, title FROM items', 'embedder', 'hash'))")
        out['search'] = [r[0] for r in c.execute("SELECT item_id FROM rec_search('titles', 'castle story', 3)")]
        out['similar'] = len(c.execute("SELECT * FROM similar_items(100, 3, 'lg')").fetchall())
        out['vec0'] = [r[0] for r in c.execute("SELECT rec_publish('lg', json_object('metric', 'cosine')) ->> '$.tables'")]
        for sql in ["SELECT recommend(1, 0, 'gf')", "SELECT rec_train('x', json_object('model', 'lightgcn', 'source', 'SELECT 1, 2', 'device', 'cuda'))", "SELECT recommend(NULL, 3, 'gf')"]:
            try:
                c.execute(sql).fetchall()
                out.setdefault('errors', []).append(None)
            except sqlite3.Error as e:
                out.setdefault('errors', []).append(str(e))
        c.commit()
        # Several connections on several threads at once.
        failures = []
        def serve(n):
            try:
                d = connect()
                for u in range(1, 41):
                    assert len(json.loads(d.execute("SELECT recommend(?, 5, 'gf')", (u,)).fetchone()[0])) == 5
                d.close()
            except Exception as e:
                failures.append(repr(e))
        threads = [threading.Thread(target=serve, args=(n,)) for n in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        out['threads'] = failures
        # sqlite3_interrupt (Python's Connection.interrupt) stops a long training; nothing is written.
        before = c.execute("SELECT count(*) FROM rec_models").fetchone()[0]
        threading.Timer(1.5, c.interrupt).start()
        start = time.time()
        try:
            c.execute("SELECT rec_train('long', json_object('model', 'lightgcn', 'source', ?, 'epochs', 100000, 'dim', 64))", (src,)).fetchall()
            out['interrupt'] = 'finished'
        except sqlite3.Error as e:
            out['interrupt'] = str(e)
        out['interrupt_seconds'] = time.time() - start
        out['models_after_interrupt'] = c.execute("SELECT count(*) FROM rec_models").fetchone()[0] - before
        c.close()
        print(json.dumps(out))
        """;

    [TestMethod]
    public void PythonTrainsServesEvaluatesEmbedsSearchesAndInterrupts()
    {
        var folder = Directory.CreateTempSubdirectory("sqlrec-py-db-").FullName;
        var (exit, output, error) = ExtensionHost.RunPython(PythonFlow, ExtensionHost.Library, Path.Combine(folder, "shop.db"));
        Assert.AreEqual(0, exit, $"python exited with {exit}:\n{output}\n{error}");
        Assert.AreEqual("", error.Trim(), "nothing on stderr: no exception or runtime message reached the host");
        var result = JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;
        Assert.AreEqual("graph_filter", result.GetProperty("train").GetString());
        Assert.AreEqual("cpu", result.GetProperty("lgcn").GetString(), "auto trains on the managed path in the extension");
        var scalar = result.GetProperty("scalar").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        Assert.HasCount(5, scalar);
        CollectionAssert.AreEqual(scalar, result.GetProperty("rows").EnumerateArray().Select(r => r[1].GetInt64()).ToArray());
        Assert.IsGreaterThan(0.1, result.GetProperty("evaluate").GetDouble(), "clustered tastes are easy to recall");
        Assert.AreEqual(4 * 512, result.GetProperty("embed").GetInt32(), "the hash embedder's 512 floats");
        Assert.HasCount(3, result.GetProperty("search").EnumerateArray().ToArray());
        Assert.AreEqual(3, result.GetProperty("similar").GetInt32());
        StringAssert.Contains(result.GetProperty("vec0")[0].GetString()!, "lg_items");
        var errors = result.GetProperty("errors").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.AreEqual(Errors.KOutOfRange("recommend", 0L).Message, errors[0]);
        Assert.AreEqual(Errors.DeviceUnavailable("rec_train", "cuda", Compute.ComputeDevices.NoJit).Message, errors[1]);
        Assert.AreEqual(Errors.UserOrSequence("recommend").Message, errors[2]);
        Assert.AreEqual(0, result.GetProperty("threads").GetArrayLength(), result.GetProperty("threads").ToString());
        Assert.AreEqual(Errors.TrainingInterrupted("rec_train", "long").Message, result.GetProperty("interrupt").GetString());
        Assert.IsLessThan(60.0, result.GetProperty("interrupt_seconds").GetDouble(), "the interrupt is noticed within the training");
        Assert.AreEqual(0, result.GetProperty("models_after_interrupt").GetInt32(), "an interrupted training writes nothing");
    }

    [TestMethod]
    public void AnOlderSqliteIsRefusedAtLoadWithBothVersions()
    {
        // A host whose routines say 3.37.2: everything SqlRec needs is there but the version, so the
        // refusal comes from the version check alone. The message is allocated with the host's malloc.
        var program = CompileC("""
            #include <stdio.h>
            #include <string.h>
            #include <dlfcn.h>
            #define SQLITE_CORE 1 /* the real sqlite3_malloc, not sqlite3ext.h's macro for it */
            #include <sqlite3ext.h>
            static int old_version(void) { return 3037002; }
            int main(int argc, char** argv) {
              void* library = dlopen(argv[1], RTLD_NOW);
              if (!library) { printf("dlopen: %s\n", dlerror()); return 2; }
              int (*init)(sqlite3*, char**, const sqlite3_api_routines*) = dlsym(library, "sqlite3_sqlrec_init");
              sqlite3_api_routines api;
              memset(&api, 0, sizeof api);
              api.libversion_number = old_version;
              api.malloc = sqlite3_malloc;
              api.free = sqlite3_free;
              char* message = 0;
              int rc = init(0, &message, &api);
              printf("%d|%s\n", rc, message ? message : "(none)");
              sqlite3_free(message);
              return 0;
            }
            """, "oldhost");
        var (exit, output, error) = ExtensionHost.Run(program, $"\"{ExtensionHost.Library}\"", Path.GetDirectoryName(program)!, TimeSpan.FromSeconds(60));
        Assert.AreEqual(0, exit, output + error);
        Assert.AreEqual($"1|{Errors.HostTooOld("3.37.2", "3.38.0").Message}", output.Trim());
    }

    [TestMethod]
    public void TheCApiLoadsSqlRecWhenSqlMayNotLoadExtensions()
    {
        // SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION: the C API may load, SQL's load_extension() may not.
        var program = CompileC("""
            #include <stdio.h>
            #include <sqlite3.h>
            static int row(void* out, int n, char** values, char** names) { printf("%s\n", values[0] ? values[0] : "NULL"); return 0; }
            int main(int argc, char** argv) {
              sqlite3* db; char* error = 0;
              sqlite3_open(":memory:", &db);
              sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, 0);
              if (sqlite3_load_extension(db, argv[1], 0, &error) != SQLITE_OK) { printf("load: %s\n", error); return 1; }
              sqlite3_exec(db, "SELECT rec_version() || ' ' || vec_version()", row, 0, 0);
              if (sqlite3_exec(db, "SELECT load_extension('nothing')", row, 0, &error) != SQLITE_OK) printf("sql: %s\n", error);
              sqlite3_close(db);
              return 0;
            }
            """, "capihost");
        var (exit, output, error) = ExtensionHost.Run(program, $"\"{ExtensionHost.Library}\"", Path.GetDirectoryName(program)!, TimeSpan.FromSeconds(60));
        Assert.AreEqual(0, exit, output + error);
        var lines = output.Trim().Split('\n');
        StringAssert.StartsWith(lines[0], "0.1.0 v0.1.9", "SqlRec, and vec0 from beside it, through the C API");
        Assert.AreEqual("sql: not authorized", lines[1]);
    }

    /// <summary>A copy of the published folder without some of its files.</summary>
    private static string FolderWithout(params string[] files)
    {
        var copy = Directory.CreateTempSubdirectory("sqlrec-ext-").FullName;
        foreach (var file in Directory.GetFiles(ExtensionHost.Folder))
        {
            if (!files.Contains(Path.GetFileName(file))) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }
        return copy;
    }

    [TestMethod]
    public void WithoutOnnxRuntimeOnlyOnnxEmbeddersStopAndTheyRunWithIt()
    {
        var models = Directory.CreateTempSubdirectory("sqlrec-onnx-").FullName;
        var vocabulary = Onnx.BertFixture.SmallVocabulary();
        new Onnx.BertFixture(Onnx.BertFixture.Config.Small(vocabulary.Count)).Write(models, vocabulary);
        const string script = """
            import sqlite3, sys
            c = sqlite3.connect(':memory:')
            c.enable_load_extension(True)
            c.load_extension(sys.argv[1])
            try:
                print(c.execute("SELECT rec_register_embedder('m', json_object('model', ?)) ->> 'dim'", (sys.argv[2],)).fetchone()[0])
                print(len(c.execute("SELECT rec_embed('m', 'the king')").fetchone()[0]))
            except sqlite3.Error as e:
                print('error: ' + str(e))
            print(len(c.execute("SELECT rec_embed('hash', 'the king')").fetchone()[0]))
            """;
        var model = Path.Combine(models, "model.onnx");
        var with = ExtensionHost.RunPython(script, ExtensionHost.Library, model);
        Assert.AreEqual($"32\n{32 * 4}\n{512 * 4}", with.Output.Trim(), "ONNX Runtime runs under NativeAOT: " + with.Error);
        var without = FolderWithout("libonnxruntime.so", "onnxruntime.dll", "libonnxruntime.dylib");
        var missing = ExtensionHost.RunPython(script, Path.Combine(without, ExtensionHost.FileName), model);
        var lines = missing.Output.Trim().Split('\n');
        StringAssert.StartsWith(lines[0], $"error: rec_register_embedder(): ONNX Runtime's native library could not be loaded (looked in '{without}' and beside the application: ", missing.Error);
        Assert.AreEqual($"{512 * 4}", lines[1], "the hash embedder works without ONNX Runtime");
    }

    [TestMethod]
    public void WithoutVec0RecPublishSaysHowToLoadIt()
    {
        var without = FolderWithout("vec0.so", "vec0.dll", "vec0.dylib");
        var input = $"""
            .load '{Path.Combine(without, ExtensionHost.FileName)}'
            CREATE TABLE v(id INTEGER PRIMARY KEY, e BLOB);
            INSERT INTO v VALUES (1, rec_embed('hash', 'one')), (2, rec_embed('hash', 'two'));
            SELECT rec_publish('c', json_object('source', 'SELECT id, e FROM v')) ->> 'items';
            SELECT rec_publish('c', json_object('source', 'SELECT id, e FROM v', 'table', 'c'));
            SELECT count(*) FROM rec_search('c', rec_embed('hash', 'one'), 2);
            """;
        var (_, output, error) = ExtensionHost.RunShell(":memory:", input);
        StringAssert.Contains(error, Errors.Vec0NotLoaded("rec_publish").Message);
        Assert.AreEqual("2\n2", output.Trim(), "a collection without vec0 tables is made and searched; only the vec0 table is refused");
    }

    [TestMethod]
    public void TheReleaseArchiveUnpacksAndLoads()
    {
        if (!OperatingSystem.IsLinux()) Assert.Inconclusive("the archive test unpacks a .tar.gz with tar; it runs on Linux");
        _ = ExtensionHost.Folder; // the extension is published (and so compiled) once; the archive reuses that build
        var root = TestData.RepositoryRoot();
        var rid = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        var publish = ExtensionHost.Run("dotnet", $"publish \"{Path.Combine(root, "native", "extension")}\" -c Release -r {rid} -p:ReleaseArchive=true -o \"{Path.Combine(root, "artifacts", "test-extension")}\" -nologo -v q",
            root, TimeSpan.FromMinutes(10));
        Assert.AreEqual(0, publish.Exit, publish.Output + publish.Error);
        var archive = Directory.GetFiles(Path.Combine(root, "artifacts"), $"sqlrec-*-{rid}.tar.gz").Single();
        var unpacked = Directory.CreateTempSubdirectory("sqlrec-release-").FullName;
        Assert.AreEqual(0, ExtensionHost.Run("tar", $"-xzf \"{archive}\"", unpacked, TimeSpan.FromMinutes(1)).Exit);
        var folder = Directory.GetDirectories(unpacked).Single();
        var expected = new List<string> { "README.md", "functions.md", "libonnxruntime.so", "libonnxruntime_providers_shared.so", "sqlrec.so", "vec0.so" };
        if (rid == "linux-x64") expected.AddRange(["sqlrec-x86-64-v2.so", "sqlrec-x86-64-v3.so"]);
        CollectionAssert.AreEquivalent(expected, Directory.GetFiles(folder).Select(Path.GetFileName).ToArray());
        const string script = """
            import sqlite3, sys
            c = sqlite3.connect(':memory:')
            c.enable_load_extension(True)
            c.load_extension(sys.argv[1])
            print(c.execute("SELECT rec_version() || ' ' || vec_version() || ' ' || length(rec_embed('hash', 'x'))").fetchone()[0])
            """;
        var (exit, output, error) = ExtensionHost.RunPython(script, Path.Combine(folder, "sqlrec"));
        Assert.AreEqual(0, exit, error);
        Assert.AreEqual($"{Path.GetFileName(folder).Split('-')[1]} v0.1.9 2048", output.Trim());
    }

    /// <summary>The x86-64-v3 level: v2 and AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT (abm), MOVBE, as /proc/cpuinfo names them.</summary>
    private static bool CpuHasV3() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries) is { } flags
        && new[] { "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "sse4_2", "popcnt" }.All(flags.Contains);

    private const string LevelScript = """
        import json, sqlite3, sys
        c = sqlite3.connect(':memory:')
        c.enable_load_extension(True)
        try:
            c.load_extension(sys.argv[1])
        except sqlite3.Error as e:
            print(json.dumps({'error': str(e)}))
            sys.exit(0)
        build = [l.split()[-1].rsplit('/', 1)[-1] for l in open('/proc/self/maps') if 'sqlrec-x86-64' in l]
        c.execute("CREATE TABLE r(u INTEGER, i INTEGER)")
        c.executemany("INSERT INTO r VALUES (?, ?)", [(u, (u * 7 + k * 13) % 97) for u in range(200) for k in range(12)])
        c.execute("SELECT rec_train('lg', json_object('model', 'lightgcn', 'source', 'SELECT u, i FROM r', 'epochs', 3, 'dim', 32, 'seed', 7))").fetchall()
        scores = [r[0] for r in c.execute("SELECT score FROM recommend(3, 5, 'lg')")]
        print(json.dumps({'build': sorted(set(build)), 'scores': scores}))
        """;

    [TestMethod]
    public void OnX64LinuxTheLoaderPicksTheFastestBuildThisCpuRuns()
    {
        if (System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier != "linux-x64")
            Assert.Inconclusive("the CPU-level loader is built for linux-x64 only; other platforms ship one build");
        var expected = CpuHasV3() ? "sqlrec-x86-64-v3.so" : "sqlrec-x86-64-v2.so";
        JsonElement Load(string library, string? level)
        {
            var environment = level is null ? null : new Dictionary<string, string> { [ExtensionHost.CpuVariable] = level };
            var (exit, output, error) = ExtensionHost.RunPythonWith(environment, LevelScript, library);
            Assert.AreEqual(0, exit, output + error);
            Assert.AreEqual("", error.Trim(), "nothing on stderr");
            return JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;
        }
        var chosen = Load(ExtensionHost.Library, null);
        Assert.AreEqual(expected, chosen.GetProperty("build")[0].GetString(), "the loader asks the CPU");
        var portable = Load(ExtensionHost.Library, "x86-64-v2");
        Assert.AreEqual("sqlrec-x86-64-v2.so", portable.GetProperty("build")[0].GetString());
        // Both builds train and score alike: the kernels differ in vector width (and FMA rounding) only.
        var a = chosen.GetProperty("scores").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var b = portable.GetProperty("scores").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.HasCount(5, a);
        for (var i = 0; i < a.Length; i++) Assert.AreEqual(a[i], b[i], 1e-3 * Math.Max(1, Math.Abs(a[i])), $"score {i}: {string.Join(",", a)} vs {string.Join(",", b)}");

        Assert.AreEqual("error during initialization: SQLREC_CPU must be x86-64-v2 or x86-64-v3 (or unset to let SqlRec choose)",
            Load(ExtensionHost.Library, "avx512").GetProperty("error").GetString());
        if (!CpuHasV3())
            Assert.AreEqual("error during initialization: SQLREC_CPU=x86-64-v3: this CPU does not support x86-64-v3",
                Load(ExtensionHost.Library, "x86-64-v3").GetProperty("error").GetString());
        var without = FolderWithout(expected);
        var missing = Load(Path.Combine(without, ExtensionHost.FileName), null).GetProperty("error").GetString()!;
        StringAssert.StartsWith(missing, $"error during initialization: SqlRec could not load {Path.Combine(without, expected)} (it belongs beside sqlrec.so): ");
    }
}
