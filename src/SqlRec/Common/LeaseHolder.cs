using System.Diagnostics;
using System.Globalization;

namespace SqlRec.Common;

/// <summary>
/// Who holds a training lease: the host, the process (its pid and start time, so a reused pid is
/// told apart), the boot and pid namespace it runs in, and one id per training. Written into the
/// lease as one line of text (<c>rec_models.training_owner</c>), so a database of an older SqlRec
/// needs no new column; an owner written by an older SqlRec, or by anything else, does not parse
/// and is judged by its heartbeat alone.
/// </summary>
/// <remarks>
/// On Linux the start time is field 22 of <c>/proc/&lt;pid&gt;/stat</c> (clock ticks since boot) and
/// the boot is <c>/proc/sys/kernel/random/boot_id</c>; the pid namespace (<c>/proc/self/ns/pid</c>)
/// keeps two containers with the same host name from judging each other's pids. Elsewhere the start
/// time is <see cref="Process.StartTime"/> in UTC ticks.
/// </remarks>
internal sealed record LeaseHolder(string Host, int Pid, string Start, string Boot, string Id)
{
    private const string Prefix = "sqlrec-lease/1";

    /// <summary>This process, as a lease holder would record it (without a training id).</summary>
    public static LeaseHolder ThisProcess { get; } = new(HostName(), Environment.ProcessId, StartOf(Environment.ProcessId) ?? "?", BootAndNamespace(), "");

    /// <summary>A new holder for one training of this process.</summary>
    public static LeaseHolder NewTraining() => ThisProcess with { Id = Guid.NewGuid().ToString("N") };

    /// <summary>Process <paramref name="pid"/> of this host as a holder would record it (tests stand in for another process with it).</summary>
    internal static LeaseHolder OfProcess(int pid) => ThisProcess with { Pid = pid, Start = StartOf(pid) ?? "?", Id = Guid.NewGuid().ToString("N") };

    /// <summary>True when the holder is this very process (any of its trainings).</summary>
    public bool IsThisProcess => Host == ThisProcess.Host && Boot == ThisProcess.Boot && Pid == ThisProcess.Pid && Start == ThisProcess.Start;

    /// <summary>True when the holder runs on this host, in this boot and pid namespace, so its pid can be looked at.</summary>
    public bool IsOnThisHost => Host == ThisProcess.Host && Boot == ThisProcess.Boot && Boot.Length > 0 && !Boot.StartsWith('?');

    /// <summary>
    /// True when the holder is on this host and its process is gone: no process has its pid, or the
    /// process with that pid started at another time (the pid was reused). False when it runs, and
    /// when this host cannot tell (another host, or a start time that cannot be read).
    /// </summary>
    public bool IsGoneFromThisHost()
    {
        if (!IsOnThisHost || Start == "?") return false;
        var now = StartOf(Pid);
        return now is null ? !ProcessMayExist(Pid) : now != Start;
    }

    /// <summary>The text stored in the lease.</summary>
    public override string ToString() => string.Join(' ', Prefix, Escape(Host), Pid.ToString(CultureInfo.InvariantCulture), Start, Boot, Id);

    /// <summary>Reads a stored owner; null for text this SqlRec did not write.</summary>
    public static LeaseHolder? Parse(string? text)
    {
        var parts = text?.Split(' ');
        if (parts is not [Prefix, var host, var pid, var start, var boot, var id]) return null;
        return int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? new LeaseHolder(Unescape(host), p, start, boot, id) : null;
    }

    private static string HostName()
    {
        try { return Environment.MachineName; }
        catch (InvalidOperationException) { return "?"; }
    }

    /// <summary>The boot id and pid namespace on Linux ("boot/ns"); "-" elsewhere (the host name alone tells hosts apart).</summary>
    private static string BootAndNamespace()
    {
        if (!OperatingSystem.IsLinux()) return "-";
        try
        {
            var boot = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            var ns = new FileInfo("/proc/self/ns/pid").LinkTarget ?? "?";
            // "pid:[4026531836]" -> "4026531836"
            return boot + "/" + new string(ns.Where(char.IsAsciiDigit).ToArray());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "?";
        }
    }

    /// <summary>When process <paramref name="pid"/> started, as text; null when no such process runs (or it cannot be read).</summary>
    private static string? StartOf(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
                // The command name (field 2) is in parentheses and may hold spaces or ')': fields count from the last ')'.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // A killed process stays a zombie until its parent reaps it: it holds nothing any more.
                if (fields[0] is "Z" or "X") return "exited";
                return fields.Length > 19 ? "t" + fields[19] : null;   // field 22 of the whole line
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }
        try
        {
            using var process = Process.GetProcessById(pid);
            return "u" + process.StartTime.ToUniversalTime().Ticks.ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Whether a process with this pid may exist when its start time could not be read (a process of another user elsewhere than Linux).</summary>
    private static bool ProcessMayExist(int pid)
    {
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}");
        try
        {
            using var process = Process.GetProcessById(pid);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return true;
        }
    }

    private static string Escape(string text) => Uri.EscapeDataString(text.Length == 0 ? "?" : text);

    private static string Unescape(string text) => Uri.UnescapeDataString(text);
}
