using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using SqlRec.Sql;

namespace SqlRec.Tests;

/// <summary>
/// sql/functions.md is the one catalog of SQL functions: it must list exactly what UseSqlRec()
/// registers, every function must have happy-path and error tests, and every example must print
/// what the catalog says it prints.
/// </summary>
[TestClass]
public sealed partial class CatalogTests
{
    private sealed record Entry(string Name, int[] Scalar, bool Table);

    /// <summary>The folder holding SqlRec.sln, found above the test binaries (or given by SQLREC_REPO_ROOT).</summary>
    internal static string RepositoryRoot()
    {
        if (Environment.GetEnvironmentVariable("SQLREC_REPO_ROOT") is { Length: > 0 } root) return root;
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory != null && !File.Exists(Path.Combine(directory.FullName, "SqlRec.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("SqlRec.sln not found above " + AppContext.BaseDirectory);
    }

    private static string Catalog() => File.ReadAllText(Path.Combine(RepositoryRoot(), "sql", "functions.md"));

    private static List<Entry> Entries() =>
        Marker().Matches(Catalog()).Select(m =>
        {
            var json = JsonDocument.Parse(m.Groups[1].Value).RootElement;
            return new Entry(json.GetProperty("name").GetString()!,
                json.GetProperty("scalar").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                json.GetProperty("table").GetBoolean());
        }).ToList();

    [GeneratedRegex(@"<!-- sqlrec-function: (\{.*?\}) -->")]
    private static partial Regex Marker();

    [GeneratedRegex(@"```sql\n(.*?)```\n```text\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex Example();

    [TestMethod]
    public void CatalogEqualsTheRegistrationTable()
    {
        var catalog = Entries();
        Assert.IsNotEmpty(catalog);
        var documented = catalog.SelectMany(e => e.Scalar.Select(n => $"{e.Name}/{n}")).Order().ToArray();
        var registered = SqlFunctions.Scalars.Select(f => $"{f.Name}/{f.ArgumentCount}").Order().ToArray();
        CollectionAssert.AreEqual(registered, documented);
        CollectionAssert.AreEquivalent(SqlFunctions.Tables.Select(t => t.Name).ToArray(), catalog.Where(e => e.Table).Select(e => e.Name).ToArray());
    }

    [TestMethod]
    public void CatalogEqualsWhatSqliteListsAfterUseSqlRec()
    {
        using var plain = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=:memory:");
        plain.Open();
        var builtin = TestDb.Rows(plain, "SELECT name || '/' || narg FROM pragma_function_list").Select(r => (string)r[0]!).ToHashSet();
        using var db = TestDb.InMemory();
        var added = db.Rows("SELECT name || '/' || narg FROM pragma_function_list").Select(r => (string)r[0]!)
            .Where(f => !builtin.Contains(f) && !f.StartsWith("vec_", StringComparison.Ordinal)).Order().ToArray();
        var documented = Entries().SelectMany(e => e.Scalar.Select(n => $"{e.Name}/{n}")).Order().ToArray();
        CollectionAssert.AreEqual(documented, added);
        var modules = db.Rows("SELECT name FROM pragma_module_list").Select(r => (string)r[0]!).ToHashSet();
        foreach (var table in Entries().Where(e => e.Table)) Assert.Contains(table.Name, modules);
        // Flags as documented: training and scoring are DIRECTONLY, pure functions deterministic.
        var flags = db.Rows("SELECT DISTINCT name, flags FROM pragma_function_list WHERE name IN ('recommend', 'rec_train', 'rec_drop', 'rec_version')")
            .ToDictionary(r => $"{r[0]}", r => (long)r[1]!, StringComparer.Ordinal);
        Assert.AreNotEqual(0L, flags["recommend"] & 0x80000, "recommend is DIRECTONLY");
        Assert.AreNotEqual(0L, flags["rec_train"] & 0x80000, "rec_train is DIRECTONLY");
        Assert.AreNotEqual(0L, flags["rec_version"] & 0x800, "rec_version is DETERMINISTIC");
    }

    [TestMethod]
    public void EveryCatalogFunctionHasHappyPathAndErrorTests()
    {
        var categories = Assembly.GetExecutingAssembly().GetTypes()
            .SelectMany(t => t.GetMethods())
            .Where(m => m.GetCustomAttribute<TestMethodAttribute>() != null)
            .SelectMany(m => m.GetCustomAttributes<TestCategoryAttribute>().SelectMany(c => c.TestCategories))
            .ToHashSet(StringComparer.Ordinal);
        foreach (var entry in Entries())
        {
            Assert.Contains($"fn:{entry.Name}", categories, $"{entry.Name} has no test tagged fn:{entry.Name}");
            Assert.Contains($"errors:{entry.Name}", categories, $"{entry.Name} has no test tagged errors:{entry.Name}");
        }
    }

    [TestMethod]
    public void EveryExamplePrintsWhatTheCatalogShows()
    {
        var setup = File.ReadAllText(Path.Combine(RepositoryRoot(), "sql", "examples", "setup.sql"));
        var examples = Example().Matches(Catalog());
        Assert.IsGreaterThanOrEqualTo(Entries().Count, examples.Count, "every function has an example");
        foreach (Match example in examples)
        {
            using var db = TestDb.InMemory();
            db.Rows(setup);
            var sql = example.Groups[1].Value;
            var printed = string.Join("\n", db.Rows(sql).Select(row => string.Join("|", row.Select(Format))));
            Assert.AreEqual(example.Groups[2].Value.TrimEnd('\n'), printed, $"example: {sql}");
        }
    }

    /// <summary>Formats a value the way the sqlite3 shell's default list mode does.</summary>
    internal static string Format(object? value) => value switch
    {
        null => "",
        double d when double.IsFinite(d) && d == Math.Floor(d) && Math.Abs(d) < 1e15 => d.ToString("F1", CultureInfo.InvariantCulture),
        double d => d.ToString("G15", CultureInfo.InvariantCulture),
        byte[] b => Convert.ToHexString(b),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
