using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace SqlRec.Embeddings;

/// <summary>
/// Where ONNX Runtime's native library comes from. A .NET app finds it the usual way (beside the
/// app, or under runtimes/&lt;rid&gt;/native); the loadable extension ships it beside sqlrec.so, a
/// folder the host process knows nothing of, so there the library is looked for in that folder
/// first. A missing library is a clear error when an ONNX embedder is used, and nothing else needs it.
/// </summary>
internal static class OnnxRuntimeLibrary
{
    private static string? _folder;
    private static int _resolverInstalled;

    /// <summary>The library's file names on this platform, most specific first.</summary>
    private static readonly string[] FileNames = OperatingSystem.IsWindows() ? ["onnxruntime.dll"]
        : OperatingSystem.IsMacOS() ? ["libonnxruntime.dylib"] : ["libonnxruntime.so"];

    /// <summary>Looks for the library in <paramref name="folder"/> before the default places.</summary>
    public static void SearchIn(string folder)
    {
        _folder = folder;
        // .NET takes one resolver per assembly, for the life of the process.
        if (Interlocked.Exchange(ref _resolverInstalled, 1) == 0) NativeLibrary.SetDllImportResolver(typeof(OrtEnv).Assembly, Resolve);
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (_folder is null || !name.Contains("onnxruntime", StringComparison.OrdinalIgnoreCase)) return 0;
        foreach (var file in FileNames)
        {
            var path = Path.Combine(_folder, file);
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out var handle)) return handle;
        }
        return 0;
    }

    /// <summary>True when <paramref name="exception"/> says the native library could not be loaded or lacks an entry point.</summary>
    public static bool IsMissing(Exception exception) => exception switch
    {
        DllNotFoundException or EntryPointNotFoundException or BadImageFormatException => true,
        TypeInitializationException { InnerException: { } inner } => IsMissing(inner),
        _ => false,
    };

    /// <summary>
    /// How much ONNX Runtime itself may print: fatal errors only. It logs to the process's stderr
    /// (coloured, outside any SQL error), and SqlRec already reports every failure it meets in its
    /// own message, so a failed probe or run must not also leak ONNX Runtime's line to a CLI user or
    /// an application's console.
    /// </summary>
    public const OrtLoggingLevel LogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;

    private static readonly object EnvironmentLock = new();
    private static OrtEnv? _environment;

    /// <summary>
    /// ONNX Runtime's process environment, created quiet (<see cref="LogLevel"/>) when SqlRec is the
    /// first to need it; an environment the application made first is used as it is (its own
    /// logging), and SqlRec's sessions and runs still log at <see cref="LogLevel"/>. Throws what
    /// loading the native library throws when it is missing (see <see cref="IsMissing"/>).
    /// </summary>
    public static OrtEnv Environment()
    {
        lock (EnvironmentLock)
        {
            if (_environment is not null) return _environment;
            if (!OrtEnv.IsCreated)
            {
                var options = new EnvironmentCreationOptions { logId = "sqlrec", logLevel = LogLevel };
                try { _environment = OrtEnv.CreateInstanceWithOptions(ref options); }
                catch (OnnxRuntimeException) when (OrtEnv.IsCreated) { }
            }
            return _environment ??= OrtEnv.Instance();
        }
    }

    /// <summary>Where the library was looked for, for the error message.</summary>
    public static string SearchedPlaces => _folder is null ? "beside the application" : $"in '{_folder}' and beside the application";
}
