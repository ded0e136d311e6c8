namespace SqlRec;

/// <summary>Settings for <see cref="SqlRecConnectionExtensions.UseSqlRec"/>. Defaults suit most applications.</summary>
public sealed class SqlRecOptions
{
    /// <summary>Load the sqlite-vec extension (<c>vec0</c>) on the connection. Default true.</summary>
    public bool LoadVectorExtension { get; init; } = true;

    /// <summary>
    /// Path of the sqlite-vec binary. Default: <c>vec0.so</c> / <c>vec0.dylib</c> / <c>vec0.dll</c> next
    /// to SqlRec.dll, where the build puts it.
    /// </summary>
    public string? VectorExtensionPath { get; init; }

    /// <summary>
    /// How long SqlRec's own statements wait for a lock held by another connection, applied when
    /// the connection has no busy timeout of its own. Default 5 seconds.
    /// </summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Receives progress of long operations (reading the source, training, saving).</summary>
    public Action<TrainingProgress>? Progress { get; init; }

    // ---- settings tests inject (not part of the public API) ---------------------------------

    /// <summary>The memory a training may plan with, instead of what the runtime reports (tests of the memory check).</summary>
    internal long? MemoryLimit { get; init; }

    /// <summary>The GPUs training may use, instead of what ILGPU finds on this machine (tests of device choice).</summary>
    internal Compute.ComputeDevices? Devices { get; init; }

    /// <summary>Called at named points of a publication, to make it fail there (tests of atomicity).</summary>
    internal Action<string>? FaultInjection { get; init; }

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

    internal string ResolveVectorExtensionPath() =>
        VectorExtensionPath ?? Path.Combine(Path.GetDirectoryName(typeof(SqlRecOptions).Assembly.Location) is { Length: > 0 } directory
            ? directory : AppContext.BaseDirectory, VectorExtensionFileName);
}
