// SqlRec quick start: an application's own SQLite database, SqlRec enabled on the connection,
// a model trained from a SELECT, and recommendations as plain SQL - for one user, as rows that
// join the app's tables, and for every user at once (batch scoring).
//
//   dotnet run --project samples/QuickStart [path/to/app.db]
using Microsoft.Data.Sqlite;
using SqlRec;

var path = args.Length > 0 ? args[0] : ":memory:";
using var connection = new SqliteConnection($"Data Source={path}");
connection.Open();
connection.UseSqlRec();

Execute("""
    DROP TABLE IF EXISTS purchases; DROP TABLE IF EXISTS products; DROP TABLE IF EXISTS customers;
    CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE products(sku TEXT PRIMARY KEY, name TEXT, in_stock INTEGER);
    CREATE TABLE purchases(customer_id INTEGER, sku TEXT, quantity INTEGER, bought_at TEXT);
    INSERT INTO customers VALUES (1, 'Ada'), (2, 'Brian'), (3, 'Chen'), (4, 'Dara');
    INSERT INTO products VALUES ('tea', 'Green tea', 1), ('mug', 'Mug', 1), ('pot', 'Teapot', 0),
                                ('cups', 'Espresso cups', 1), ('beans', 'Coffee beans', 1);
    INSERT INTO purchases VALUES
      (1, 'tea', 2, '2026-10-01'), (1, 'mug', 1, '2026-10-02'),
      (2, 'beans', 3, '2026-10-05'), (2, 'cups', 1, '2026-10-20'), (2, 'mug', 1, '2026-11-01'),
      (3, 'tea', 1, '2026-11-03'), (3, 'pot', 1, '2026-11-03'), (4, 'beans', 1, '2026-11-10');
    """);

// Train: any SELECT of (user, item[, weight[, timestamp]]); the model is stored in this database.
Print("SELECT rec_train('shop', json_object('model', 'popular', 'source', 'SELECT customer_id, sku, quantity, bought_at FROM purchases', 'half_life_days', 30))");

// One user, as a JSON array; items the customer already bought are left out.
Print("SELECT recommend(1, 3)");

// As rows that join the application's tables.
Print("SELECT r.rank, p.name, round(r.score, 2) AS score, r.source FROM recommend(3, 3) r JOIN products p ON p.sku = r.item_id ORDER BY r.rank");

// Batch scoring: every customer in one statement.
Print("SELECT c.name, recommend(c.id, 2) AS picks FROM customers c ORDER BY c.id");

// A customer the model has never seen gets the popular items.
Print("SELECT item_id, source FROM recommend(99, 2)");

void Execute(string sql)
{
    using var command = connection.CreateCommand();
    command.CommandText = sql;
    command.ExecuteNonQuery();
}

void Print(string sql)
{
    Console.WriteLine($"sql> {sql}");
    using var command = connection.CreateCommand();
    command.CommandText = sql;
    using var reader = command.ExecuteReader();
    while (reader.Read())
    {
        var values = new object[reader.FieldCount];
        reader.GetValues(values);
        Console.WriteLine("  " + string.Join(" | ", values));
    }
    Console.WriteLine();
}
