using System.CommandLine;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using SqlRec.Cli.Commands;

namespace SqlRec.Cli;

/// <summary>
/// The <c>sqlrec</c> command line: builds the command tree and runs it against a given console,
/// so tests run every command in-process and read what it printed.
/// </summary>
internal static partial class CliApp
{
    /// <summary>The command name users type (the .NET tool's command).</summary>
    public const string CommandName = "sqlrec";

    /// <summary>
    /// Parses <paramref name="args"/>, runs the command and returns the process exit code: 0 on
    /// success, 1 on any error. Results go to <paramref name="console"/>; errors go to
    /// <paramref name="errorConsole"/> (the same console when null).
    /// </summary>
    public static int Run(string[] args, IAnsiConsole console, IAnsiConsole? errorConsole = null)
    {
        var context = new CliContext(console, errorConsole ?? console);
        var root = new RootCommand("SqlRec: a recommendation engine inside SQLite. Import data, train models and get recommendations with SQL.")
        {
            DemoCommand.Create(context),
            ImportCommand.Create(context),
            TrainCommand.Create(context),
            EvalCommand.Create(context),
            RecommendCommand.Create(context),
            ScoreCommand.Create(context),
            SqlCommand.Create(context),
            EmbedCommand.Create(context),
            EmbedCommand.CreateEmbedder(context),
            ModelsCommand.Create(context),
        };
        var parsed = root.Parse(args);
        // Help and parse errors are written by System.CommandLine itself; point it at the same
        // writers so they land where the rest of the output goes (and in tests' buffers).
        return parsed.Invoke(new InvocationConfiguration
        {
            Output = context.Console.Profile.Out.Writer,
            Error = context.ErrorConsole.Profile.Out.Writer,
        });
    }

    /// <summary>
    /// The message to show for a failure. SQLite errors arrive wrapped by Microsoft.Data.Sqlite
    /// as <c>SQLite Error 1: 'recommend(): ...'.</c>; the user needs only the inner text.
    /// </summary>
    public static string Describe(Exception error) => error switch
    {
        SqliteException sqlite when CliErrors.EnvironmentProblem(sqlite.SqliteErrorCode) is { } problem && !SqlRecMessage().IsMatch(SqliteMessage(sqlite))
            => CliErrors.DatabaseRefused(problem, SqliteMessage(sqlite)).Message,
        SqliteException sqlite => SqliteMessage(sqlite),
        CliException or SqlRecException or IOException or UnauthorizedAccessException => error.Message,
        _ => $"unexpected {error.GetType().Name}: {error.Message}",
    };

    /// <summary>SQLite's own message without Microsoft.Data.Sqlite's <c>SQLite Error N: '...'.</c> wrapper.</summary>
    public static string SqliteMessage(SqliteException error)
    {
        var match = SqliteWrapper().Match(error.Message);
        return match.Success ? match.Groups[1].Value : error.Message;
    }

    [GeneratedRegex(@"^SQLite Error \d+: '(.*)'\.$", RegexOptions.Singleline)]
    private static partial Regex SqliteWrapper();

    /// <summary>A message of a SqlRec function (<c>rec_train(): ...</c>), which already says what happened.</summary>
    [GeneratedRegex(@"^[A-Za-z_]+\(\): ")]
    private static partial Regex SqlRecMessage();
}

/// <summary>Where a command writes: results to <see cref="Console"/>, errors to <see cref="ErrorConsole"/>.</summary>
internal sealed class CliContext(IAnsiConsole console, IAnsiConsole errorConsole)
{
    /// <summary>Results, tables and progress.</summary>
    public IAnsiConsole Console { get; } = console;

    /// <summary>Error messages.</summary>
    public IAnsiConsole ErrorConsole { get; } = errorConsole;

    /// <summary>
    /// Runs a command body and turns any failure into <c>error: message</c> and exit code 1.
    /// Every exception is caught here because a stack trace helps no user of a CLI; the message
    /// (SqlRec's own errors name the function and the fix) is what they need.
    /// </summary>
    public int Guard(Action body)
    {
        Interruption.Clear();
        try
        {
            body();
            return 0;
        }
        catch (Exception error)
        {
            if (Interruption.Received is { } signal)
            {
                // SqlRec's own message (a training says nothing was changed) when a function was running, else the CLI's.
                var message = error is SqliteException { SqliteErrorCode: 9 } plain && !plain.Message.Contains("(): ", StringComparison.Ordinal)
                    ? CliErrors.Interrupted(Interruption.Name(signal)).Message
                    : CliApp.Describe(error);
                ErrorConsole.MarkupLine($"[red]error: {Markup.Escape(message)}[/]");
                return Interruption.ExitCode(signal);
            }
            ErrorConsole.MarkupLine($"[red]error: {Markup.Escape(CliApp.Describe(error))}[/]");
            return 1;
        }
    }
}
