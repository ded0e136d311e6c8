using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using SqlRec.Cli.Data;
using SqlRec.Cli.Output;

namespace SqlRec.Cli.Commands;

/// <summary>
/// Runs <c>rec_train</c> or <c>rec_evaluate</c> through SQL with a progress display. SqlRec reports progress through the
/// callback given to <c>UseSqlRec</c> when the connection is opened, before any display exists,
/// so the connection gets a relay that forwards to whichever display is showing at the time.
/// </summary>
internal sealed class Training
{
    private IStageProgress? _target;

    /// <summary>The callback to pass as <see cref="SqlRecOptions.Progress"/>.</summary>
    public void Receive(TrainingProgress progress) =>
        _target?.Report(StageName(progress.Stage), progress.Done, progress.Total, progress.Detail);

    /// <summary>
    /// Runs <paramref name="sql"/> (a <c>SELECT</c> of <paramref name="function"/>, which returns a
    /// JSON object) while showing progress; returns the JSON object.
    /// </summary>
    public JsonObject Run(IAnsiConsole console, SqliteConnection connection, string function, string sql, params (string Name, object Value)[] parameters)
    {
        // Ctrl+C and SIGTERM interrupt the SQL statement (sqlite3_interrupt) instead of killing the process: the
        // training stops at its next step, the previous model version keeps serving, and the error says so.
        using var interruption = Interruption.Watch(connection);
        return RunWithProgress(console, connection, function, sql, parameters);
    }

    private JsonObject RunWithProgress(IAnsiConsole console, SqliteConnection connection, string function, string sql, (string Name, object Value)[] parameters)
    {
        var summary = ProgressDisplay.Run(console, stages =>
        {
            _target = stages;
            try
            {
                using var command = connection.CreateCommand();
                command.CommandText = sql;
                foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
                return command.ExecuteScalar() as string;
            }
            finally
            {
                _target = null;
            }
        });
        return (summary is null ? null : JsonNode.Parse(summary) as JsonObject)
            ?? throw CliErrors.NoJsonResult(function, summary);
    }

    /// <summary>One line describing a training summary: model, version, kind, sizes and time.</summary>
    public static string Describe(JsonObject summary)
    {
        string Number(string key) => summary[key] is JsonValue value && value.TryGetValue<long>(out var n) ? ProgressDisplay.Count(n) : "?";
        var seconds = summary["seconds"] is JsonValue s && s.TryGetValue<double>(out var t) ? t.ToString("0.##", CultureInfo.InvariantCulture) : "?";
        return $"trained '{summary["model"]}' v{summary["version"]} ({summary["kind"]}): {Number("users")} users, {Number("items")} items, "
            + $"{Number("interactions")} interactions, {seconds} s";
    }

    /// <summary>The summary as a two-column table (field, value), every field SqlRec returned.</summary>
    public static Table SummaryTable(JsonObject summary)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("field").AddColumn("value");
        foreach (var (key, value) in summary)
            table.AddRow(new Text(key), value is JsonValue v && v.TryGetValue<string>(out var text) ? new Text(text) : new Text(value?.ToJsonString() ?? "NULL"));
        return table;
    }

    private static string StageName(string stage) => stage switch
    {
        "reading" => "reading source",
        _ => stage,
    };
}
