using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace SqlRec.Tests;

/// <summary>
/// The NuGet package <c>SqlRec</c> carries sqlite-vec's <c>vec0</c> for every platform sqlite-vec
/// ships, byte for byte the pinned, verified binaries, and an app that knows nothing but the
/// package finds it: packs src/SqlRec, reads the .nupkg, then restores, builds and runs a fresh
/// console app against it. Where the package puts vec0 and where <see cref="SqlRecOptions"/> looks
/// for it must agree, which no test inside this repository's own build can show (the build copies
/// vec0 next to SqlRec.dll).
/// </summary>
[TestClass]
public sealed class PackageTests
{
    /// <summary>sqlite-vec's platforms and the runtime identifiers and file names the package gives them.</summary>
    private static readonly (string Platform, string Rid, string File)[] Platforms =
    [
        ("linux-x64", "linux-x64", "vec0.so"),
        ("linux-arm64", "linux-arm64", "vec0.so"),
        ("darwin-x64", "osx-x64", "vec0.dylib"),
        ("darwin-arm64", "osx-arm64", "vec0.dylib"),
        ("windows-x64", "win-x64", "vec0.dll"),
    ];

    /// <summary>
    /// The app: an in-memory database, UseSqlRec() and nothing else, a collection published to a
    /// vec0 table, and vec0's own KNN over it. Cosine nearest to [1, 0.1, 0] are 1 ([1, 0, 0]) and 3
    /// ([0.8, 0.6, 0]); 2 and 4 are far.
    /// </summary>
    private const string AppProgram = """
        using Microsoft.Data.Sqlite;
        using SqlRec;

        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        connection.UseSqlRec();
        string Query(string sql)
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            using var reader = command.ExecuteReader();
            var values = new List<string>();
            while (reader.Read()) values.Add(Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
            return string.Join(",", values);
        }
        Query("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
        Query("INSERT INTO t VALUES (1, vec_f32('[1, 0, 0]')), (2, vec_f32('[0, 1, 0]')), (3, vec_f32('[0.8, 0.6, 0]')), (4, vec_f32('[0, 0, 1]'))");
        Query("SELECT rec_publish('c', json_object('source', 'SELECT id, v FROM t', 'table', 'c'))");
        Console.WriteLine("vec_version: " + Query("SELECT vec_version()"));
        Console.WriteLine("knn: " + Query("SELECT item_id FROM c_items WHERE embedding MATCH vec_f32('[1, 0.1, 0]') AND k = 2 ORDER BY distance"));
        """;

    [TestMethod]
    [TestCategory("Packaging")]
    public void ThePackageCarriesVec0ForEveryPlatformAndAnAppRestoredFromItSearchesWithIt()
    {
        var root = TestData.RepositoryRoot();
        var props = XDocument.Load(Path.Combine(root, "Directory.Build.props"));
        string Property(string name) => props.Descendants(name).Single().Value.Trim();
        var vecVersion = Regex.Match(File.ReadAllText(VecTargets(root)), "<SqliteVecVersion>([^<]+)</SqliteVecVersion>").Groups[1].Value;
        // A version no earlier run made: NuGet caches a package by id and version for good, so a
        // reused version could be served from a cache instead of the package just packed.
        var suffix = $"test{DateTime.UtcNow.Ticks}";
        var version = $"{Property("VersionPrefix")}-{suffix}";
        var work = Directory.CreateTempSubdirectory("sqlrec-package-").FullName;
        try
        {
            // Its own artifacts folder keeps this Release build out of the repository's bin/ and obj/,
            // which other builds may be using at the same time.
            var feed = Path.Combine(work, "feed");
            Dotnet(root, TimeSpan.FromMinutes(5), "pack", Path.Combine(root, "src", "SqlRec"), "-c", "Release", "-o", feed,
                "--artifacts-path", Path.Combine(work, "artifacts"), $"-p:VersionSuffix={suffix}");
            var package = Path.Combine(feed, $"SqlRec.{version}.nupkg");
            Assert.IsTrue(File.Exists(package), $"no {package}; the feed holds: {string.Join(", ", Directory.GetFiles(feed).Select(Path.GetFileName))}");
            CheckPackage(root, vecVersion, package, Property("TargetFramework"));

            var app = Path.Combine(work, "app");
            WriteApp(app, feed, version, Property("TargetFramework"), UserGlobalPackages(root));
            // The private packages folder takes only what the user's folder (a read-only fallback) lacks:
            // the package under test, so nothing of this run is left in the user's cache.
            Dotnet(app, TimeSpan.FromMinutes(5), "restore", "--packages", Path.Combine(work, "packages"));
            var output = Dotnet(app, TimeSpan.FromMinutes(5), "run", "--no-restore");
            StringAssert.Contains(output, $"vec_version: v{vecVersion}", output);
            StringAssert.Contains(output, "knn: 1,3", output);

            // The app is built for any runtime, so NuGet put vec0 only under runtimes/<rid>/native/:
            // the run above found it there, not next to SqlRec.dll.
            var bin = Path.Combine(app, "bin", "Debug", Property("TargetFramework"));
            Assert.IsTrue(File.Exists(Path.Combine(bin, "SqlRec.dll")), bin);
            Assert.IsFalse(File.Exists(Path.Combine(bin, SqlRecOptions.VectorExtensionFileName)), "vec0 is next to SqlRec.dll, so the run did not test the runtimes/ lookup");
            foreach (var (_, rid, file) in Platforms)
                Assert.IsTrue(File.Exists(Path.Combine(bin, "runtimes", rid, "native", file)), $"{rid}/{file} not in {bin}");
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); }
            catch (IOException) { }   // a file still held open must not hide the test's own result
            catch (UnauthorizedAccessException) { }
        }
    }

    [TestMethod]
    public void SqlRecLooksNextToItselfFirstThenUnderRuntimesBesideItselfAndTheApp()
    {
        var library = Path.Combine(Path.GetTempPath(), "lib");
        var app = Path.Combine(Path.GetTempPath(), "app");
        var file = SqlRecOptions.VectorExtensionFileName;
        CollectionAssert.AreEqual(
            new[]
            {
                Path.Combine(library, file),
                Path.Combine(library, "runtimes", "ubuntu.24.04-x64", "native", file),
                Path.Combine(library, "runtimes", "linux-x64", "native", file),
                Path.Combine(app, file),
                Path.Combine(app, "runtimes", "ubuntu.24.04-x64", "native", file),
                Path.Combine(app, "runtimes", "linux-x64", "native", file),
            },
            SqlRecOptions.VectorExtensionCandidates(library, app, ["ubuntu.24.04-x64", "linux-x64"]).ToArray());
        // The usual case, SqlRec.dll in the app's folder, looks at each place once.
        Assert.HasCount(2, SqlRecOptions.VectorExtensionCandidates(app, app, ["linux-x64"]));

        // The portable identifier of this process is always among those tried: it is what packages use.
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var portable = $"{os}-{System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";
        Assert.Contains(portable, SqlRecOptions.RuntimeIdentifiers());

        // The build puts vec0 next to SqlRec.dll, so the tests find it there; a path given wins.
        Assert.AreEqual(Path.Combine(AppContext.BaseDirectory, file), new SqlRecOptions().ResolveVectorExtensionPath());
        Assert.AreEqual("/x/vec0.so", new SqlRecOptions { VectorExtensionPath = "/x/vec0.so" }.ResolveVectorExtensionPath());
    }

    [TestMethod]
    public void AVec0FoundOnlyUnderRuntimesIsTheOneLoadedAndNoneFoundNamesTheFirstPlace()
    {
        var folder = Directory.CreateTempSubdirectory("sqlrec-vec0-lookup-").FullName;
        try
        {
            var file = SqlRecOptions.VectorExtensionFileName;
            var app = Path.Combine(folder, "app");
            Directory.CreateDirectory(app);
            // Nothing anywhere: the error names the place next to SqlRec.dll, as it always has.
            Assert.AreEqual(Path.Combine(folder, file), SqlRecOptions.FindVectorExtension(folder, app, ["linux-x64"]));

            // The layout NuGet gives an app built for any runtime.
            var packaged = Path.Combine(app, "runtimes", "linux-x64", "native", file);
            Directory.CreateDirectory(Path.GetDirectoryName(packaged)!);
            File.Copy(Path.Combine(AppContext.BaseDirectory, file), packaged);
            Assert.AreEqual(packaged, SqlRecOptions.FindVectorExtension(folder, app, ["osx-arm64", "linux-x64"]));

            // One next to SqlRec.dll (the build's, or NuGet's for an app built for one runtime) comes first.
            File.Copy(packaged, Path.Combine(folder, file));
            Assert.AreEqual(Path.Combine(folder, file), SqlRecOptions.FindVectorExtension(folder, app, ["linux-x64"]));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The CLI as a .NET tool: packed, installed from a local feed into a tool folder as a user
    /// would (<c>dotnet tool install --tool-path</c>), and run; it finds vec0 and publishes a vec0
    /// table. The tool package carries the vec0 of every platform beside SqlRec.dll, the same
    /// pinned binaries as the library package.
    /// </summary>
    [TestMethod]
    [TestCategory("Packaging")]
    public void TheCliInstallsAsADotnetToolAndRunsWithVec0()
    {
        var root = TestData.RepositoryRoot();
        var props = XDocument.Load(Path.Combine(root, "Directory.Build.props"));
        var targetFramework = props.Descendants("TargetFramework").Single().Value.Trim();
        var suffix = $"test{DateTime.UtcNow.Ticks}";
        var version = $"{props.Descendants("VersionPrefix").Single().Value.Trim()}-{suffix}";
        var work = Directory.CreateTempSubdirectory("sqlrec-tool-").FullName;
        try
        {
            var feed = Path.Combine(work, "feed");
            Dotnet(root, TimeSpan.FromMinutes(5), "pack", Path.Combine(root, "src", "SqlRec.Cli"), "-c", "Release", "-o", feed,
                "--artifacts-path", Path.Combine(work, "artifacts"), $"-p:VersionSuffix={suffix}");
            var package = Path.Combine(feed, $"SqlRec.Cli.{version}.nupkg");
            Assert.IsTrue(File.Exists(package), $"no {package}");
            using (var zip = ZipFile.OpenRead(package))
            {
                var names = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
                foreach (var (_, rid, file) in Platforms)
                    Assert.Contains($"tools/{targetFramework}/any/runtimes/{rid}/native/{file}", names, $"the tool carries {rid}'s {file}");
            }
            var tools = Path.Combine(work, "tools");
            File.WriteAllText(Path.Combine(work, "NuGet.config"), new XDocument(new XElement("configuration",
                new XElement("packageSources", new XElement("add", new XAttribute("key", "sqlrec-under-test"), new XAttribute("value", feed))))).ToString());
            Dotnet(work, TimeSpan.FromMinutes(5), "tool", "install", "SqlRec.Cli", "--tool-path", tools, "--version", version, "--configfile", Path.Combine(work, "NuGet.config"));
            var sqlrec = Path.Combine(tools, OperatingSystem.IsWindows() ? "sqlrec.exe" : "sqlrec");
            var database = Path.Combine(work, "tool.db");
            File.WriteAllBytes(database, []); // `sqlrec sql` opens an existing database; an empty file is one
            var output = Run(sqlrec, work, "sql", database,
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB); " +
                "INSERT INTO t VALUES (1, vec_f32('[1, 0, 0]')), (2, vec_f32('[0, 1, 0]')), (3, vec_f32('[0.8, 0.6, 0]')); " +
                "SELECT rec_publish('c', json_object('source', 'SELECT id, v FROM t', 'table', 'c')) ->> 'items' AS items; " +
                "SELECT group_concat(item_id) AS knn FROM (SELECT item_id FROM c_items WHERE embedding MATCH vec_f32('[1, 0.1, 0]') AND k = 2 ORDER BY distance);");
            StringAssert.Contains(output, "1,3", output);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Runs an installed program to its end and returns what it printed; fails with the output on a non-zero exit.</summary>
    private static string Run(string program, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} did not finish");
        }
        Assert.AreEqual(0, process.ExitCode, $"{program} {string.Join(' ', args)}:\n{output.Result}\n{error.Result}");
        return output.Result + error.Result;
    }

    /// <summary>
    /// The package holds exactly one vec0 per platform at runtimes/&lt;rid&gt;/native/, each equal to the
    /// verified binary in native/sqlite-vec/.cache and to the one inside the cached npm tarball,
    /// whose sha512 is the pin in sqlite-vec.targets; and it still holds the library itself.
    /// </summary>
    private static void CheckPackage(string root, string vecVersion, string package, string targetFramework)
    {
        var targets = File.ReadAllText(VecTargets(root));
        using var zip = ZipFile.OpenRead(package);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        Assert.Contains($"lib/{targetFramework}/SqlRec.dll", names);
        Assert.Contains($"lib/{targetFramework}/SqlRec.xml", names);
        CollectionAssert.AreEquivalent(
            Platforms.Select(p => $"runtimes/{p.Rid}/native/{p.File}").ToArray(),
            names.Where(n => n.StartsWith("runtimes/", StringComparison.Ordinal)).ToArray(),
            "the package's runtimes/ entries");

        foreach (var (platform, rid, file) in Platforms)
        {
            var packed = ReadAll(zip.GetEntry($"runtimes/{rid}/native/{file}")!.Open());
            var cache = Path.Combine(root, "native", "sqlite-vec", ".cache", vecVersion, platform);
            CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(cache, file)), packed, $"{rid}: the package's {file} is not the cached one");

            // The cache is only as good as its check: the tarball must still hash to the pin, and the
            // packed file must be the one inside it.
            var pin = Regex.Match(targets, $"<_SqliteVecIntegrity_{platform}>([^<]+)</").Groups[1].Value;
            var tarball = File.ReadAllBytes(Path.Combine(cache, $"sqlite-vec-{platform}-{vecVersion}.tgz"));
            Assert.AreEqual(pin, "sha512-" + Convert.ToBase64String(SHA512.HashData(tarball)), $"{platform}: the cached tarball is not the pinned one");
            CollectionAssert.AreEqual(FromTarball(tarball, "package/" + file), packed, $"{rid}: the package's {file} is not the one in the pinned tarball");
        }
    }

    /// <summary>The file that pins sqlite-vec's version and each platform's sha512.</summary>
    private static string VecTargets(string root) => Path.Combine(root, "native", "sqlite-vec", "sqlite-vec.targets");

    /// <summary>One file of a .tgz, read with the framework's own tar and gzip.</summary>
    private static byte[] FromTarball(byte[] tarball, string name)
    {
        using var reader = new TarReader(new GZipStream(new MemoryStream(tarball), CompressionMode.Decompress));
        while (reader.GetNextEntry() is { } entry)
            if (entry.Name == name && entry.DataStream is { } data) return ReadAll(data);
        Assert.Fail($"{name} is not in the tarball");
        return [];
    }

    private static byte[] ReadAll(Stream stream)
    {
        using (stream)
        using (var copy = new MemoryStream())
        {
            stream.CopyTo(copy);
            return copy.ToArray();
        }
    }

    /// <summary>
    /// A console app in <paramref name="folder"/> that references the package and nothing from this
    /// repository. Empty Directory.Build.* files stop MSBuild from picking up any found above the
    /// temp folder; NuGet.config adds the feed to the machine's own sources (which serve the
    /// package's dependencies) and offers the user's packages folder as a read-only fallback, so
    /// the dependencies are not downloaded or extracted again.
    /// </summary>
    private static void WriteApp(string folder, string feed, string version, string targetFramework, string userPackages)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(folder, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(folder, "PackageApp.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>{targetFramework}</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="SqlRec" Version="[{version}]" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(folder, "Program.cs"), AppProgram);
        var configuration = new XElement("configuration",
            new XElement("packageSources", new XElement("add", new XAttribute("key", "sqlrec-under-test"), new XAttribute("value", feed))));
        if (Directory.Exists(userPackages))
            configuration.Add(new XElement("fallbackPackageFolders", new XElement("add", new XAttribute("key", "user-packages"), new XAttribute("value", userPackages))));
        File.WriteAllText(Path.Combine(folder, "NuGet.config"), new XDocument(configuration).ToString());
    }

    /// <summary>The user's global packages folder, as NuGet itself reports it.</summary>
    private static string UserGlobalPackages(string workingDirectory)
    {
        var output = Dotnet(workingDirectory, TimeSpan.FromMinutes(1), "nuget", "locals", "global-packages", "--list");
        var match = Regex.Match(output, @"global-packages:\s*(.+?)\s*$", RegexOptions.Multiline);
        Assert.IsTrue(match.Success, output);
        return match.Groups[1].Value;
    }

    /// <summary>
    /// Runs the dotnet that runs these tests (or the one on PATH) and returns what it printed; fails
    /// with that output when it exits with an error or outlasts <paramref name="timeout"/>, and ends
    /// the test inconclusive only when dotnet cannot be started at all.
    /// </summary>
    private static string Dotnet(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        // `dotnet test` leaves its own MSBuild's settings in the environment of the test host; the
        // child builds must find their own SDK's.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        // MSBuild's worker nodes would otherwise outlive the test, holding files of its temp folder.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception("Process.Start returned null");
        }
        catch (Win32Exception e)
        {
            Assert.Inconclusive($"dotnet could not be started ({start.FileName}: {e.Message}), so the package cannot be built and tried");
            throw;
        }
        using (process)
        {
            var output = new StringBuilder();
            // Line events rather than ReadToEnd: a build server started by the child may inherit the
            // pipes and keep them open long after the child itself has exited.
            DataReceivedEventHandler collect = (_, line) => { if (line.Data != null) lock (output) output.AppendLine(line.Data); };
            process.OutputDataReceived += collect;
            process.ErrorDataReceived += collect;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var command = $"dotnet {string.Join(' ', args)}";
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                lock (output) Assert.Fail($"{command} did not finish within {timeout}:\n{output}");
            }
            // Gives the last lines a moment to arrive, without waiting on pipes a build server holds.
            Task.WaitAny(process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(5)));
            string text;
            lock (output) text = output.ToString();
            Assert.AreEqual(0, process.ExitCode, $"{command} failed in {workingDirectory}:\n{text}");
            return text;
        }
    }
}
