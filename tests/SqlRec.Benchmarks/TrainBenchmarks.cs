using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// <c>rec_train</c> of the popular model on 1M generated interactions (in-memory database, CPU,
/// whole call: read the source, build id maps and CSR, write the version), against the baseline
/// of only reading the same rows with a plain SELECT, i.e. the floor any training pays.
/// </summary>
public class TrainBenchmarks
{
    private SqliteConnection _connection = null!;

    [GlobalSetup]
    public void Setup()
    {
        _connection = SyntheticData.OpenMillionRowDatabase();
    }

    [Benchmark(Baseline = true, Description = "read 1M source rows")]
    public long ReadSource()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT user_id, item_id, weight FROM interactions";
        using var reader = command.ExecuteReader();
        long sum = 0;
        while (reader.Read()) sum += reader.GetInt64(0) + reader.GetInt64(1);
        return sum;
    }

    [Benchmark(Description = "rec_train popular, 1M rows")]
    public object? TrainPopular()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT rec_train('pop', json_object('model','popular','source','SELECT user_id, item_id, weight FROM interactions'))";
        return command.ExecuteScalar();
    }

    [GlobalCleanup]
    public void Cleanup() => _connection.Dispose();
}
