using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SqlRec.Cli.Output;

namespace SqlRec.Cli.Data;

/// <summary>
/// Imports a data set in the NGCF / LightGCN format (<c>train.txt</c> and <c>test.txt</c>, each
/// line <c>user item item ...</c> with 0-based integer ids) into the tables <c>train</c> and
/// <c>test</c>, one (user_id, item_id) row per pair.
/// </summary>
internal static class LightGcnImporter
{
    /// <summary>The tables an import creates, named after the files they come from.</summary>
    public static readonly IReadOnlyList<string> Tables = ["train", "test"];

    private const int ReportEvery = 1024;

    /// <summary>What a line must look like, as error messages say it, given the token that is not an id.</summary>
    internal static string LineShape(string badToken) => $"non-negative integers separated by spaces, 'user item item ...', got '{badToken}'";

    /// <summary>Reads the files in <paramref name="directory"/> and writes them into <paramref name="dbPath"/> in one transaction.</summary>
    public static ImportSummary Import(string directory, string dbPath, bool replace, IStageProgress progress)
    {
        var folder = Path.GetFullPath(directory);
        if (!Directory.Exists(folder)) throw CliErrors.DirectoryNotFound(folder);
        using var train = LineFile.Open(Path.Combine(folder, "train.txt"), Encoding.UTF8);
        using var test = LineFile.Open(Path.Combine(folder, "test.txt"), Encoding.UTF8);

        using var target = ImportTarget.Open(dbPath, Tables, replace);
        var users = new HashSet<int>();
        var items = new HashSet<int>();
        var counts = new List<(string, long)>();
        foreach (var (file, table) in new[] { (train, "train"), (test, "test") })
        {
            target.Execute($"CREATE TABLE {table}(user_id INTEGER, item_id INTEGER)");
            counts.Add((table, ImportPairs(target, file, table, users, items, progress)));
            // Built after the rows are in: one sort instead of a B-tree update per insert.
            target.Execute($"CREATE INDEX {table}_user_id ON {table}(user_id)");
        }
        target.Commit();
        return new ImportSummary(counts, users.Count, items.Count);
    }

    private static long ImportPairs(ImportTarget target, LineFile file, string table, HashSet<int> users, HashSet<int> items, IStageProgress progress)
    {
        // One prepared statement, re-bound per row: about a million rows a second inside the
        // transaction, where building SQL text per row would be several times slower.
        using var insert = target.CreateCommand($"INSERT INTO {table}(user_id, item_id) VALUES ($user, $item)");
        var user = insert.Parameters.Add("$user", SqliteType.Integer);
        var item = insert.Parameters.Add("$item", SqliteType.Integer);
        insert.Prepare();
        var stage = $"loading {file.Name}";
        progress.Report(stage, 0, file.Length);
        long pairs = 0, lines = 0;
        while (file.ReadLine() is { } line)
        {
            var span = line.AsSpan();
            var first = true;
            foreach (var range in span.Split(' '))
            {
                var token = span[range];
                if (token.IsEmpty) continue; // tolerate doubled and trailing spaces
                if (!int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                    throw file.Malformed(LineShape(token.ToString()), line);
                if (first)
                {
                    user.Value = id;
                    users.Add(id);
                    first = false;
                    continue;
                }
                item.Value = id;
                items.Add(id);
                insert.ExecuteNonQuery();
                pairs++;
            }
            // A line with only a user id is a user without interactions: nothing to insert.
            if (++lines % ReportEvery == 0) progress.Report(stage, file.Position, file.Length);
        }
        progress.Report(stage, file.Length, file.Length);
        return pairs;
    }
}
