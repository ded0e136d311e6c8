// SqlRec text search: a catalogue's descriptions embedded inside SQLite with rec_embed_each into a
// sqlite-vec vec0 table, then searched with MATCH rec_embed(...) AND k = ?, all in SQL.
//
//   dotnet run --project samples/TextSearch                                  (built-in 'hash' embedder, no model file)
//   dotnet run --project samples/TextSearch -- path/to/all-MiniLM-L6-v2/model.onnx   (a real sentence model;
//                                                                           its vocab.txt or tokenizer.json beside it)
using Microsoft.Data.Sqlite;
using SqlRec;

var model = args.Length > 0 ? Path.GetFullPath(args[0]) : null;

using var connection = new SqliteConnection("Data Source=:memory:");
connection.Open();
connection.UseSqlRec();

Execute("CREATE TABLE products(id INTEGER PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL)");
var products = new (string Title, string Description)[]
{
    ("Trail running shoes", "Lightweight shoes with a grippy sole for running on muddy mountain trails."),
    ("Road running shoes", "Cushioned running shoes for long distances on asphalt and pavement."),
    ("Hiking boots", "Waterproof leather boots with ankle support for hiking and trekking."),
    ("Rain jacket", "A breathable waterproof jacket that keeps you dry in heavy rain."),
    ("Down jacket", "A warm insulated jacket filled with down for cold winter days."),
    ("Wool socks", "Merino wool socks that stay warm and dry on long hikes."),
    ("Camping tent", "A two-person tent that sets up in minutes, for camping in wind and rain."),
    ("Sleeping bag", "A sleeping bag rated to minus five degrees for cold nights outdoors."),
    ("Headlamp", "A rechargeable headlamp with a bright beam for running or hiking at night."),
    ("Water bottle", "An insulated steel bottle that keeps drinks cold for a day."),
    ("Espresso machine", "Brews espresso and steams milk for cappuccino at home."),
    ("Coffee grinder", "A burr grinder for fresh coffee beans, from fine espresso to coarse filter."),
    ("French press", "Makes rich coffee in four minutes without paper filters."),
    ("Chef's knife", "A sharp steel kitchen knife for chopping vegetables and meat."),
    ("Cast iron pan", "A heavy pan for searing steak and baking cornbread in the oven."),
    ("Yoga mat", "A non-slip mat for yoga and stretching at home."),
    ("Dumbbells", "Adjustable weights for strength training at home."),
    ("Bike helmet", "A light helmet with ventilation for cycling on roads and trails."),
    ("Bike lights", "Front and rear lights so cyclists are seen at night."),
    ("Noise-cancelling headphones", "Wireless headphones that block out the noise of trains and planes."),
};
using (var transaction = connection.BeginTransaction())
{
    for (var i = 0; i < products.Length; i++) Execute("INSERT INTO products VALUES ($1, $2, $3)", i + 1, products[i].Title, products[i].Description);
    transaction.Commit();
}

// 1. An embedder: a real sentence model when one is given, else the built-in weight-free 'hash'.
var embedder = "hash";
if (model is not null)
{
    embedder = "text";
    Console.WriteLine(Scalar("SELECT rec_register_embedder('text', json_object('model', $1))", model));
}
var dimension = Convert.ToInt64(Scalar("SELECT vec_length(rec_embed($1, 'probe'))", embedder), System.Globalization.CultureInfo.InvariantCulture);

// 2. The whole catalogue into a vec0 table with one statement (batched, streamed).
Execute($"CREATE VIRTUAL TABLE product_vecs USING vec0(embedding float[{dimension}] distance_metric=cosine)");
var clock = System.Diagnostics.Stopwatch.StartNew();
Execute("INSERT INTO product_vecs(rowid, embedding) SELECT id, embedding FROM rec_embed_each($1, 'SELECT id, title || ''. '' || description FROM products')", embedder);
Console.WriteLine($"embedded {products.Length} products with '{embedder}' ({dimension} dimensions) in {clock.Elapsed.TotalMilliseconds:F0} ms");

// 3. Search: k nearest neighbours of the query's vector.
foreach (var query in new[] { "running shoes for mountain trails", "waterproof jacket for rain", "grinder for coffee beans", "lights for cycling at night" })
{
    Console.WriteLine();
    Console.WriteLine($"\"{query}\"");
    using var command = connection.CreateCommand();
    command.CommandText = """
        SELECT p.title, v.distance
        FROM product_vecs v JOIN products p ON p.id = v.rowid
        WHERE v.embedding MATCH rec_embed($embedder, $query) AND k = 3
        ORDER BY v.distance
        """;
    command.Parameters.AddWithValue("$embedder", embedder);
    command.Parameters.AddWithValue("$query", query);
    using var reader = command.ExecuteReader();
    while (reader.Read()) Console.WriteLine($"  {reader.GetDouble(1):F3}  {reader.GetString(0)}");
}
if (model is null) Console.WriteLine("\n('hash' matches shared words and spellings only; pass an all-MiniLM-L6-v2 model.onnx for search by meaning.)");
return 0;

void Execute(string sql, params object[] values)
{
    using var command = connection.CreateCommand();
    command.CommandText = sql;
    for (var i = 0; i < values.Length; i++) command.Parameters.AddWithValue($"${i + 1}", values[i]);
    command.ExecuteNonQuery();
}

object? Scalar(string sql, params object[] values)
{
    using var command = connection.CreateCommand();
    command.CommandText = sql;
    for (var i = 0; i < values.Length; i++) command.Parameters.AddWithValue($"${i + 1}", values[i]);
    return command.ExecuteScalar();
}
