using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// Serving latency of one <c>recommend()</c> call for one user (warm: the model is loaded in the
/// process cache; CPU; one call per operation, not batched), in its scalar and table-valued
/// forms, against the baseline an application would write without SqlRec: a GROUP BY popularity
/// query that excludes the user's items. 1M interactions, 50k users, 20k items, popular model.
/// Does not measure the first (cold) call, which loads the model from the store.
/// </summary>
[MemoryDiagnoser]
public class RecommendBenchmarks
{
    private SqliteConnection _connection = null!;
    private SqliteCommand _scalar = null!;
    private SqliteCommand _table = null!;
    private SqliteCommand _baseline = null!;
    private SqliteCommand _candidates = null!;
    private SqliteCommand _candidatesQuery = null!;
    private SqliteCommand _explain = null!;
    private int _user;

    [GlobalSetup]
    public void Setup()
    {
        _connection = SyntheticData.OpenMillionRowDatabase();
        using (var train = _connection.CreateCommand())
        {
            train.CommandText = "CREATE INDEX interactions_user ON interactions(user_id); SELECT rec_train('pop', json_object('model','popular','source','SELECT user_id, item_id, weight FROM interactions'))";
            train.ExecuteScalar();
        }
        _scalar = Prepare("SELECT recommend($user, 10)");
        _table = Prepare("SELECT item_id FROM recommend($user, 10)");
        _baseline = Prepare("""
            SELECT item_id FROM interactions
            WHERE item_id NOT IN (SELECT item_id FROM interactions WHERE user_id = $user)
            GROUP BY item_id ORDER BY sum(weight) DESC, item_id LIMIT 10
            """);
        // A candidates list: the query SqlRec checks (its program's functions, through EXPLAIN) and runs on every call.
        const string candidates = "SELECT item_id FROM interactions WHERE user_id = 1";
        _candidates = Prepare($"SELECT recommend($user, 10, 'pop', json_object('candidates', '{candidates}'))");
        _candidatesQuery = Prepare(candidates + " AND $user IS NOT NULL");
        _explain = Prepare("EXPLAIN " + candidates + " AND $user IS NOT NULL");
        Run(_scalar); // warm: loads the model into the process cache
    }

    private SqliteCommand Prepare(string sql)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.Add("$user", SqliteType.Integer);
        command.Prepare();
        return command;
    }

    private object? Run(SqliteCommand command)
    {
        _user = (_user + 7919) % 50_000;
        command.Parameters[0].Value = _user;
        using var reader = command.ExecuteReader();
        object? last = null;
        while (reader.Read()) last = reader.GetValue(0);
        return last;
    }

    [Benchmark(Baseline = true, Description = "plain SQL GROUP BY popularity")]
    public object? PlainSql() => Run(_baseline);

    [Benchmark(Description = "recommend() scalar")]
    public object? Scalar() => Run(_scalar);

    [Benchmark(Description = "recommend() table-valued")]
    public object? Table() => Run(_table);

    [Benchmark(Description = "recommend() with a candidates query")]
    public object? WithCandidates() => Run(_candidates);

    [Benchmark(Description = "the candidates query alone")]
    public object? CandidatesQuery() => Run(_candidatesQuery);

    [Benchmark(Description = "EXPLAIN of the candidates query (SqlRec's check)")]
    public object? ExplainCandidates() => Run(_explain);

    [GlobalCleanup]
    public void Cleanup() => _connection.Dispose();
}
