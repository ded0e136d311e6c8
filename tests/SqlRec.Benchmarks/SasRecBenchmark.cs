using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using SqlRec.Models;

namespace SqlRec.Benchmarks;

/// <summary>
/// Next-item recommendation on MovieLens: every rating is an interaction, ordered by its
/// timestamp, and the split is leave-one-out by time (each user's newest item is the test item,
/// <c>rec_evaluate</c>'s split 'last'; sasrec holds the one before it out as its validation cut).
/// Every kind is trained on the same training part with the same code path as <c>rec_train</c>
/// (<see cref="ModelTraining.Train"/>) and ranked with <c>rec_evaluate</c>'s evaluator: full ranking
/// over every item, the user's training items left out, HR@10 (= recall@10 with one test item),
/// NDCG@10 and MRR@10, overall and on the long-tail slice (users whose test item is outside the top
/// 20% of items by training popularity). sasrec runs ID-only and with item text (title + genres,
/// embedded through SQL with 'hash' or all-MiniLM-L6-v2, through the trained adapter and added to the
/// ID embedding). Seeds change every trained kind's initialisation and sampling, not the split.
/// Then, on the last data set, sasrec's epoch time and positions per second from its metrics, and
/// recommend()'s p50/p95 through SQL (a 1-epoch model: latency does not depend on the training).
/// Not measured: sampled-negative metrics (the paper's 100 negatives), GPU, longer training than
/// the epochs given (the paper trains 200 epochs on ML-1M; 2 shared cores do not allow it here).
/// </summary>
public static class SasRecBenchmark
{
    private const int K = 10;

    private sealed record DataSet(string Name, string Folder, Interactions Data, string[] Texts, Dictionary<long, int> TextOf);

    public static int Run(string[] args)
    {
        var sets = new List<string>();
        int[] seeds = [1];
        var kinds = new List<string> { "popular", "graph_filter", "ease", "lightgcn", "sasrec", "sasrec_text" };
        var embedder = "hash";
        var epochs = new Dictionary<string, int>();
        var maxLen = new Dictionary<string, int>();
        var extra = "";
        foreach (var arg in args)
        {
            if (arg.StartsWith("seeds=", StringComparison.Ordinal)) seeds = [.. arg[6..].Split(',').Select(int.Parse)];
            else if (arg.StartsWith("kinds=", StringComparison.Ordinal)) kinds = [.. arg[6..].Split(',')];
            else if (arg.StartsWith("embedder=", StringComparison.Ordinal)) embedder = arg[9..];
            else if (arg.StartsWith("epochs=", StringComparison.Ordinal)) PerSet(arg[7..], epochs);
            else if (arg.StartsWith("max_len=", StringComparison.Ordinal)) PerSet(arg[8..], maxLen);
            else if (arg.StartsWith("sasrec=", StringComparison.Ordinal)) extra = arg[7..];
            else sets.Add(arg);
        }
        if (sets.Count == 0) sets = ["ml-100k", "ml-1m"];
        Console.WriteLine($"leave-one-out by time, full ranking, @{K}; seeds {string.Join(',', seeds)} (mean +- standard error over seeds when more than one); text embedder '{embedder}'");
        DataSet? last = null;
        var results = new List<string>();
        foreach (var set in sets)
        {
            var data = Load(set);
            if (data is null) return 2;
            last = data;
            var split = Splits.Split(data.Data, SplitMethod.Last, 0, 0);
            var train = split.Train;
            var heldOut = split.HeldOut;
            var longTail = LongTail(train, heldOut);
            var singleItemUsers = data.Data.Users.Count - heldOut.UserCount;
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{data.Name}: {data.Data.Users.Count:N0} users, {data.Data.Items.Count:N0} items, {data.Data.RowCount:N0} interactions; {heldOut.UserCount:N0} test users " +
                $"({singleItemUsers} with one item, not evaluable), {longTail.UserCount:N0} with a long-tail test item"));
            var epochCount = epochs.GetValueOrDefault(data.Name, data.Name == "ML-1M" ? 30 : 40);
            var length = maxLen.GetValueOrDefault(data.Name, data.Name == "ML-1M" ? 100 : 50);
            ItemContent? content = null;
            if (kinds.Contains("sasrec_text")) content = Content(data, train, embedder);
            Console.WriteLine();
            Console.WriteLine($"| data | model | HR@{K} | NDCG@{K} | MRR@{K} | long-tail HR@{K} | long-tail NDCG@{K} | train s | notes |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
            foreach (var kind in kinds)
            {
                var runs = new List<(double Hr, double Ndcg, double Mrr, double TailHr, double TailNdcg, double Seconds, string Notes)>();
                foreach (var seed in seeds)
                {
                    var (name, options) = Options(kind, seed, epochCount, length, extra);
                    var plan = TrainingPlan.Read("benchmark", options);
                    var context = new TrainingContext("benchmark", name, null, CancellationToken.None);
                    var clock = Stopwatch.StartNew();
                    var artifacts = ModelTraining.Train(plan.Kind, plan.Options, train, kind == "sasrec_text" ? content : null, context);
                    var seconds = clock.Elapsed.TotalSeconds;
                    var model = ServableModel.Load(plan.Kind, plan.Options, train.Users, train.Items, artifacts.Arrays);
                    var all = RankingEvaluator.Run(model, heldOut, [K]);
                    var tail = RankingEvaluator.Run(model, longTail, [K]);
                    runs.Add((all[$"hit_rate@{K}"], all[$"ndcg@{K}"], all[$"mrr@{K}"], tail[$"hit_rate@{K}"], tail[$"ndcg@{K}"], seconds, Notes(artifacts.Metrics)));
                }
                var line = string.Create(CultureInfo.InvariantCulture,
                    $"| {data.Name} | {Label(kind, embedder)} | {Stat(runs.Select(r => r.Hr))} | {Stat(runs.Select(r => r.Ndcg))} | {Stat(runs.Select(r => r.Mrr))} | " +
                    $"{Stat(runs.Select(r => r.TailHr))} | {Stat(runs.Select(r => r.TailNdcg))} | {runs.Average(r => r.Seconds):F1} | {runs[0].Notes} |");
                Console.WriteLine(line);
                results.Add(line);
            }
        }
        if (last is not null && kinds.Any(k => k.StartsWith("sasrec", StringComparison.Ordinal)))
            Latency(last, maxLen.GetValueOrDefault(last.Name, last.Name == "ML-1M" ? 100 : 50), extra);
        return 0;
    }

    /// <summary>"30" for every data set, or "ml-1m:30,ml-100k:60".</summary>
    private static void PerSet(string text, Dictionary<string, int> target)
    {
        foreach (var part in text.Split(','))
        {
            var p = part.Split(':');
            if (p.Length == 2) target[p[0].ToUpperInvariant()] = int.Parse(p[1], CultureInfo.InvariantCulture);
            else target["ML-1M"] = target["ML-100K"] = int.Parse(p[0], CultureInfo.InvariantCulture);
        }
    }

    private static string Label(string kind, string embedder) => kind switch
    {
        "sasrec" => "sasrec (ID only)",
        "sasrec_text" => $"sasrec + text ({embedder})",
        "graph_filter" => "graph_filter (GF-CF)",
        _ => kind,
    };

    /// <summary>The training options of each kind as rec_train takes them.</summary>
    private static (string Name, string Json) Options(string kind, int seed, int epochs, int maxLen, string extra)
    {
        var json = new JsonObject { ["source"] = "unused" };
        switch (kind)
        {
            case "popular":
            case "graph_filter":
            case "ease":
                json["model"] = kind;
                break;
            case "lightgcn":
                json["model"] = kind;
                json["epochs"] = 40;
                json["batch"] = 8192;
                json["lr"] = 0.005;
                json["seed"] = seed;
                break;
            default:
                json["model"] = "sasrec";
                json["max_len"] = maxLen;
                json["epochs"] = epochs;
                json["batch"] = 64;
                json["lr"] = 0.001;
                json["eval_every"] = 2;
                json["patience"] = 5;
                json["seed"] = seed;
                if (kind == "sasrec_text") json["item_text"] = "unused";
                foreach (var pair in extra.Split(';', StringSplitOptions.RemoveEmptyEntries))
                {
                    var (key, value) = (pair.Split(':')[0], pair.Split(':')[1]);
                    json[key] = double.Parse(value, CultureInfo.InvariantCulture) is var number && number == Math.Floor(number) ? (int)number : number;
                }
                break;
        }
        if (kind == "graph_filter" && seed != 0) json["seed"] = seed;
        return (kind, json.ToJsonString());
    }

    private static string Notes(JsonObject metrics)
    {
        if (!metrics.ContainsKey("positions_per_second")) return metrics.ContainsKey("epochs") ? $"{metrics["epochs"]} epochs" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{metrics["epochs"]} epochs (best {metrics["best_epoch"]}), {metrics["seconds_per_epoch"]} s/epoch, {(double)metrics["positions_per_second"]!:N0} positions/s");
    }

    private static string Stat(IEnumerable<double> values)
    {
        var v = values.ToArray();
        var mean = v.Average();
        if (v.Length == 1) return mean.ToString("F4", CultureInfo.InvariantCulture);
        var se = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1) / v.Length);
        return string.Create(CultureInfo.InvariantCulture, $"{mean:F4} +- {se:F4}");
    }

    /// <summary>The test users whose test item is outside the top 20% of items by training interactions.</summary>
    private static HeldOut LongTail(Interactions train, HeldOut heldOut)
    {
        var counts = new int[train.Items.Count];
        foreach (var item in train.UserItems) counts[item]++;
        var head = new HashSet<int>(Enumerable.Range(0, counts.Length).OrderByDescending(i => counts[i]).ThenBy(i => i).Take(counts.Length / 5));
        var builder = new HeldOutBuilder();
        for (var row = 0; row < heldOut.UserCount; row++)
        {
            var items = heldOut.ItemsOf(row);
            // An unknown test item (its only interaction was the test) is long-tail too; it can never be hit.
            if (items.Length == 0) builder.AddUnknown(heldOut.Users[row]);
            else if (!head.Contains(items[0])) builder.AddKnown(heldOut.Users[row], items[0]);
        }
        return builder.Build();
    }

    /// <summary>Text vectors (title + genres) of the training part's items, embedded through SQL.</summary>
    private static ItemContent Content(DataSet data, Interactions train, string embedder)
    {
        var vectors = ColdTextBenchmark.Embed(data.Texts, embedder, embedder == "minilm" ? "json_object('model', 'all-MiniLM-L6-v2')" : null);
        var dim = vectors[0].Length;
        var features = new float[train.Items.Count * dim];
        var has = new bool[train.Items.Count];
        for (var i = 0; i < train.Items.Count; i++)
        {
            if (!data.TextOf.TryGetValue(Convert.ToInt64(train.Items.Ids[i].ToValue(), CultureInfo.InvariantCulture), out var text)) continue;
            vectors[text].CopyTo(features, i * dim);
            has[i] = true;
        }
        return new ItemContent
        {
            Items = train.Items.Count,
            Modalities = [new ItemModality { Name = "item_text", Weight = 1, Dimension = dim, Features = features, Has = has }],
        };
    }

    /// <summary>
    /// recommend() through SQL on a 1-epoch sasrec model of the whole data: each call reads the user's
    /// current sequence through the stored source (an index on the user column makes it a lookup),
    /// runs the network once and ranks every item. Also an explicit 'sequence' (no read).
    /// </summary>
    private static void Latency(DataSet data, int maxLen, string extra)
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        connection.UseSqlRec();
        Execute(connection, "CREATE TABLE ratings(user_id INTEGER, item_id INTEGER, ts INTEGER)");
        using (var transaction = connection.BeginTransaction())
        {
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO ratings VALUES ($u, $i, $t)";
            var u = insert.Parameters.Add("$u", SqliteType.Integer);
            var i = insert.Parameters.Add("$i", SqliteType.Integer);
            var t = insert.Parameters.Add("$t", SqliteType.Integer);
            for (var r = 0; r < data.Data.RowCount; r++)
            {
                u.Value = data.Data.Users.Ids[data.Data.RowUsers[r]].ToValue();
                i.Value = data.Data.Items.Ids[data.Data.RowItems[r]].ToValue();
                t.Value = (long)data.Data.RowTimes![r];
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        Execute(connection, "CREATE INDEX ratings_user ON ratings(user_id, ts)");
        var clock = Stopwatch.StartNew();
        Execute(connection, $"SELECT rec_train('seq', json_object('model', 'sasrec', 'source', 'SELECT user_id, item_id, 1, ts FROM ratings', 'max_len', {maxLen}, 'epochs', 1, 'patience', 0))");
        var trainSeconds = clock.Elapsed.TotalSeconds;
        var users = Enumerable.Range(0, 400).Select(x => data.Data.Users.Ids[x * 7919 % data.Data.Users.Count].ToValue()).ToArray();
        Execute(connection, $"SELECT recommend({users[0]}, 10, 'seq')");
        var live = Time(connection, users.Select(u => $"SELECT recommend({u}, 10, 'seq')"));
        var sequences = users.Select(u => "json_array(" + string.Join(',', Enumerable.Range(0, 20).Select(j => data.Data.Items.Ids[(Convert.ToInt32(u, CultureInfo.InvariantCulture) * 31 + j * 17) % data.Data.Items.Count].ToValue())) + ")");
        var given = Time(connection, sequences.Select(s => $"SELECT recommend(NULL, 10, 'seq', json_object('sequence', {s}))"));
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"recommend() through SQL on {data.Name} (sasrec, max_len {maxLen}, dim 64, 2 blocks; 1-epoch model, trained in {trainSeconds:F1} s; warm, one call at a time, 400 users):"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"- live sequence read through the source: p50 {live.P50:F2} ms, p95 {live.P95:F2} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"- explicit 20-item 'sequence': p50 {given.P50:F2} ms, p95 {given.P95:F2} ms"));
    }

    private static (double P50, double P95) Time(SqliteConnection connection, IEnumerable<string> queries)
    {
        var times = new List<double>();
        foreach (var sql in queries)
        {
            var clock = Stopwatch.StartNew();
            Execute(connection, sql);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return (times[times.Count / 2], times[(int)(times.Count * 0.95)]);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteScalar();
    }

    /// <summary>All ratings as (user, item, time) interactions, and the items' texts (title + genres).</summary>
    private static DataSet? Load(string set)
    {
        var folder = Directory.Exists(set) ? set : SharedData.PathOf(set);
        var latin1 = System.Text.Encoding.Latin1;
        var texts = new List<string>();
        var textOf = new Dictionary<long, int>();
        var rows = new List<(long User, long Item, double Time)>();
        string name;
        if (File.Exists(Path.Combine(folder, "u.data")))
        {
            name = "ML-100K";
            string[] genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
                "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"];
            foreach (var f in File.ReadLines(Path.Combine(folder, "u.item"), latin1).Select(l => l.Split('|')).Where(f => f.Length >= 24))
            {
                textOf[long.Parse(f[0], CultureInfo.InvariantCulture)] = texts.Count;
                texts.Add(f[1] + " " + string.Join(' ', genres.Where((_, g) => f[5 + g] == "1")));
            }
            foreach (var f in File.ReadLines(Path.Combine(folder, "u.data")).Select(l => l.Split('\t')))
                rows.Add((long.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture), double.Parse(f[3], CultureInfo.InvariantCulture)));
        }
        else if (File.Exists(Path.Combine(folder, "ratings.dat")))
        {
            name = "ML-1M";
            foreach (var f in File.ReadLines(Path.Combine(folder, "movies.dat"), latin1).Select(l => l.Split("::")).Where(f => f.Length >= 3))
            {
                textOf[long.Parse(f[0], CultureInfo.InvariantCulture)] = texts.Count;
                texts.Add(f[1] + " " + f[2].Replace('|', ' '));
            }
            foreach (var f in File.ReadLines(Path.Combine(folder, "ratings.dat")).Select(l => l.Split("::")))
                rows.Add((long.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture), double.Parse(f[3], CultureInfo.InvariantCulture)));
        }
        else
        {
            Console.Error.WriteLine($"no MovieLens files (u.item + u.data, or movies.dat + ratings.dat) in '{folder}'");
            return null;
        }
        // Interactions as the source reader builds them: provisional codes in first-appearance order, then sorted ids.
        var userCodes = new Dictionary<long, int>();
        var itemCodes = new Dictionary<long, int>();
        var userIds = new List<ExternalId>();
        var itemIds = new List<ExternalId>();
        int Code(Dictionary<long, int> codes, List<ExternalId> ids, long id)
        {
            if (codes.TryGetValue(id, out var code)) return code;
            codes[id] = ids.Count;
            ids.Add(ExternalId.Of(id));
            return ids.Count - 1;
        }
        var rowUsers = rows.Select(r => Code(userCodes, userIds, r.User)).ToArray();
        var rowItems = rows.Select(r => Code(itemCodes, itemIds, r.Item)).ToArray();
        var data = Interactions.Build(userIds, itemIds, rowUsers, rowItems, [.. rows.Select(_ => 1f)], [.. rows.Select(r => r.Time)]);
        return new DataSet(name, folder, data, [.. texts], textOf);
    }
}
