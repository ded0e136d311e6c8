using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace SqlRec.Tests;

/// <summary>
/// The loadable extension as the tests use it: published once per test run from native/extension
/// (NativeAOT; incremental, so an unchanged tree costs seconds), and the hosts that load it - the
/// Debian <c>sqlite3</c> shell and Debian's system <c>python3</c>, whose <c>sqlite3</c> module can load
/// extensions. A missing host makes its tests inconclusive with the reason; a build that fails fails them.
/// </summary>
internal static class ExtensionHost
{
    /// <summary>Set to <c>extension</c>, <see cref="TestDb"/> enables SqlRec by loading the extension instead of calling UseSqlRec().</summary>
    public const string ModeVariable = "SQLREC_TEST_HOST";

    /// <summary>True when this test run drives SqlRec through the loadable extension.</summary>
    public static bool Enabled => Environment.GetEnvironmentVariable(ModeVariable) == "extension";

    /// <summary>Chooses the build the x86-64 Linux loader loads (x86-64-v2 or x86-64-v3) instead of asking the CPU.</summary>
    public const string CpuVariable = "SQLREC_CPU";

    private static readonly Lazy<string> Published = new(Publish);

    /// <summary>The folder holding sqlrec.so, vec0.so and the ONNX Runtime library.</summary>
    public static string Folder => Published.Value;

    /// <summary>The extension's file name on this platform.</summary>
    public static string FileName => OperatingSystem.IsWindows() ? "sqlrec.dll" : OperatingSystem.IsMacOS() ? "sqlrec.dylib" : "sqlrec.so";

    /// <summary>The extension's full path.</summary>
    public static string Library => System.IO.Path.Combine(Folder, FileName);

    private static string Publish()
    {
        var root = TestData.RepositoryRoot();
        var output = System.IO.Path.Combine(root, "artifacts", "test-extension");
        var result = Run("dotnet", $"publish \"{System.IO.Path.Combine(root, "native", "extension")}\" -c Release -r {RuntimeInformation.RuntimeIdentifier} -o \"{output}\" -nologo -v q",
            root, TimeSpan.FromMinutes(10));
        if (result.Exit != 0 || !File.Exists(System.IO.Path.Combine(output, FileName)))
            throw new AssertFailedException($"publishing the extension failed (exit {result.Exit}):\n{result.Output}\n{result.Error}");
        // The named models this test project carries go beside the extension (models/ beside
        // sqlrec.so is where it looks, as `sqlrec models install --to` puts them), so the extension
        // pass runs the real-model tests too.
        var carried = System.IO.Path.Combine(AppContext.BaseDirectory, "models");
        foreach (var file in Directory.GetFiles(carried, "*", SearchOption.AllDirectories))
        {
            var target = System.IO.Path.Combine(output, "models", System.IO.Path.GetRelativePath(carried, file));
            if (File.Exists(target) && new FileInfo(target).Length == new FileInfo(file).Length) continue;
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
        return output;
    }

    /// <summary>Loads the extension into an open Microsoft.Data.Sqlite connection, as any host would.</summary>
    public static void Load(SqliteConnection connection)
    {
        connection.EnableExtensions(true);
        try { connection.LoadExtension(Library); }
        finally { connection.EnableExtensions(false); }
    }

    /// <summary>The Debian sqlite3 shell, or inconclusive with the reason.</summary>
    public static string Shell()
    {
        const string path = "/usr/bin/sqlite3";
        if (!File.Exists(path)) Assert.Inconclusive($"host not present: {path} (Debian's sqlite3 shell; apt-get install sqlite3)");
        return path;
    }

    /// <summary>Debian's system python3 with a sqlite3 module that loads extensions, or inconclusive with the reason.</summary>
    public static string Python()
    {
        const string path = "/usr/bin/python3";
        if (!File.Exists(path)) Assert.Inconclusive($"host not present: {path} (Debian's system python3)");
        var probe = Run(path, "-c \"import sqlite3; sqlite3.connect(':memory:').enable_load_extension(True)\"", Environment.CurrentDirectory, TimeSpan.FromSeconds(30));
        if (probe.Exit != 0) Assert.Inconclusive($"host cannot load extensions: {path}'s sqlite3 module has no enable_load_extension ({probe.Error.Trim()})");
        return path;
    }

    /// <summary>Runs the sqlite3 shell on <paramref name="database"/> with <paramref name="input"/> on its standard input.</summary>
    public static (int Exit, string Output, string Error) RunShell(string database, string input, string? folder = null) =>
        Run(Shell(), $"-batch \"{database}\"", folder ?? Environment.CurrentDirectory, TimeSpan.FromMinutes(5), input);

    /// <summary>Runs a Python script (given as text) with the system python3; arguments follow the script.</summary>
    public static (int Exit, string Output, string Error) RunPython(string script, params string[] arguments) =>
        RunPythonWith(null, script, arguments);

    /// <summary><see cref="RunPython"/> with variables added to the script's environment.</summary>
    public static (int Exit, string Output, string Error) RunPythonWith(IReadOnlyDictionary<string, string>? environment, string script, params string[] arguments)
    {
        var file = System.IO.Path.Combine(Directory.CreateTempSubdirectory("sqlrec-py-").FullName, "script.py");
        File.WriteAllText(file, script);
        return Run(Python(), $"\"{file}\" {string.Join(" ", arguments.Select(a => $"\"{a}\""))}", System.IO.Path.GetDirectoryName(file)!, TimeSpan.FromMinutes(5), environment: environment);
    }

    /// <summary>Runs a program to its end (or kills it after <paramref name="timeout"/>), capturing both streams.</summary>
    /// <remarks>
    /// The child does not inherit this run's test-host mode or a chosen CPU level (SQLREC_CPU): a
    /// test that wants them passes them in <paramref name="environment"/>.
    /// </remarks>
    public static (int Exit, string Output, string Error) Run(string program, string arguments, string folder, TimeSpan timeout, string? input = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        start.Environment.Remove(ModeVariable);
        start.Environment.Remove(CpuVariable);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        using var process = Process.Start(start) ?? throw new AssertFailedException($"could not start {program}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            process.StandardInput.Write(input);
            process.StandardInput.Close();
        }
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new AssertFailedException($"{program} {arguments} did not finish in {timeout}");
        }
        return (process.ExitCode, output.Result, error.Result);
    }
}
