namespace SqlRec.Tests;

/// <summary>
/// What many test classes share: a random user-item graph, the plain top-k reference rankings are
/// checked against, and where the real data sets live (../shared/data beside the repository).
/// </summary>
internal static class TestData
{
    // ---- generated graphs ----------------------------------------------------------------------

    /// <summary>
    /// A random binary user-item graph in CSR form (row offsets, item columns ascending within each
    /// row) where every user has at least one item and misses at least one, and every item has at
    /// least one user: no empty row or column, so degrees never divide by zero, and every user has
    /// an item left to sample as a negative or to recommend.
    /// </summary>
    /// <param name="users">Rows; at least 2, since a lone user would have to hold every item.</param>
    /// <param name="items">Columns; at least 2, so that a user can have one and miss one.</param>
    /// <param name="density">The chance of each user-item pair beyond the ones that make the guarantees.</param>
    /// <param name="seed">The same seed gives the same graph.</param>
    public static (int[] Offsets, int[] Columns) RandomGraph(int users, int items, double density, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(users, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(items, 2);
        var random = new Random(seed);
        var rows = new SortedSet<int>[users];
        for (var u = 0; u < users; u++)
        {
            rows[u] = [random.Next(items)];
            for (var i = 0; i < items; i++) if (random.NextDouble() < density) rows[u].Add(i);
        }
        for (var i = 0; i < items; i++) rows[random.Next(users)].Add(i);
        // A full row gives up one item that another user still holds, so that no item loses its last user.
        for (var u = 0; u < users; u++)
        {
            if (rows[u].Count < items) continue;
            var giveUp = Enumerable.Range(0, items).Select(step => (u + step) % items)
                .First(i => Enumerable.Range(0, users).Any(v => v != u && rows[v].Contains(i)));
            rows[u].Remove(giveUp);
        }
        var offsets = new int[users + 1];
        for (var u = 0; u < users; u++) offsets[u + 1] = offsets[u] + rows[u].Count;
        return (offsets, [.. rows.SelectMany(row => row)]);
    }

    // ---- the plain top-k reference ---------------------------------------------------------------

    /// <summary>
    /// The plain top-k reference: every index not excluded, sorted by score descending, ties to the
    /// lower index, NaN after every number (even negative infinity), the first <paramref name="k"/>.
    /// Sorts everything on purpose: it is what the heaps, kernels and SQL paths under test must equal.
    /// </summary>
    /// <param name="scores">One score per index.</param>
    /// <param name="k">How many to keep; <see cref="int.MaxValue"/> for the whole ranking.</param>
    /// <param name="excluded">Indices that may not appear (seen items, the query itself, rows outside a filter).</param>
    public static int[] TopK(IReadOnlyList<double> scores, int k, IEnumerable<int>? excluded = null)
    {
        var left = excluded?.ToHashSet() ?? [];
        return Enumerable.Range(0, scores.Count)
            .Where(i => !left.Contains(i))
            .OrderBy(i => double.IsNaN(scores[i]) ? 1 : 0)
            .ThenByDescending(i => double.IsNaN(scores[i]) ? 0 : scores[i])
            .ThenBy(i => i)
            .Take(k)
            .ToArray();
    }

    /// <summary>
    /// <see cref="TopK(IReadOnlyList{double}, int, IEnumerable{int}?)"/> for float scores: widening to
    /// double keeps every order, tie and NaN as it was.
    /// </summary>
    public static int[] TopK(IReadOnlyList<float> scores, int k, IEnumerable<int>? excluded = null) =>
        TopK(scores.Select(score => (double)score).ToArray(), k, excluded);

    // ---- real data ---------------------------------------------------------------------------------

    /// <summary>The folder holding SqlRec.sln, found above the test binaries (or given by SQLREC_REPO_ROOT).</summary>
    public static string RepositoryRoot()
    {
        if (Environment.GetEnvironmentVariable("SQLREC_REPO_ROOT") is { Length: > 0 } root) return root;
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory != null && !File.Exists(Path.Combine(directory.FullName, "SqlRec.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("SqlRec.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>
    /// The full path of <paramref name="parts"/> under ../shared/data beside the repository root, where
    /// the public data sets and model files live (see its README); whether it exists is not checked.
    /// </summary>
    public static string SharedData(params string[] parts) =>
        Path.GetFullPath(Path.Combine([RepositoryRoot(), "..", "shared", "data", .. parts]));

    /// <summary>
    /// <see cref="SharedData"/>, or the test ends inconclusive, naming the path, when neither a file
    /// nor a folder is there: the data is not in the repository and not every machine has it. The
    /// wording is fixed because the CI script looks for it among the reasons of skipped tests.
    /// </summary>
    public static string RequireSharedData(params string[] parts)
    {
        var path = SharedData(parts);
        if (!File.Exists(path) && !Directory.Exists(path)) Assert.Inconclusive($"real data not present: {path}");
        return path;
    }
}
