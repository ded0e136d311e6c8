// SqlRec batch scoring: every user's top-k written into a table with one INSERT ... SELECT over the
// table-valued recommend(), in one transaction, so readers see the old lists or the new ones.
//
//   dotnet run --project src/SqlRec.Cli -- demo                       (creates sqlrec-demo.db)
//   dotnet run -c Release --project samples/BatchScoring [db] [model] [k] [users query]
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using SqlRec;

var path = args.Length > 0 ? args[0] : "sqlrec-demo.db";
var model = args.Length > 1 ? args[1] : "personal";
var k = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10;
var users = args.Length > 3 ? args[3] : "SELECT id FROM users";
if (!File.Exists(path))
{
    Console.Error.WriteLine($"database not found: {path}; create the demo database first: dotnet run --project src/SqlRec.Cli -- demo");
    return 1;
}

using var connection = new SqliteConnection($"Data Source={path}");
connection.Open();
connection.UseSqlRec();

Execute("""
    CREATE TABLE IF NOT EXISTS user_recommendations(
      user_id, rank INTEGER, item_id, score REAL, model TEXT, scored_at TEXT,
      PRIMARY KEY (model, user_id, rank))
    """);

var clock = Stopwatch.StartNew();
using (var transaction = connection.BeginTransaction())
{
    Execute("DELETE FROM user_recommendations WHERE model = $model", transaction);
    // The user ids come from any query; the table-valued recommend() is called once per user.
    var written = Execute($"""
        WITH u(id) AS ({users})
        INSERT INTO user_recommendations
        SELECT u.id, r.rank, r.item_id, r.score, $model, datetime('now')
        FROM u JOIN recommend(u.id, $k, $model) AS r
        """, transaction);
    transaction.Commit();
    var scored = Scalar("SELECT count(DISTINCT user_id) FROM user_recommendations WHERE model = $model");
    Console.WriteLine($"scored {scored} users with model '{model}': {written} rows in {clock.Elapsed.TotalSeconds:F2} s " +
        $"({Convert.ToDouble(scored) / clock.Elapsed.TotalSeconds:F0} users/s)");
}

using (var command = connection.CreateCommand())
{
    command.CommandText = "SELECT user_id, group_concat(item_id, ', ') FROM (SELECT * FROM user_recommendations WHERE model = $model ORDER BY user_id, rank) GROUP BY user_id LIMIT 3";
    command.Parameters.AddWithValue("$model", model);
    using var reader = command.ExecuteReader();
    while (reader.Read()) Console.WriteLine($"  user {reader.GetValue(0)}: {reader.GetString(1)}");
}
return 0;

int Execute(string sql, SqliteTransaction? transaction = null)
{
    using var command = connection.CreateCommand();
    command.Transaction = transaction;
    command.CommandText = sql;
    command.Parameters.AddWithValue("$model", model);
    command.Parameters.AddWithValue("$k", k);
    return command.ExecuteNonQuery();
}

object? Scalar(string sql)
{
    using var command = connection.CreateCommand();
    command.CommandText = sql;
    command.Parameters.AddWithValue("$model", model);
    return command.ExecuteScalar();
}
