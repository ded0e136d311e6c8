using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using SqlRec.Models;
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
    private sealed record Entry(string Name, int[] Scalar, bool Table, string[] Flags, string[] Parameters, string[] Columns);

    private static string[] Strings(JsonElement json, string property) =>
        json.TryGetProperty(property, out var value) ? value.EnumerateArray().Select(e => e.GetString()!).ToArray() : [];

    /// <summary>The folder holding SqlRec.sln: <see cref="TestData.RepositoryRoot"/>, kept here for the callers that name it.</summary>
    internal static string RepositoryRoot() => TestData.RepositoryRoot();

    private static string Catalog() => File.ReadAllText(Path.Combine(RepositoryRoot(), "sql", "functions.md"));

    private static List<Entry> Entries() =>
        Marker().Matches(Catalog()).Select(m =>
        {
            var json = JsonDocument.Parse(m.Groups[1].Value).RootElement;
            return new Entry(json.GetProperty("name").GetString()!,
                json.GetProperty("scalar").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                json.GetProperty("table").GetBoolean(), Strings(json, "flags"), Strings(json, "parameters"), Strings(json, "columns"));
        }).ToList();

    [GeneratedRegex(@"<!-- sqlrec-function: (\{.*?\}) -->")]
    private static partial Regex Marker();

    [GeneratedRegex(@"```sql\n(.*?)```\n```text\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex Example();

    /// <summary>Every example of the catalog: its SQL, and what the sqlite3 shell prints for it.</summary>
    internal static IReadOnlyList<(string Sql, string Output)> Examples() =>
        [.. Example().Matches(Catalog()).Select(m => (m.Groups[1].Value, m.Groups[2].Value.TrimEnd('\n')))];

    /// <summary>The flag names of a registration row, as the catalog writes them.</summary>
    private static string[] FlagNames(FunctionFlags flags) =>
        [.. new[] { (FunctionFlags.Deterministic, "DETERMINISTIC"), (FunctionFlags.DirectOnly, "DIRECTONLY"), (FunctionFlags.Innocuous, "INNOCUOUS") }
            .Where(f => flags.HasFlag(f.Item1)).Select(f => f.Item2)];

    [TestMethod]
    public void CatalogEqualsTheRegistrationTable()
    {
        var catalog = Entries().ToDictionary(e => e.Name);
        CollectionAssert.AreEqual(SqlFunctions.All.Select(f => f.Name).ToArray(), Entries().Select(e => e.Name).ToArray(), "the same functions, in the same order");
        foreach (var function in SqlFunctions.All)
        {
            var entry = catalog[function.Name];
            CollectionAssert.AreEqual(function.Arities.ToArray(), entry.Scalar, $"{function.Name}: scalar arities");
            Assert.AreEqual(function.Table is not null, entry.Table, $"{function.Name}: table-valued form");
            CollectionAssert.AreEqual(FlagNames(function.Flags), entry.Flags, $"{function.Name}: flags");
            CollectionAssert.AreEqual(function.Parameters.ToArray(), entry.Parameters, $"{function.Name}: parameters");
            CollectionAssert.AreEqual(function.Table?.Columns.ToArray() ?? [], entry.Columns, $"{function.Name}: result columns");
        }
    }

    /// <summary>
    /// The catalog's option rows of each model kind (and of the training call itself) are the
    /// kind's own option table, printed: the rows between <c>&lt;!-- sqlrec-options: name --&gt;</c>
    /// and <c>&lt;!-- /sqlrec-options --&gt;</c>. On a difference the message holds the rows to paste.
    /// </summary>
    [TestMethod]
    public void CatalogOptionRowsAreTheKindsOwnTables()
    {
        var catalog = Catalog();
        var tables = ModelKinds.All.Append<IModelKind>(ModelKinds.Auto).Select(k => (k.Name, k.OptionTable)).Prepend(("rec_train", TrainingPlan.CallOptions));
        foreach (var (name, table) in tables)
        {
            var start = $"<!-- sqlrec-options: {name} -->\n";
            var from = catalog.IndexOf(start, StringComparison.Ordinal);
            Assert.IsGreaterThanOrEqualTo(0, from, $"sql/functions.md has no {start.Trim()} block; add it with these rows:\n{table.CatalogRows()}");
            from += start.Length;
            var to = catalog.IndexOf("<!-- /sqlrec-options -->", from, StringComparison.Ordinal);
            Assert.AreEqual(table.CatalogRows(), catalog[from..to], $"the option rows of {name} differ from its table; paste:\n{table.CatalogRows()}");
        }
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
        // Every scalar function carries the flags the catalog gives it (DETERMINISTIC 0x800, DIRECTONLY 0x80000, INNOCUOUS 0x200000).
        foreach (var entry in Entries().Where(e => e.Scalar.Length > 0))
        {
            var flags = db.Rows("SELECT DISTINCT flags & (0x800 | 0x80000 | 0x200000) FROM pragma_function_list WHERE name = $1", entry.Name).Select(r => (long)r[0]!).ToArray();
            var expected = (entry.Flags.Contains("DETERMINISTIC") ? 0x800 : 0) | (entry.Flags.Contains("DIRECTONLY") ? 0x80000 : 0) | (entry.Flags.Contains("INNOCUOUS") ? 0x200000 : 0);
            CollectionAssert.AreEqual(new long[] { expected }, flags, $"{entry.Name}: flags in pragma_function_list");
        }
        // A DIRECTONLY table-valued function refuses to run inside a view (SQLite's "unsafe use").
        foreach (var entry in Entries().Where(e => e.Table && e.Flags.Contains("DIRECTONLY")))
        {
            db.Execute($"CREATE VIEW v_{entry.Name} AS SELECT * FROM {entry.Name}");
            var error = Assert.ThrowsExactly<Microsoft.Data.Sqlite.SqliteException>(() => db.Rows($"SELECT * FROM v_{entry.Name}"), entry.Name);
            StringAssert.Contains(TestDb.SqliteMessage(error), $"unsafe use of virtual table \"{entry.Name}\"", entry.Name);
        }
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
