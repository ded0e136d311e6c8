using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using SqlRec.Cli.Data;
using SqlRec.Cli.Output;

namespace SqlRec.Cli.Commands;

/// <summary>
/// <c>sqlrec score &lt;db&gt; --users "SELECT ..." --out file [--shard i/n]</c>: a batch scoring job
/// through <c>rec_score</c>, written (user, rank, item, score, source, cold_start) in the users
/// query's order to a new SQLite file or a CSV file, with the pinned model version recorded in it.
/// </summary>
internal static partial class ScoreCommand
{
    /// <summary>The statement the command streams from; a NULL model means the database's only model.</summary>
    public const string Sql =
        "SELECT user_id, rank, item_id, score, source, cold_start, version FROM rec_score($model, $users, $k, json_object('shard', $shard))";

    /// <summary>
    /// The version the job pinned, read in the same read transaction as <see cref="Sql"/> (so it is
    /// the one rec_score resolved), with its uid and kind.
    /// </summary>
    public const string VersionSql = """
        SELECT m.name, v.version, v.uid, v.kind FROM rec_models m JOIN rec_model_versions v ON v.model = m.name AND v.version = m.current_version
        WHERE m.name = coalesce($model, (SELECT name FROM rec_models WHERE current_version IS NOT NULL))
        """;

    /// <summary>The output formats.</summary>
    public static readonly string[] Formats = ["sqlite", "csv"];

    /// <summary>Builds the <c>score</c> command.</summary>
    public static Command Create(CliContext context)
    {
        var database = new Argument<string>("db") { Description = "The SQLite database holding the model (must exist); opened read-only." };
        var users = new Option<string>("--users")
        {
            Description = "A read-only SELECT returning one column, the user ids to score, e.g. \"SELECT id FROM users\"; rows come out in its order.",
            Required = true,
            HelpName = "select",
        };
        var output = new Option<string>("--out") { Description = "The output file; refused when it exists, unless --overwrite.", Required = true, HelpName = "file" };
        var format = new Option<string?>("--format")
        {
            Description = "sqlite (a table 'scores' and a table 'score_meta') or csv. Default: csv for a file ending in .csv, else sqlite.",
            HelpName = "format",
        };
        format.AcceptOnlyFromAmong(Formats);
        var model = new Option<string?>("--model") { Description = "The model's name; may be left out when the database has one model.", HelpName = "name" };
        var shard = new Option<string>("--shard")
        {
            Description = "i/n: score only shard i (0 to n - 1) of n, by XXH64 of the user id's text mod n; the n shards together are the whole job.",
            DefaultValueFactory = _ => "0/1",
            HelpName = "i/n",
        };
        var k = new Option<int>("--k", "-k") { Description = "Items per user (1 to 10000).", DefaultValueFactory = _ => 10, HelpName = "count" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the output file when it exists (at the end, when the job has succeeded)." };
        var snapshot = new Option<bool>("--snapshot")
        {
            Description = "Open the database read-only but not immutable, in one read transaction, for a file that is retrained in place while the job runs "
                + "(WAL mode); by default it is opened immutable, which suits a replica no process changes in place.",
        };
        var command = new Command("score", "Batch scoring: the top-k items for every user of a query (or of one shard of it) into a SQLite or CSV file, with rec_score().")
        {
            database, users, output, format, model, shard, k, overwrite, snapshot,
        };
        command.SetAction(parse => context.Guard(() => Run(context.Console, new Job(parse.GetValue(database)!, parse.GetValue(users)!,
            parse.GetValue(output)!, parse.GetValue(format), parse.GetValue(model), parse.GetValue(shard)!, parse.GetValue(k),
            parse.GetValue(overwrite), parse.GetValue(snapshot)))));
        return command;
    }

    /// <summary>What the command line asked for.</summary>
    internal sealed record Job(string Database, string Users, string Output, string? Format, string? Model, string Shard, int K, bool Overwrite, bool Snapshot);

    /// <summary>Checks <c>i/n</c> as rec_score does (digits only, 0 &lt;= i &lt; n &lt;= 65536), before any file is opened.</summary>
    public static void CheckShard(string shard)
    {
        var match = ShardPattern().Match(shard);
        if (!match.Success
            || !int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            || !int.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            || count < 1 || count > 65_536 || index >= count)
            throw CliErrors.ShardInvalid(shard);
    }

    [GeneratedRegex(@"^([0-9]{1,6})/([0-9]{1,6})$", RegexOptions.CultureInvariant)]
    private static partial Regex ShardPattern();

    private static void Run(IAnsiConsole console, Job job)
    {
        CheckShard(job.Shard);
        if (job.K is < 1 or > 10_000) throw CliErrors.OptionRange("-k", "between 1 and 10000", job.K);
        var databasePath = Path.GetFullPath(job.Database);
        var outputPath = Path.GetFullPath(job.Output);
        var format = job.Format ?? (outputPath.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? "csv" : "sqlite");
        if (string.Equals(outputPath, databasePath, StringComparison.Ordinal)) throw CliErrors.OutputIsDatabase(outputPath);
        if (Directory.Exists(outputPath)) throw CliErrors.OutputIsFolder(outputPath);
        if (File.Exists(outputPath) && !job.Overwrite) throw CliErrors.OutputExists(outputPath);
        var folder = Path.GetDirectoryName(outputPath);
        if (folder is { Length: > 0 } && !Directory.Exists(folder)) throw CliErrors.OutputFolderNotFound(folder);

        IStageProgress? target = null;
        string stage = "scoring";
        using var connection = Databases.OpenForScoring(databasePath, job.Snapshot, progress =>
        {
            if (progress.Stage == "scoring") target?.Report(stage, progress.Done, null);
        });
        // One read transaction: the version read below is the one rec_score pins, and with --snapshot
        // (WAL mode) a training that commits while the job runs is not seen by any of the job's reads.
        using var transaction = connection.BeginTransaction(deferred: true);
        using var interruption = Interruption.Watch(connection);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Sql;
        command.Parameters.AddWithValue("$model", (object?)job.Model ?? DBNull.Value);
        command.Parameters.AddWithValue("$users", job.Users);
        command.Parameters.AddWithValue("$k", job.K);
        command.Parameters.AddWithValue("$shard", job.Shard);
        var clock = Stopwatch.StartNew();
        // rec_score checks its arguments, pins the version and checks the users query when the statement starts.
        using var reader = command.ExecuteReader();
        var pinned = PinnedVersion(connection, transaction, job.Model);
        // No total: counting would run the users query twice (it may be long, or not return the same rows
        // twice); the progress shows the users scored so far.
        stage = $"scoring with model '{pinned.Model}' v{pinned.Version}, shard {job.Shard}";
        var partial = outputPath + ".partial";
        Databases.Delete(partial);
        ScoreTotals totals;
        try
        {
            totals = ProgressDisplay.Run(console, stages =>
            {
                target = stages;
                stages.Report(stage, 0, null);
                var header = new ScoreHeader(pinned, job, databasePath, DateTimeOffset.UtcNow);
                var written = format == "csv" ? ScoreOutput.WriteCsv(partial, reader, header) : ScoreOutput.WriteSqlite(partial, reader, header);
                target = null;
                return written;
            });
            if (job.Overwrite) Databases.Delete(outputPath);
            File.Move(partial, outputPath, overwrite: job.Overwrite);
        }
        catch
        {
            try { Databases.Delete(partial); } catch (CliException) { }
            throw;
        }
        var seconds = clock.Elapsed.TotalSeconds;
        console.MarkupLine($"[green]scored {ProgressDisplay.Count(totals.Users)} users ({ProgressDisplay.Count(totals.ColdUsers)} cold-start) "
            + $"with model '{Markup.Escape(pinned.Model)}' v{pinned.Version}, shard {job.Shard}: {ProgressDisplay.Count(totals.Rows)} rows into "
            + $"{Markup.Escape(outputPath)} ({format}) in {seconds.ToString("0.##", CultureInfo.InvariantCulture)} s, "
            + $"{(totals.Users / Math.Max(seconds, 1e-9)).ToString("0", CultureInfo.InvariantCulture)} users/s[/]");
    }

    private static PinnedModel PinnedVersion(SqliteConnection connection, SqliteTransaction transaction, string? model)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = VersionSql;
        command.Parameters.AddWithValue("$model", (object?)model ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        if (!reader.Read()) throw new InvalidOperationException("rec_score started, but the model's serving version cannot be read back.");
        return new PinnedModel(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3));
    }
}

/// <summary>The model version a scoring job pinned.</summary>
internal sealed record PinnedModel(string Model, long Version, string Uid, string Kind);

/// <summary>What a scoring output records about the job that wrote it.</summary>
internal sealed record ScoreHeader(PinnedModel Pinned, ScoreCommand.Job Job, string Database, DateTimeOffset Started)
{
    /// <summary>The (key, value) pairs, in order: the table <c>score_meta</c> and the CSV's comment lines.</summary>
    public IEnumerable<(string Key, object Value)> Pairs()
    {
        yield return ("model", Pinned.Model);
        yield return ("version", Pinned.Version);
        yield return ("version_uid", Pinned.Uid);
        yield return ("kind", Pinned.Kind);
        yield return ("k", (long)Job.K);
        yield return ("shard", Job.Shard);
        yield return ("shard_rule", "XXH64(UTF-8 text of the user id, seed 0) mod n");
        yield return ("users_query", Job.Users);
        yield return ("database", Database);
        yield return ("opened", Job.Snapshot ? "read-only, one read transaction" : "read-only, immutable");
        yield return ("started_at", Started.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        yield return ("sqlrec_version", typeof(SqlRecOptions).Assembly.GetName().Version?.ToString(3) ?? "?");
    }
}

/// <summary>Counts of a finished scoring job.</summary>
internal sealed record ScoreTotals(long Users, long ColdUsers, long Rows);

/// <summary>Writes rec_score's rows to a file, in the order they come.</summary>
internal static class ScoreOutput
{
    /// <summary>The columns of the output, in order.</summary>
    public static readonly string[] Columns = ["user_id", "rank", "item_id", "score", "source", "cold_start"];

    /// <summary>A new SQLite file: table <c>scores</c> (the rows, rowid in streaming order) and <c>score_meta</c> (key, value).</summary>
    public static ScoreTotals WriteSqlite(string path, SqliteDataReader reader, ScoreHeader header)
    {
        using var output = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        output.Open();
        using (var pragma = output.CreateCommand())
        {
            // A new file, renamed into place only when complete: no journal is needed to protect it.
            pragma.CommandText = "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
                + "CREATE TABLE score_meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID; "
                + "CREATE TABLE scores(user_id, rank INTEGER, item_id, score REAL, source TEXT, cold_start INTEGER);";
            pragma.ExecuteNonQuery();
        }
        using var transaction = output.BeginTransaction();
        using var meta = output.CreateCommand();
        meta.Transaction = transaction;
        meta.CommandText = "INSERT INTO score_meta VALUES ($key, $value)";
        var key = meta.Parameters.Add("$key", SqliteType.Text);
        var value = meta.Parameters.Add("$value", SqliteType.Text);
        void Meta(string k, object v)
        {
            key.Value = k;
            value.Value = v;
            meta.ExecuteNonQuery();
        }
        foreach (var (k, v) in header.Pairs()) Meta(k, v);
        using var insert = output.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO scores VALUES ($1, $2, $3, $4, $5, $6)";
        var parameters = Enumerable.Range(1, 6).Select(i => insert.Parameters.Add(new SqliteParameter($"${i}", null))).ToArray();
        insert.Prepare();
        var totals = Stream(reader, header, row =>
        {
            for (var i = 0; i < 6; i++) parameters[i].Value = row[i];
            insert.ExecuteNonQuery();
        });
        Meta("users", totals.Users);
        Meta("cold_start_users", totals.ColdUsers);
        Meta("rows", totals.Rows);
        Meta("finished_at", DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        transaction.Commit();
        return totals;
    }

    /// <summary>
    /// A CSV file (RFC 4180, UTF-8, LF): lines starting with <c># </c> that record the job (key: value),
    /// then the header, then the rows. Scores are written with round-trip precision.
    /// </summary>
    public static ScoreTotals WriteCsv(string path, SqliteDataReader reader, ScoreHeader header)
    {
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(false), 1 << 16) { NewLine = "\n" };
        foreach (var (key, value) in header.Pairs())
            writer.WriteLine($"# {key}: {Convert.ToString(value, CultureInfo.InvariantCulture)!.ReplaceLineEndings(" ")}");
        writer.WriteLine(string.Join(",", Columns));
        var line = new StringBuilder();
        var totals = Stream(reader, header, row =>
        {
            line.Clear();
            for (var i = 0; i < 6; i++)
            {
                if (i > 0) line.Append(',');
                line.Append(Field(row[i]));
            }
            writer.WriteLine(line);
        });
        writer.WriteLine($"# users: {totals.Users}, cold_start_users: {totals.ColdUsers}, rows: {totals.Rows}");
        return totals;
    }

    /// <summary>A CSV field: numbers as invariant text (doubles round-trip), text quoted when it must be.</summary>
    public static string Field(object? value) => value switch
    {
        null => "",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string s when s.AsSpan().IndexOfAny(",\"\r\n#") >= 0 || s.Length == 0 || s.Trim().Length != s.Length => "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"",
        string s => s,
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    private static ScoreTotals Stream(SqliteDataReader reader, ScoreHeader header, Action<object?[]> write)
    {
        long users = 0, cold = 0, rows = 0;
        var values = new object?[7];
        object? lastUser = null;
        var first = true;
        while (reader.Read())
        {
            for (var i = 0; i < 7; i++) values[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            if ((long)values[6]! != header.Pinned.Version)
                throw new InvalidOperationException($"rec_score returned rows of version {values[6]} after pinning version {header.Pinned.Version}.");
            // A new user starts at rank 1 (a repeated id in the users query is a new run of rows too).
            if (first || (long)values[1]! == 1L || !Equals(values[0], lastUser))
            {
                users++;
                if ((long)values[5]! == 1L) cold++;
            }
            first = false;
            lastUser = values[0];
            rows++;
            write(values);
        }
        return new ScoreTotals(users, cold, rows);
    }
}
