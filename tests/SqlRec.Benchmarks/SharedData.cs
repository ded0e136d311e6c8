namespace SqlRec.Benchmarks;

/// <summary>
/// Where the public data sets and model files live: ../shared/data beside the repository root (the
/// folder holding SqlRec.sln). They are not in the repository, so every benchmark that reads them
/// asks here and reports the path itself when nothing is there.
/// </summary>
internal static class SharedData
{
    /// <summary>
    /// The full path of <paramref name="parts"/> under ../shared/data; whether it exists is not
    /// checked. Without SqlRec.sln above the binaries (a copied build), ./shared/data is used, so
    /// a path passed on the command line stays the way to point elsewhere.
    /// </summary>
    public static string PathOf(params string[] parts)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory != null && !File.Exists(Path.Combine(directory.FullName, "SqlRec.sln"))) directory = directory.Parent;
        return Path.GetFullPath(Path.Combine([directory?.Parent?.FullName ?? ".", "shared", "data", .. parts]));
    }
}
