using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// The first <c>recommend()</c> of a model in a process - the cold load from the store (id maps,
/// arrays, their checks, the kind's build) - on Gowalla's <c>popular</c> and <c>graph_filter</c>
/// (default options) models kept in a file, CPU. The loaded-version cache is cleared before each
/// of 7 rounds; the median is reported, with a warm call for scale. Pass <c>nochecksums</c> to set
/// every checksum NULL first (a store written before checksums: the shape and bounds checks alone).
/// Not measured: training, SQLite's page cache going cold (the file is read once before timing).
/// Run the same command on another build against the same file to compare.
/// </summary>
public static class LoadBenchmark
{
    public static int Run(string[] args)
    {
        var path = args.FirstOrDefault(a => a != "nochecksums") ?? Path.Combine(Path.GetTempPath(), "sqlrec-gowalla-load.db");
        if (!File.Exists(path)) Prepare(path);
        if (args.Contains("nochecksums"))
        {
            var copy = path + ".nochecksums.db";
            File.Copy(path, copy, overwrite: true);
            using var edit = Open(copy);
            GowallaBenchmark.Scalar(edit, "UPDATE rec_arrays SET checksum = NULL");
            GowallaBenchmark.Scalar(edit, "UPDATE rec_model_versions SET id_checksum = NULL");
            path = copy;
        }
        using var connection = Open(path);
        GowallaBenchmark.Scalar(connection, "SELECT recommend(1, 20, 'popular')");
        foreach (var model in new[] { "popular", "graph_filter" })
        {
            var cold = new List<double>();
            var warm = new List<double>();
            for (var round = 0; round < 7; round++)
            {
                Operations.LoadedVersions.Clear();
                var clock = Stopwatch.StartNew();
                GowallaBenchmark.Scalar(connection, $"SELECT recommend({round + 2}, 20, '{model}')");
                cold.Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                GowallaBenchmark.Scalar(connection, $"SELECT recommend({round + 100}, 20, '{model}')");
                warm.Add(clock.Elapsed.TotalMilliseconds);
            }
            cold.Sort();
            warm.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{model}: first recommend (load) median {cold[3]:F1} ms (min {cold[0]:F1}, max {cold[^1]:F1}); a warm call {warm[3]:F2} ms"));
        }
        if (args.Contains("checks")) Checks(connection);
        return 0;
    }

    /// <summary>The checks alone, apart from the load around them: the checksums over every stored part, and the shape and bounds checks.</summary>
    private static void Checks(SqliteConnection connection)
    {
        var blobs = new List<(long Part, byte[] Data)>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT part, data FROM rec_arrays WHERE model = 'graph_filter'";
            using var reader = command.ExecuteReader();
            while (reader.Read()) blobs.Add((reader.GetInt64(0), (byte[])reader.GetValue(1)));
        }
        var store = new Store.ModelStore(new Sqlite.SqliteDb(connection.Handle!.DangerousGetHandle()));
        var version = store.Resolve("bench", "graph_filter");
        var kind = Models.ModelKinds.Get("bench", version.Kind);
        var options = Models.TrainingPlan.Read("bench", version.Options).Options;
        var arrays = store.LoadArrays(version);
        var (sums, shapes) = (new List<double>(), new List<double>());
        for (var round = 0; round < 7; round++)
        {
            var clock = Stopwatch.StartNew();
            foreach (var (part, data) in blobs) Checksum.Stored(data, (ulong)part);
            sums.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            var stored = new Models.StoredArrays(arrays, version.Users, version.Items);
            stored.CheckCommon();
            kind.CheckStored(stored, options);
            shapes.Add(clock.Elapsed.TotalMilliseconds);
        }
        sums.Sort();
        shapes.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"graph_filter checks alone: XXH64 over {blobs.Sum(b => (long)b.Data.Length) / 1e6:F1} MB median {sums[3]:F1} ms; shape, bounds and finite checks median {shapes[3]:F1} ms"));
    }

    private static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        connection.UseSqlRec();
        return connection;
    }

    private static void Prepare(string path)
    {
        using var connection = Open(path);
        GowallaBenchmark.Load(connection, Path.Combine(GowallaBenchmark.DefaultFolder(), "train.txt"), "train");
        GowallaBenchmark.Scalar(connection, "SELECT rec_train('popular', json_object('model','popular','source','SELECT user_id, item_id FROM train'))");
        GowallaBenchmark.Scalar(connection, "SELECT rec_train('graph_filter', json_object('model','graph_filter','source','SELECT user_id, item_id FROM train'))");
    }
}
