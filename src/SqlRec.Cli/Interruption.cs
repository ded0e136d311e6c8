using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace SqlRec.Cli;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM while a command runs SQL: instead of the process dying part way, the
/// running statement is interrupted (sqlite3_interrupt), SQLite rolls back what it had begun, and a
/// training ends with SqlRec's "was interrupted; nothing was changed" (its lease cleared, the
/// previous version serving). The command then exits with the shell's code for the signal: 130
/// for SIGINT, 143 for SIGTERM. Outside <see cref="Watch"/> the signals keep their default
/// meaning. SIGKILL cannot be caught; a killed training's lease is taken over by the next one.
/// </summary>
internal sealed class Interruption : IDisposable
{
    private static int _received;
    private readonly PosixSignalRegistration[] _registrations;

    private Interruption(SqliteConnection connection)
    {
        _received = 0;
        void Stop(PosixSignalContext context)
        {
            // Keep the process alive: the statement stops at its next step and the command reports it.
            context.Cancel = true;
            Interlocked.CompareExchange(ref _received, (int)context.Signal, 0);
            if (connection.Handle is { } handle) SQLitePCL.raw.sqlite3_interrupt(handle);
        }
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop)];
    }

    /// <summary>Forgets a signal of an earlier command (the CLI runs commands in-process in tests).</summary>
    public static void Clear() => _received = 0;

    /// <summary>Interrupts <paramref name="connection"/>'s statement on SIGINT or SIGTERM until disposed.</summary>
    public static Interruption Watch(SqliteConnection connection) => new(connection);

    /// <summary>The signal that interrupted the last watched command, if any.</summary>
    public static PosixSignal? Received => _received == 0 ? null : (PosixSignal)_received;

    /// <summary>The exit code for a command stopped by <paramref name="signal"/>: 128 + the signal's number, as shells report it.</summary>
    public static int ExitCode(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGINT => 130,
        PosixSignal.SIGTERM => 143,
        _ => 1,
    };

    /// <summary>The signal's usual name, for messages.</summary>
    public static string Name(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGINT => "SIGINT (Ctrl+C)",
        PosixSignal.SIGTERM => "SIGTERM",
        _ => signal.ToString(),
    };

    /// <summary>Stops watching: the signals get their default meaning again.</summary>
    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
    }
}
