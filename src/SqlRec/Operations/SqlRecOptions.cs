using System.Runtime.InteropServices;

namespace SqlRec;

/// <summary>Settings for <see cref="SqlRecConnectionExtensions.UseSqlRec"/>. Defaults suit most applications.</summary>
public sealed class SqlRecOptions
{
    /// <summary>Load the sqlite-vec extension (<c>vec0</c>) on the connection. Default true.</summary>
    public bool LoadVectorExtension { get; init; } = true;

    /// <summary>
    /// Path of the sqlite-vec binary. Default: <c>vec0.so</c> / <c>vec0.dylib</c> / <c>vec0.dll</c> next
    /// to SqlRec.dll, where the build puts it (and where NuGet puts it for an app built for one
    /// runtime), else under <c>runtimes/&lt;rid&gt;/native/</c> beside SqlRec.dll or the app, where NuGet
    /// puts the SqlRec package's copy for an app built for any runtime.
    /// </summary>
    public string? VectorExtensionPath { get; init; }

    /// <summary>
    /// How long SqlRec's own statements wait for a lock held by another connection, applied
    /// (<c>PRAGMA busy_timeout</c>) before SqlRec runs any other statement, unless the connection
    /// has a busy timeout of its own, which is kept. Default 5 seconds.
    /// </summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Receives progress of long operations (reading the source, training, saving).</summary>
    public Action<TrainingProgress>? Progress { get; init; }

    /// <summary>
    /// Let <c>recommend()</c> answer from a model version that is not loaded yet by reading from the
    /// file only what that one user needs (a graph_filter version with binary weighting: its id
    /// lookups, the rows its two hops reach, and the singular vector rows that can reach the top k;
    /// a popular version: the user's index, their training items and the popularity),
    /// until such calls add up to about the time a whole load takes; the version is then loaded
    /// whole. So a process that answers one user (the CLI, an app's first screen) never reads the
    /// whole model, and a server pays at most about twice the load before its calls are warm.
    /// Default true; false loads every version whole on its first use.
    /// </summary>
    public bool PagedServing { get; init; } = true;

    // ---- settings tests inject (not part of the public API) ---------------------------------

    /// <summary>Seconds of paged calls after which a version loads whole, instead of the estimate from its size (tests).</summary>
    internal double? PagedSecondsBeforeLoad { get; init; }

    /// <summary>Largest elements in one stored array part, instead of 16M (small arrays in many parts; tests of paging).</summary>
    internal int? ArrayPartElements { get; init; }

    /// <summary>The memory a training may plan with, instead of what the runtime reports (tests of the memory check).</summary>
    internal long? MemoryLimit { get; init; }

    /// <summary>The GPUs training may use, instead of what ILGPU finds on this machine (tests of device choice).</summary>
    internal Compute.ComputeDevices? Devices { get; init; }

    /// <summary>Called at named points of a publication, to make it fail there (tests of atomicity).</summary>
    internal Action<string>? FaultInjection { get; init; }

    /// <summary>How often a training refreshes its lease's heartbeat, instead of every 15 seconds (tests of a busy heartbeat).</summary>
    internal TimeSpan? HeartbeatInterval { get; init; }

    /// <summary>How often a loaded embedder's model files are looked at again, instead of every two seconds.</summary>
    internal TimeSpan? EmbedderRecheckInterval { get; init; }

    /// <summary>Checks the settings before any work starts.</summary>
    public void Validate()
    {
        if (BusyTimeout < TimeSpan.Zero || BusyTimeout > TimeSpan.FromHours(1))
            throw new ArgumentOutOfRangeException(nameof(BusyTimeout), BusyTimeout, "BusyTimeout must be between 0 and 1 hour.");
        if (VectorExtensionPath is not null && !LoadVectorExtension)
            throw new ArgumentException("VectorExtensionPath is set but LoadVectorExtension is false.", nameof(VectorExtensionPath));
    }

    /// <summary>The file name of the sqlite-vec binary on this platform.</summary>
    public static string VectorExtensionFileName =>
        OperatingSystem.IsWindows() ? "vec0.dll" : OperatingSystem.IsMacOS() ? "vec0.dylib" : "vec0.so";

    /// <summary>
    /// <see cref="VectorExtensionPath"/> when set; otherwise where <see cref="FindVectorExtension"/>
    /// finds the binary for SqlRec.dll's folder, the app's folder and this process's runtime.
    /// </summary>
    internal string ResolveVectorExtensionPath() =>
        VectorExtensionPath ?? FindVectorExtension(
            // Location is empty inside a single-file app; the app's folder is where its files are then.
            Path.GetDirectoryName(typeof(SqlRecOptions).Assembly.Location) is { Length: > 0 } directory ? directory : AppContext.BaseDirectory,
            AppContext.BaseDirectory, RuntimeIdentifiers());

    /// <summary>
    /// The first of <see cref="VectorExtensionCandidates"/> that exists, or, when none does, the
    /// first of them (next to SqlRec.dll), which is what the "not found" error then names.
    /// </summary>
    internal static string FindVectorExtension(string libraryDirectory, string appDirectory, IEnumerable<string> runtimeIdentifiers)
    {
        var candidates = VectorExtensionCandidates(libraryDirectory, appDirectory, runtimeIdentifiers);
        return candidates.FirstOrDefault(File.Exists) ?? candidates[0];
    }

    /// <summary>
    /// Where the sqlite-vec binary may be, in the order looked at: next to SqlRec.dll (the build's
    /// copy, and NuGet's for an app built for one runtime), then under <c>runtimes/&lt;rid&gt;/native/</c>
    /// beside it for each of <paramref name="runtimeIdentifiers"/> (NuGet's layout for an app built
    /// for any runtime), then the same two places in the app's folder, for a SqlRec.dll loaded from
    /// elsewhere. No folder is looked at twice.
    /// </summary>
    internal static IReadOnlyList<string> VectorExtensionCandidates(string libraryDirectory, string appDirectory, IEnumerable<string> runtimeIdentifiers)
    {
        var rids = runtimeIdentifiers.ToArray();
        return new[] { libraryDirectory, appDirectory }
            .SelectMany(directory => rids.Select(rid => Path.Combine(directory, "runtimes", rid, "native")).Prepend(directory))
            .Select(directory => Path.GetFullPath(Path.Combine(directory, VectorExtensionFileName)))
            .Distinct(OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>
    /// The runtime identifiers whose <c>runtimes/&lt;rid&gt;/native/</c> folders may hold this process's
    /// binary: the runtime's own (which a distribution's build of .NET may make specific, such as
    /// <c>ubuntu.24.04-x64</c>), then the portable one NuGet packages use (<c>linux-x64</c>,
    /// <c>osx-arm64</c>, <c>win-x64</c>). The process's architecture, not the machine's, because an
    /// x64 process on an arm64 Mac or Windows loads x64 libraries.
    /// </summary>
    internal static IReadOnlyList<string> RuntimeIdentifiers()
    {
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : OperatingSystem.IsLinux() ? "linux" : null;
        var architecture = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        string[] rids = os is null ? [RuntimeInformation.RuntimeIdentifier] : [RuntimeInformation.RuntimeIdentifier, $"{os}-{architecture}"];
        return rids.Distinct(StringComparer.Ordinal).ToArray();
    }
}
