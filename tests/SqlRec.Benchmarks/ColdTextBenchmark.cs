using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace SqlRec.Benchmarks;

/// <summary>
/// Content-only recommendations for cold items, the quality of text vectors alone: per seed, a
/// seeded 15% of the items with positives (ratings &gt;= 4) are held out entirely; the rest are the
/// users' training items. For each user with a positive on a held-out item, the held-out items are
/// ranked by plain text kNN to the user's training items (score = the sum of the cosines between
/// the item's text vector and each training item's), and recall@20 / ndcg@20 are computed among
/// the held-out items (recall = hits / the user's held-out positives, as LightGCN and MMRec count
/// it). Text = title + genres, embedded through SQL (<c>rec_embed_each</c>) with the built-in
/// <c>hash</c> embedder and with all-MiniLM-L6-v2. Baselines in the same run: a random order, and
/// popularity, which cannot rank items nobody has interacted with (every held-out item has 0
/// training interactions, so its order is a random tie-break). Means over the seeds with the
/// standard error of the mean. Not measured: hybrid models (FREEDOM's cold-start figures are in
/// <c>freedom</c>), warm items, speed.
/// </summary>
public static class ColdTextBenchmark
{
    private const int K = 20;

    private sealed record DataSet(string Name, string[] Texts, int[] ItemOf, List<(int User, int Item)> Positives);

    public static int Run(string[] args)
    {
        var sets = new List<string>();
        int[] seeds = [1, 2, 3];
        var share = 0.15;
        foreach (var arg in args)
        {
            if (arg.StartsWith("seeds=", StringComparison.Ordinal)) seeds = [.. arg[6..].Split(',').Select(int.Parse)];
            else if (arg.StartsWith("share=", StringComparison.Ordinal)) share = double.Parse(arg[6..], CultureInfo.InvariantCulture);
            else sets.Add(arg);
        }
        if (sets.Count == 0) sets = ["ml-100k", "ml-1m"];
        Console.WriteLine($"cold items: {share:P0} of the items with positives held out per seed, seeds {string.Join(',', seeds)}; @{K} among the held-out items; mean +- standard error over seeds");
        Console.WriteLine();
        Console.WriteLine($"| data | items (held out per seed) | test users (mean) | method | recall@{K} | ndcg@{K} |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var set in sets)
        {
            var data = Load(set);
            if (data == null) return 2;
            var vectors = new Dictionary<string, float[][]>
            {
                ["text kNN, hash"] = Embed(data.Texts, "hash", null),
                ["text kNN, MiniLM"] = Embed(data.Texts, "minilm", "json_object('model', 'all-MiniLM-L6-v2')"),
            };
            var methods = new[] { "random", "popular", "text kNN, hash", "text kNN, MiniLM" };
            var results = methods.ToDictionary(m => m, _ => new List<(double Recall, double Ndcg)>());
            var users = new List<double>();
            var itemCount = data.Texts.Length;
            var heldOut = 0;
            foreach (var seed in seeds)
            {
                var random = new Random(seed);
                var withPositives = data.Positives.Select(p => p.Item).Distinct().Order().ToArray();
                random.Shuffle(withPositives);
                heldOut = (int)Math.Round(withPositives.Length * share);
                var cold = withPositives[..heldOut].Order().ToArray();
                var isCold = new HashSet<int>(cold);
                var training = data.Positives.Where(p => !isCold.Contains(p.Item)).GroupBy(p => p.User).ToDictionary(g => g.Key, g => g.Select(p => p.Item).ToArray());
                var test = data.Positives.Where(p => isCold.Contains(p.Item) && training.ContainsKey(p.User)).GroupBy(p => p.User).ToDictionary(g => g.Key, g => g.Select(p => p.Item).ToHashSet());
                users.Add(test.Count);
                foreach (var method in methods)
                {
                    var order = new Random(seed * 1000 + Array.IndexOf(methods, method));
                    double recall = 0, ndcg = 0;
                    foreach (var (user, positives) in test.OrderBy(t => t.Key))
                    {
                        double[] scores;
                        if (vectors.TryGetValue(method, out var v))
                        {
                            var profile = new float[v[0].Length];
                            foreach (var item in training[user])
                                System.Numerics.Tensors.TensorPrimitives.Add(profile, v[item], profile);
                            scores = [.. cold.Select(c => (double)System.Numerics.Tensors.TensorPrimitives.Dot(profile, v[c]))];
                        }
                        else
                        {
                            // random; popular: every held-out item has no training interaction, so all tie at 0
                            // and a random tie-break decides.
                            scores = [.. cold.Select(_ => order.NextDouble())];
                        }
                        var top = Enumerable.Range(0, cold.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).Take(K).ToArray();
                        double hits = 0, dcg = 0, ideal = 0;
                        for (var r = 0; r < top.Length; r++)
                        {
                            if (positives.Contains(cold[top[r]])) { hits++; dcg += 1 / Math.Log2(r + 2); }
                        }
                        for (var r = 0; r < Math.Min(K, positives.Count); r++) ideal += 1 / Math.Log2(r + 2);
                        recall += hits / positives.Count;
                        ndcg += dcg / ideal;
                    }
                    results[method].Add((recall / test.Count, ndcg / test.Count));
                }
            }
            foreach (var method in methods)
            {
                var r = results[method];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {data.Name} | {itemCount:N0} ({heldOut:N0}) | {users.Average():F0} | {method} | {Stat(r.Select(x => x.Recall))} | {Stat(r.Select(x => x.Ndcg))} |"));
            }
        }
        return 0;
    }

    private static string Stat(IEnumerable<double> values)
    {
        var v = values.ToArray();
        var mean = v.Average();
        var se = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1) / v.Length) : 0;
        return string.Create(CultureInfo.InvariantCulture, $"{mean:F4} +- {se:F4}");
    }

    /// <summary>Unit text vectors, one per dense item index, embedded through SQL.</summary>
    internal static float[][] Embed(string[] texts, string name, string? register)
    {
        var clock = Stopwatch.StartNew();
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        connection.UseSqlRec();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = (register != null ? $"SELECT rec_register_embedder('{name}', {register}); " : "") + "CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT NOT NULL)";
            command.ExecuteNonQuery();
        }
        using (var transaction = connection.BeginTransaction())
        {
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO docs VALUES ($id, $body)";
            var id = insert.Parameters.Add("$id", SqliteType.Integer);
            var body = insert.Parameters.Add("$body", SqliteType.Text);
            for (var i = 0; i < texts.Length; i++)
            {
                id.Value = i;
                body.Value = texts[i];
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        var vectors = new float[texts.Length][];
        using (var query = connection.CreateCommand())
        {
            query.CommandText = $"SELECT id, embedding FROM rec_embed_each('{name}', 'SELECT id, body FROM docs')";
            using var reader = query.ExecuteReader();
            while (reader.Read())
            {
                var blob = (byte[])reader.GetValue(1);
                var v = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(blob).ToArray();
                var norm = System.Numerics.Tensors.TensorPrimitives.Norm(v);
                if (norm > 0) System.Numerics.Tensors.TensorPrimitives.Divide(v, norm, v);
                vectors[reader.GetInt32(0)] = v;
            }
        }
        Console.Error.WriteLine($"{name}: {texts.Length} texts embedded in {clock.Elapsed.TotalSeconds:F1} s");
        return vectors;
    }

    private static DataSet? Load(string set)
    {
        var folder = Directory.Exists(set) ? set : SharedData.PathOf(set);
        var latin1 = System.Text.Encoding.Latin1;
        var index = new Dictionary<int, int>();
        var texts = new List<string>();
        var items = new List<int>();
        var positives = new List<(int, int)>();
        if (File.Exists(Path.Combine(folder, "u.item")))
        {
            string[] genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
                "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"];
            foreach (var f in File.ReadLines(Path.Combine(folder, "u.item"), latin1).Select(l => l.Split('|')).Where(f => f.Length >= 24))
            {
                index[int.Parse(f[0], CultureInfo.InvariantCulture)] = texts.Count;
                items.Add(int.Parse(f[0], CultureInfo.InvariantCulture));
                texts.Add(f[1] + " " + string.Join(' ', genres.Where((_, g) => f[5 + g] == "1")));
            }
            foreach (var f in File.ReadLines(Path.Combine(folder, "u.data")).Select(l => l.Split('\t')))
                if (int.Parse(f[2], CultureInfo.InvariantCulture) >= 4) positives.Add((int.Parse(f[0], CultureInfo.InvariantCulture), index[int.Parse(f[1], CultureInfo.InvariantCulture)]));
            return new DataSet("ML-100K", [.. texts], [.. items], positives);
        }
        if (File.Exists(Path.Combine(folder, "movies.dat")))
        {
            foreach (var f in File.ReadLines(Path.Combine(folder, "movies.dat"), latin1).Select(l => l.Split("::")).Where(f => f.Length >= 3))
            {
                index[int.Parse(f[0], CultureInfo.InvariantCulture)] = texts.Count;
                items.Add(int.Parse(f[0], CultureInfo.InvariantCulture));
                texts.Add(f[1] + " " + f[2].Replace('|', ' '));
            }
            foreach (var f in File.ReadLines(Path.Combine(folder, "ratings.dat")).Select(l => l.Split("::")))
                if (int.Parse(f[2], CultureInfo.InvariantCulture) >= 4) positives.Add((int.Parse(f[0], CultureInfo.InvariantCulture), index[int.Parse(f[1], CultureInfo.InvariantCulture)]));
            return new DataSet("ML-1M", [.. texts], [.. items], positives);
        }
        Console.Error.WriteLine($"no MovieLens files (u.item + u.data, or movies.dat + ratings.dat) in '{folder}'");
        return null;
    }
}
