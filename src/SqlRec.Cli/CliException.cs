namespace SqlRec.Cli;

/// <summary>
/// A failure the user can fix (a missing file, a malformed line, an existing table): the CLI
/// prints its message as <c>error: ...</c> and exits with code 1, without a stack trace.
/// </summary>
internal sealed class CliException(string message, Exception? inner = null) : Exception(message, inner);
