using System.Globalization;
using Spectre.Console;

namespace SqlRec.Cli.Output;

/// <summary>Receives progress of a long operation, one named stage after another.</summary>
internal interface IStageProgress
{
    /// <summary>
    /// Reports that <paramref name="stage"/> has done <paramref name="done"/> units of
    /// <paramref name="total"/> (null when the total is unknown, e.g. rows of a query still running),
    /// with optional free text such as the current loss. A new stage name completes the previous stage.
    /// </summary>
    void Report(string stage, long done, long? total, string? detail = null);
}

/// <summary>
/// Shows progress: a live Spectre progress display on an interactive terminal; one plain line
/// per stage when output is redirected (CI logs, pipes, tests), because a redrawing display
/// written to a file turns into hundreds of lines.
/// </summary>
internal static class ProgressDisplay
{
    /// <summary>Runs <paramref name="work"/> with a progress sink suited to <paramref name="console"/>.</summary>
    public static T Run<T>(IAnsiConsole console, Func<IStageProgress, T> work)
    {
        if (!console.Profile.Capabilities.Interactive || !console.Profile.Capabilities.Ansi)
            return work(new PlainStages(console));
        return console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var stages = new LiveStages(context);
                var result = work(stages);
                stages.Complete();
                return result;
            });
    }

    /// <summary>Formats a count the way the CLI prints counts: 810,128.</summary>
    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>
    /// Plain lines: the name of each stage as it starts, then, for a stage that runs long (a
    /// graph filter's SVD on a large data set takes minutes), a line with how far it has come at
    /// most every <see cref="PlainInterval"/>, so a log shows the run is alive and how fast it goes.
    /// </summary>
    internal sealed class PlainStages(IAnsiConsole console, Func<TimeSpan>? clock = null) : IStageProgress
    {
        /// <summary>The least time between two progress lines of one stage.</summary>
        public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(10);

        private readonly Func<TimeSpan> _clock = clock ?? StopwatchClock();
        private string? _stage;
        private TimeSpan _started;
        private TimeSpan _lastLine;

        public void Report(string stage, long done, long? total, string? detail = null)
        {
            var now = _clock();
            if (stage != _stage)
            {
                _stage = stage;
                _started = _lastLine = now;
                console.MarkupLine($"[grey]{Markup.Escape(stage)} ...[/]");
                return;
            }
            if (now - _lastLine < PlainInterval) return;
            _lastLine = now;
            var amount = total is { } known && known > 0 ? $"{Count(done)} of {Count(known)}" : Count(done);
            var extra = string.IsNullOrEmpty(detail) ? "" : $" ({detail})";
            var seconds = (now - _started).TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
            console.MarkupLine($"[grey]  {Markup.Escape(stage)}: {Markup.Escape(amount)}{Markup.Escape(extra)}, {seconds} s[/]");
        }

        private static Func<TimeSpan> StopwatchClock()
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            return () => watch.Elapsed;
        }
    }

    private sealed class LiveStages(ProgressContext context) : IStageProgress
    {
        private ProgressTask? _task;
        private string? _stage;

        public void Report(string stage, long done, long? total, string? detail = null)
        {
            if (stage != _stage)
            {
                Complete();
                _stage = stage;
                _task = context.AddTask(Markup.Escape(stage));
            }
            var task = _task!;
            var description = Markup.Escape(stage);
            if (total is { } known && known > 0)
            {
                task.IsIndeterminate = false;
                task.MaxValue = known;
                task.Value = Math.Min(done, known);
            }
            else
            {
                // Unknown total (rows of a running query): a moving bar and the count so far.
                task.IsIndeterminate = true;
                if (done > 0) description += $" ({Count(done)})";
            }
            if (!string.IsNullOrEmpty(detail)) description += $" [grey]{Markup.Escape(detail)}[/]";
            task.Description = description;
        }

        /// <summary>Marks the current stage as finished (full bar).</summary>
        public void Complete()
        {
            if (_task is null) return;
            _task.IsIndeterminate = false;
            _task.Value = _task.MaxValue;
            _task.StopTask();
        }
    }
}
