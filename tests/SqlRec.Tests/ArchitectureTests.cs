using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace SqlRec.Tests;

/// <summary>
/// The layer table in ARCHITECTURE.md is the one statement of which part of src/SqlRec may use
/// which. These tests read that table at run time and check the source against it with Roslyn:
/// every file must sit in a layer's folder, and every <c>using</c> and every type or member a file
/// refers to must belong to the file's own layer, a layer its row allows, the BCL (<c>System.*</c>)
/// or an outside library its row names. The source is compiled (without source generators) so
/// that names resolve exactly as the C# compiler resolves them; a name that does not resolve fails
/// the test instead of slipping past the check.
/// </summary>
[TestClass]
public sealed class ArchitectureTests
{
    private const string TableStart = "<!-- sqlrec-layers -->";
    private const string TableEnd = "<!-- /sqlrec-layers -->";

    /// <summary>
    /// One row of the layer table. <paramref name="Folder"/> is the folder's name under src/SqlRec
    /// without the slash, or the empty string for <c>(root)</c> (files directly in src/SqlRec).
    /// </summary>
    internal sealed record Layer(string Name, string Folder, IReadOnlyList<string> MayUse, IReadOnlyList<string> Libraries)
    {
        /// <summary>The folder as the table writes it, for messages.</summary>
        public string FolderText => Folder.Length == 0 ? "(root)" : Folder + "/";

        /// <summary>Whether this layer may use <paramref name="other"/>; a layer may always use itself.</summary>
        public bool Allows(string other) => other == Name || MayUse.Contains(other);

        /// <summary>
        /// Whether a namespace from a referenced assembly is one this layer may use: the BCL always,
        /// otherwise only the outside libraries its row names (a library's root namespace and
        /// everything under it).
        /// </summary>
        public bool AllowsNamespace(string ns) =>
            IsBcl(ns) || Libraries.Any(library => ns == library || ns.StartsWith(library + ".", StringComparison.Ordinal));
    }

    /// <summary>
    /// One dependency the table does not allow. <see cref="To"/> names what was used (<c>layer
    /// store</c>, <c>library ILGPU.Runtime</c>, <c>Native/ (no layer)</c>) and <see cref="What"/>
    /// the using directive or the type referred to.
    /// </summary>
    internal sealed record Violation(string File, int Line, string From, string To, string What)
    {
        /// <summary>What makes two reports the same violation: the line is left out, so a type used on many lines of a file is reported once.</summary>
        public (string File, string To, string What) Key => (File, To, What);

        public override string ToString() => $"{File}:{Line}: {From} -> {To}: {What}";
    }

    /// <summary>The source of src/SqlRec compiled once, with the layer table it is checked against.</summary>
    internal sealed class Codebase
    {
        public required string Root { get; init; }
        public required IReadOnlyList<Layer> Layers { get; init; }
        public required CSharpCompilation Compilation { get; init; }

        /// <summary>The trees of the files under src/SqlRec (not the synthetic global usings), by path relative to the repository root.</summary>
        public required IReadOnlyDictionary<string, SyntaxTree> Files { get; init; }

        /// <summary>The synthetic tree standing in for a file's source-generated code, by the file's relative path.</summary>
        public required IReadOnlyDictionary<string, SyntaxTree> Stubs { get; init; }

        /// <summary>The layer a file belongs to (by its first folder under src/SqlRec), or null when no row of the table holds that folder.</summary>
        public Layer? LayerOf(string relativePath) => LayerOfFile(Layers, relativePath);

        /// <summary>The files of a layer, in ordinal path order.</summary>
        public IEnumerable<string> FilesOf(string layer) =>
            Files.Keys.Where(f => LayerOf(f)?.Name == layer).Order(StringComparer.Ordinal);
    }

    private static readonly Lazy<Codebase> Real = new(LoadCodebase);
    private static readonly Lazy<IReadOnlyList<Violation>> RealViolations = new(() => Analyze(Real.Value));

    /// <summary>
    /// The table is what every other check trusts, so it must itself make sense: unique layers and
    /// folders, "may use" naming only layers further down (a one-way stack has no cycles), folders
    /// that exist, and outside libraries that are namespaces outside the BCL.
    /// </summary>
    [TestMethod]
    public void LayerTableIsWellFormed()
    {
        var root = CatalogTests.RepositoryRoot();
        var layers = ReadLayerTable(File.ReadAllText(Path.Combine(root, "ARCHITECTURE.md")));
        Assert.IsNotEmpty(layers);
        var names = layers.Select(l => l.Name).ToList();
        CollectionAssert.AllItemsAreUnique(names, "layer names");
        CollectionAssert.AllItemsAreUnique(layers.Select(l => l.Folder).ToList(), "layer folders");
        var problems = new List<string>();
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            foreach (var used in layer.MayUse)
            {
                var index = names.IndexOf(used);
                if (index < 0) problems.Add($"{layer.Name}: may use '{used}', which is no layer of the table");
                // The stack is one-way: a layer may only use rows below it, which also rules out cycles.
                else if (index <= i) problems.Add($"{layer.Name}: may use '{used}', which is not below it in the table");
            }
            if (!Directory.Exists(Path.Combine(root, "src", "SqlRec", layer.Folder)))
                problems.Add($"{layer.Name}: folder src/SqlRec/{layer.FolderText} does not exist");
            foreach (var library in layer.Libraries)
            {
                if (library.Split('.').Any(part => !SyntaxFacts.IsValidIdentifier(part)))
                    problems.Add($"{layer.Name}: outside library '{library}' is not a namespace");
                if (IsBcl(library)) problems.Add($"{layer.Name}: '{library}' is part of the BCL, which every layer may use; leave it out");
            }
        }
        Assert.IsEmpty(problems, "The layer table in ARCHITECTURE.md:\n" + string.Join("\n", problems));
    }

    /// <summary>The real tree breaks no rule of the table; the failure lists every violation, grouped by layer pair and then one per line.</summary>
    [TestMethod]
    public void EveryDependencyIsAllowedByTheLayerTable()
    {
        var violations = RealViolations.Value;
        Assert.IsEmpty(violations, Describe(violations));
    }

    /// <summary>
    /// The check is not vacuous for usings: a <c>using</c> of a layer the models may not use, added
    /// in memory to the first models file, is reported (file, line 1, the directive) and is the only
    /// new report. Runs against whatever the real tree's own violations are.
    /// </summary>
    [TestMethod]
    public void AForbiddenUsingIsReported()
    {
        var code = Real.Value;
        var before = RealViolations.Value;
        var models = code.Layers.Single(l => l.Name == "models");
        var file = code.FilesOf(models.Name).First();
        // A layer the models may not use, that has source files and whose namespace exists (the
        // root folder has no namespace of its own) and that the file does not already use.
        var forbidden = code.Layers.First(l => !models.Allows(l.Name) && l.Folder.Length > 0
            && code.FilesOf(l.Name).Any()
            && NamespaceExists(code.Compilation, "SqlRec." + l.Folder)
            && !before.Any(v => v.File == file && v.To == "layer " + l.Name));
        var directive = $"using SqlRec.{forbidden.Folder};";

        var after = AnalyzeWithChangedFile(code, file, text => directive + "\n" + text);

        var expected = new Violation(file, 1, models.Name, "layer " + forbidden.Name, directive);
        AssertOnlyNewViolation(before, after, expected);
    }

    /// <summary>
    /// The check is not vacuous for names: a fully qualified reference (no <c>using</c>) from a
    /// compute file to a type of a layer compute may not use, added in memory in a new private
    /// method, is reported at its line with that type, and is the only new report.
    /// </summary>
    [TestMethod]
    public void AForbiddenTypeReferenceIsReported()
    {
        var code = Real.Value;
        var before = RealViolations.Value;
        var compute = code.Layers.Single(l => l.Name == "compute");
        // The first compute file with a class or struct body to add a private static method to.
        var (file, host) = code.FilesOf(compute.Name)
            .Select(f => (File: f, Host: code.Files[f].GetRoot().DescendantNodes().OfType<TypeDeclarationSyntax>()
                .FirstOrDefault(t => t is not InterfaceDeclarationSyntax && !t.OpenBraceToken.IsMissing)))
            .First(h => h.Host != null);
        // A top-level type of a layer compute may not use, that this file does not already refer to.
        var target = code.Layers.Where(l => !compute.Allows(l.Name))
            .SelectMany(l => code.FilesOf(l.Name).SelectMany(f => TopLevelTypes(code, f)).Select(t => (Layer: l, Type: t)))
            .First(t => !before.Any(v => v.File == file && v.What == t.Type.ToDisplayString()));
        var name = FullyQualifiedTypeOfName(target.Type);

        var text = code.Files[file].GetText();
        var method = $"\n    private static global::System.Type ArchitectureProbe() =>\n        typeof({name});\n";
        var changed = text.ToString().Insert(host!.CloseBraceToken.SpanStart, method);
        var line = SourceText.From(changed).Lines.GetLineFromPosition(changed.IndexOf("typeof(" + name, StringComparison.Ordinal)).LineNumber + 1;

        var after = AnalyzeWithChangedFile(code, file, _ => changed);

        var expected = new Violation(file, line, compute.Name, "layer " + target.Layer.Name, target.Type.ToDisplayString());
        AssertOnlyNewViolation(before, after, expected);
    }

    /// <summary>
    /// The injected violation must be new, must be reported where it was injected, and must be the
    /// only new report: the rest of the tree's violations (there may be some mid-refactor) are
    /// compared by <see cref="Violation.Key"/>, which leaves out lines the injection shifted.
    /// </summary>
    private static void AssertOnlyNewViolation(IReadOnlyList<Violation> before, IReadOnlyList<Violation> after, Violation expected)
    {
        Assert.IsFalse(before.Any(v => v.Key == expected.Key), $"already reported before the change: {expected}");
        var added = after.Where(v => !before.Any(b => b.Key == v.Key)).ToList();
        Assert.HasCount(1, added, "new violations after the change:\n" + string.Join("\n", added));
        Assert.AreEqual(expected, added[0]);
    }

    /// <summary>
    /// The analysis of the real tree with one file's text replaced in memory: the other trees and
    /// the references are reused, and so are the other files' violations (see <see cref="Analyze(Codebase, IReadOnlyCollection{string}, IEnumerable{Violation})"/>).
    /// </summary>
    private static IReadOnlyList<Violation> AnalyzeWithChangedFile(Codebase code, string file, Func<string, string> change)
    {
        var old = code.Files[file];
        var tree = CSharpSyntaxTree.ParseText(change(old.GetText().ToString()), (CSharpParseOptions)old.Options, old.FilePath);
        var compilation = code.Compilation.ReplaceSyntaxTree(old, tree);
        var stubs = code.Stubs.Where(kv => kv.Key != file).ToDictionary(StringComparer.Ordinal);
        if (code.Stubs.TryGetValue(file, out var oldStub)) compilation = compilation.RemoveSyntaxTrees(oldStub);
        if (GeneratedCodeStub(tree) is { } stub)
        {
            compilation = compilation.AddSyntaxTrees(stub);
            stubs[file] = stub;
        }
        var files = code.Files.ToDictionary(kv => kv.Key, kv => kv.Key == file ? tree : kv.Value, StringComparer.Ordinal);
        var changed = new Codebase { Root = code.Root, Layers = code.Layers, Compilation = compilation, Files = files, Stubs = stubs };
        return Analyze(changed, [file], RealViolations.Value);
    }

    /// <summary>
    /// Reads the rows between the <c>sqlrec-layers</c> markers: <c>layer | folder | what it holds |
    /// may use | outside libraries</c>, the last two comma-separated (empty for none).
    /// </summary>
    internal static List<Layer> ReadLayerTable(string markdown)
    {
        var start = markdown.IndexOf(TableStart, StringComparison.Ordinal);
        var end = markdown.IndexOf(TableEnd, StringComparison.Ordinal);
        if (start < 0 || end < start) throw new InvalidOperationException($"ARCHITECTURE.md has no table between {TableStart} and {TableEnd}");
        var rows = markdown[(start + TableStart.Length)..end].Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.StartsWith('|'))
            .Select(Cells)
            .ToList();
        string[] header = ["layer", "folder", "what it holds", "may use", "outside libraries"];
        if (rows.Count < 2 || !rows[0].SequenceEqual(header) || !rows[1].All(c => c.Length > 0 && c.All(ch => ch is '-' or ':')))
            throw new InvalidOperationException("the layer table must start with the header | " + string.Join(" | ", header) + " | and its --- row");
        return rows.Skip(2).Select(cells =>
        {
            var name = Unquote(cells[0]);
            var folder = Unquote(cells[1]);
            if (folder == "(root)") folder = "";
            else if (folder.EndsWith('/') && folder.Length > 1 && !folder[..^1].Contains('/')) folder = folder[..^1];
            else throw new InvalidOperationException($"layer {name}: folder '{cells[1]}' is neither (root) nor one folder like Sql/");
            return new Layer(name, folder, List(cells[3]), List(cells[4]));
        }).ToList();

        static string[] Cells(string row)
        {
            var cells = row.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            return cells.Length == 5 ? cells : throw new InvalidOperationException($"a layer table row has {cells.Length} cells, not 5: {row}");
        }

        static string Unquote(string cell) => cell.Replace("`", "", StringComparison.Ordinal).Trim();

        static List<string> List(string cell) =>
            Unquote(cell).Split(',').Select(s => s.Trim()).Where(s => s.Length > 0).ToList();
    }

    /// <summary>System and its sub-namespaces (and Microsoft.Win32) ship with .NET, so every layer may use them.</summary>
    private static bool IsBcl(string ns) =>
        ns == "System" || ns.StartsWith("System.", StringComparison.Ordinal)
        || ns == "Microsoft.Win32" || ns.StartsWith("Microsoft.Win32.", StringComparison.Ordinal);

    private static Layer? LayerOfFile(IReadOnlyList<Layer> layers, string relativePath)
    {
        var underSource = relativePath["src/SqlRec/".Length..];
        var slash = underSource.IndexOf('/', StringComparison.Ordinal);
        var folder = slash < 0 ? "" : underSource[..slash];
        return layers.FirstOrDefault(l => l.Folder == folder);
    }

    private static string FolderOf(string relativePath)
    {
        var underSource = relativePath["src/SqlRec/".Length..];
        var slash = underSource.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? "(root)" : underSource[..(slash + 1)];
    }

    /// <summary>
    /// Parses src/SqlRec as the project compiles it (preview language, unsafe code, nullable, the
    /// SDK's implicit global usings) against the framework and the library's package assemblies
    /// that the test run already has.
    /// </summary>
    private static Codebase LoadCodebase()
    {
        var root = CatalogTests.RepositoryRoot();
        var layers = ReadLayerTable(File.ReadAllText(Path.Combine(root, "ARCHITECTURE.md")));
        var source = Path.Combine(root, "src", "SqlRec");
        var parse = new CSharpParseOptions(LanguageVersion.Preview, preprocessorSymbols: ["DEBUG", "TRACE", "NET", "NET10_0", "NET10_0_OR_GREATER"]);
        var files = Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories)
            .Select(path => (Path: path, Relative: Path.GetRelativePath(root, path).Replace('\\', '/')))
            .Where(f => !f.Relative.Split('/').Skip(2).Any(part => part is "obj" or "bin"))
            .OrderBy(f => f.Relative, StringComparer.Ordinal)
            .ToList();
        var trees = files.AsParallel().AsOrdered()
            .Select(f => CSharpSyntaxTree.ParseText(SourceText.From(File.ReadAllText(f.Path)), parse, f.Path))
            .ToList();
        var globalUsings = CSharpSyntaxTree.ParseText(GlobalUsings(root), parse, "GlobalUsings.g.cs");
        var stubs = files.Select((f, i) => (f.Relative, Stub: GeneratedCodeStub(trees[i])))
            .Where(f => f.Stub != null)
            .ToDictionary(f => f.Relative, f => f.Stub!, StringComparer.Ordinal);
        var options = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable);
        var compilation = CSharpCompilation.Create("SqlRec", [.. trees, globalUsings, .. stubs.Values], References(), options);
        return new Codebase
        {
            Root = root,
            Layers = layers,
            Compilation = compilation,
            Files = files.Select((f, i) => (f.Relative, Tree: trees[i])).ToDictionary(f => f.Relative, f => f.Tree, StringComparer.Ordinal),
            Stubs = stubs,
        };
    }

    /// <summary>
    /// The global usings the SDK writes for the project: the implicit ones of a plain library
    /// (ImplicitUsings is on for every project) and any <c>&lt;Using&gt;</c> items of
    /// SqlRec.csproj or Directory.Build.props, so that a name imported there still resolves here.
    /// </summary>
    private static string GlobalUsings(string root)
    {
        var usings = new List<string> { "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks" }
            .Select(ns => $"global using global::{ns};").ToList();
        foreach (var project in new[] { Path.Combine(root, "Directory.Build.props"), Path.Combine(root, "src", "SqlRec", "SqlRec.csproj") }.Where(File.Exists))
        {
            foreach (var item in System.Xml.Linq.XDocument.Load(project).Descendants().Where(e => e.Name.LocalName == "Using"))
            {
                if ((string?)item.Attribute("Remove") is { } removed) usings.Remove($"global using global::{removed};");
                if ((string?)item.Attribute("Include") is not { } ns) continue;
                usings.Add((string?)item.Attribute("Alias") is { } alias ? $"global using {alias} = global::{ns};"
                    : string.Equals((string?)item.Attribute("Static"), "true", StringComparison.OrdinalIgnoreCase) ? $"global using static global::{ns};"
                    : $"global using global::{ns};");
            }
        }
        return string.Join("\n", usings.Distinct()) + "\n";
    }

    /// <summary>
    /// The framework (the trusted platform assemblies) and every assembly next to the tests, leaving
    /// out SqlRec itself and whatever references it (the tests, the CLI, the samples): those would
    /// declare SqlRec's types a second time. The first assembly of a simple name wins.
    /// </summary>
    private static List<MetadataReference> References()
    {
        var candidates = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll").Order(StringComparer.Ordinal));
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var references = new List<MetadataReference>();
        foreach (var path in candidates)
        {
            if (!File.Exists(path) || ManagedAssemblyName(path) is not { } name) continue;
            if (name.StartsWith("SqlRec", StringComparison.OrdinalIgnoreCase) || name == "MovieSearch" || ReferencesSqlRec(path)) continue;
            if (seen.Add(name)) references.Add(MetadataReference.CreateFromFile(path));
        }
        return references;
    }

    /// <summary>The simple name of a managed assembly, or null for a native library or a file that is no assembly.</summary>
    private static string? ManagedAssemblyName(string path)
    {
        try
        {
            using var pe = new PEReader(File.OpenRead(path));
            if (!pe.HasMetadata) return null;
            var reader = pe.GetMetadataReader();
            return reader.IsAssembly ? reader.GetString(reader.GetAssemblyDefinition().Name) : null;
        }
        catch (BadImageFormatException)
        {
            return null;
        }
    }

    private static bool ReferencesSqlRec(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var reader = pe.GetMetadataReader();
        return reader.AssemblyReferences.Any(handle => reader.GetString(reader.GetAssemblyReference(handle).Name) == "SqlRec");
    }

    /// <summary>
    /// Every dependency of every file that the table does not allow, sorted and one per file, thing
    /// used and symbol. Fails first if the source does not compile (apart from the bodies that
    /// source generators would write), since an unresolved name could hide a dependency.
    /// </summary>
    internal static IReadOnlyList<Violation> Analyze(Codebase code) => Analyze(code, [.. code.Files.Keys], []);

    /// <summary>
    /// <see cref="Analyze(Codebase)"/> for some of the files only, adding the violations already
    /// known for the others (<paramref name="kept"/>). A change to one file that adds a using or a
    /// private member cannot change how another file binds, so the injection tests re-check just
    /// the changed file and stay fast.
    /// </summary>
    private static IReadOnlyList<Violation> Analyze(Codebase code, IReadOnlyCollection<string> files, IEnumerable<Violation> kept)
    {
        var compilation = code.Compilation;
        var diagnostics = files.Count == code.Files.Count
            ? compilation.GetDiagnostics()
            : files.SelectMany(f => code.Stubs.TryGetValue(f, out var stub) ? [code.Files[f], stub] : new[] { code.Files[f] })
                .SelectMany(tree => compilation.GetSemanticModel(tree).GetDiagnostics());
        var errors = diagnostics
            .Where(d => d.Severity == DiagnosticSeverity.Error && !IsMissingGeneratedCode(d))
            .OrderBy(d => d.Location.SourceTree?.FilePath, StringComparer.Ordinal).ThenBy(d => d.Location.SourceSpan.Start)
            .ToList();
        if (errors.Count > 0)
            Assert.Fail($"src/SqlRec does not compile for the architecture check ({errors.Count} errors):\n"
                + string.Join("\n", errors.Take(50).Select(d => Relative(code, d.Location) + ": " + d.Id + " " + d.GetMessage(System.Globalization.CultureInfo.InvariantCulture))));

        var found = new ConcurrentBag<Violation>(kept.Where(v => !files.Contains(v.File)));
        Parallel.ForEach(files, file =>
        {
            foreach (var violation in AnalyzeFile(code, file)) found.Add(violation);
        });
        return found
            .GroupBy(v => v.Key)
            .Select(g => g.MinBy(v => v.Line)!)
            .OrderBy(v => v.File, StringComparer.Ordinal).ThenBy(v => v.Line).ThenBy(v => v.To, StringComparer.Ordinal).ThenBy(v => v.What, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// The errors a build does not have because a source generator fills them in: the
    /// implementation part of a <c>[GeneratedRegex]</c> or <c>[LibraryImport]</c> partial method or
    /// property (CS8795, CS9248). <see cref="GeneratedCodeStub"/> normally supplies those parts;
    /// this is the backstop for a shape it does not copy. Any other error fails the check.
    /// </summary>
    private static bool IsMissingGeneratedCode(Diagnostic diagnostic)
    {
        if (diagnostic.Id is not ("CS8795" or "CS9248") || diagnostic.Location.SourceTree is not { } tree) return false;
        var member = tree.GetRoot().FindNode(diagnostic.Location.SourceSpan).AncestorsAndSelf().OfType<MemberDeclarationSyntax>().FirstOrDefault();
        return member != null && HasGeneratorAttribute(member);
    }

    private static bool HasGeneratorAttribute(MemberDeclarationSyntax member) =>
        member.AttributeLists.SelectMany(list => list.Attributes).Any(attribute =>
            attribute.Name.ToString().Split('.')[^1] is "GeneratedRegex" or "GeneratedRegexAttribute" or "LibraryImport" or "LibraryImportAttribute");

    /// <summary>
    /// A tree that gives each <c>[GeneratedRegex]</c> or <c>[LibraryImport]</c> partial member of a
    /// file a body (<c>throw null!</c>), as the generators would. Without one the compiler drops
    /// calls to the bodiless partial methods, arguments and all, and then reports a local passed
    /// as <c>&amp;handle</c> as unassigned (CS0165). Null when the file has no such member.
    /// </summary>
    private static SyntaxTree? GeneratedCodeStub(SyntaxTree tree)
    {
        var root = (CompilationUnitSyntax)tree.GetRoot();
        var members = root.DescendantNodes()
            .OfType<MemberDeclarationSyntax>()
            .Where(m => m is MethodDeclarationSyntax { Body: null, ExpressionBody: null } or PropertyDeclarationSyntax
                && m.Modifiers.Any(SyntaxKind.PartialKeyword) && HasGeneratorAttribute(m))
            .ToList();
        if (members.Count == 0) return null;
        var text = new System.Text.StringBuilder();
        foreach (var directive in root.Usings.Where(u => u.GlobalKeyword.IsKind(SyntaxKind.None))) text.AppendLine(directive.ToString());
        foreach (var member in members)
        {
            // The member's namespaces and types, outermost first, each reopened as it is declared.
            var scopes = member.Ancestors().Reverse().ToList();
            foreach (var scope in scopes)
            {
                if (scope is BaseNamespaceDeclarationSyntax ns)
                {
                    text.Append("namespace ").Append(ns.Name).AppendLine(" {");
                    foreach (var directive in ns.Usings) text.AppendLine(directive.ToString());
                }
                else if (scope is TypeDeclarationSyntax type)
                {
                    text.Append(type.Modifiers).Append(' ').Append(type.Keyword)
                        .Append(type is RecordDeclarationSyntax record && !record.ClassOrStructKeyword.IsKind(SyntaxKind.None) ? " " + record.ClassOrStructKeyword : "")
                        .Append(' ').Append(type.Identifier).Append(type.TypeParameterList).AppendLine(" {");
                }
            }
            if (member is MethodDeclarationSyntax method)
            {
                var parameters = string.Join(", ", method.ParameterList.Parameters.Select(p => $"{p.Modifiers} {p.Type} {p.Identifier}"));
                text.Append(method.Modifiers).Append(' ').Append(method.ReturnType).Append(' ').Append(method.Identifier).Append(method.TypeParameterList)
                    .Append('(').Append(parameters).Append(") ").Append(method.ConstraintClauses).AppendLine(" => throw null!;");
            }
            else if (member is PropertyDeclarationSyntax property)
            {
                var accessors = property.AccessorList?.Accessors.Select(a => $"{a.Modifiers} {a.Keyword} => throw null!;") ?? [];
                text.Append(property.Modifiers).Append(' ').Append(property.Type).Append(' ').Append(property.Identifier)
                    .Append(" { ").AppendJoin(' ', accessors).AppendLine(" }");
            }
            text.AppendLine(new string('}', scopes.Count(s => s is BaseNamespaceDeclarationSyntax or TypeDeclarationSyntax)));
        }
        return CSharpSyntaxTree.ParseText(text.ToString(), (CSharpParseOptions)tree.Options, tree.FilePath + ".generated.cs");
    }

    private static IEnumerable<Violation> AnalyzeFile(Codebase code, string file)
    {
        var compilation = code.Compilation;
        var tree = code.Files[file];
        var layer = code.LayerOf(file);
        if (layer == null)
        {
            yield return new Violation(file, 1, "(no layer)", FolderOf(file) + " (no layer)", "the file's folder is in no row of the layer table");
            yield break;
        }
        var model = compilation.GetSemanticModel(tree);
        var root = tree.GetRoot();
        foreach (var node in root.DescendantNodes())
        {
            switch (node)
            {
                case UsingDirectiveSyntax directive:
                    foreach (var v in CheckUsing(code, layer, file, model, directive)) yield return v;
                    break;
                case SimpleNameSyntax or BaseObjectCreationExpressionSyntax or ElementAccessExpressionSyntax
                    or BinaryExpressionSyntax or PrefixUnaryExpressionSyntax or PostfixUnaryExpressionSyntax or AssignmentExpressionSyntax:
                    // A using directive is checked as a whole above (by namespace), not name by name.
                    if (node.Ancestors().Any(a => a is UsingDirectiveSyntax)) break;
                    var info = model.GetSymbolInfo(node);
                    ImmutableArray<ISymbol> symbols = info.Symbol != null ? [info.Symbol] : info.CandidateSymbols;
                    foreach (var symbol in symbols)
                    {
                        if (CheckSymbol(code, compilation, layer, symbol) is { } to)
                            yield return new Violation(file, LineOf(node), layer.Name, to.To, to.What);
                    }
                    break;
            }
        }
    }

    /// <summary>
    /// A namespace using maps to the layer whose folder is the first segment after <c>SqlRec.</c>
    /// (plain <c>SqlRec</c> holds the public types of several layers and is left to the symbol
    /// check); any other namespace outside the BCL is an outside library. A <c>using static</c> or an
    /// alias of a type is checked like a reference to that type.
    /// </summary>
    private static IEnumerable<Violation> CheckUsing(Codebase code, Layer layer, string file, SemanticModel model, UsingDirectiveSyntax directive)
    {
        var what = directive.ToString().Trim();
        var target = model.GetSymbolInfo(directive.NamespaceOrType).Symbol;
        if (target is INamespaceSymbol ns)
        {
            var name = ns.ToDisplayString();
            if (name == "SqlRec") yield break;
            if (name.StartsWith("SqlRec.", StringComparison.Ordinal))
            {
                var folder = name.Split('.')[1];
                var used = code.Layers.FirstOrDefault(l => l.Folder == folder);
                if (used == null) yield return new Violation(file, LineOf(directive), layer.Name, folder + "/ (no layer)", what);
                else if (!layer.Allows(used.Name)) yield return new Violation(file, LineOf(directive), layer.Name, "layer " + used.Name, what);
            }
            else if (!layer.AllowsNamespace(name))
            {
                yield return new Violation(file, LineOf(directive), layer.Name, "library " + name, what);
            }
            yield break;
        }
        if (target is not ITypeSymbol type) yield break;
        foreach (var part in TypeAndArguments(type))
        {
            if (CheckSymbol(code, model.Compilation, layer, part) is { } to)
                yield return new Violation(file, LineOf(directive), layer.Name, to.To, what);
        }

        static IEnumerable<ITypeSymbol> TypeAndArguments(ITypeSymbol type) =>
            type is INamedTypeSymbol { IsGenericType: true } generic
                ? generic.TypeArguments.SelectMany(TypeAndArguments).Prepend(type)
                : [type];
    }

    /// <summary>
    /// Whether a layer may refer to a symbol: what counts is the outermost type that declares it.
    /// A type of SqlRec belongs to the layers of the files declaring it (a partial type may span
    /// several); a type from an assembly is judged by its namespace. Returns what was used, or
    /// null when it is allowed or is no type's member (a namespace, a local, a parameter...).
    /// </summary>
    private static (string To, string What)? CheckSymbol(Codebase code, Compilation compilation, Layer layer, ISymbol symbol)
    {
        if (symbol is IAliasSymbol alias) symbol = alias.Target;
        if (symbol is IMethodSymbol { ReducedFrom: { } extension }) symbol = extension;
        symbol = symbol.OriginalDefinition;
        while (true)
        {
            if (symbol is IArrayTypeSymbol array) symbol = array.ElementType;
            else if (symbol is IPointerTypeSymbol pointer) symbol = pointer.PointedAtType;
            else break;
        }
        if (symbol.Kind is SymbolKind.Namespace or SymbolKind.Local or SymbolKind.Parameter or SymbolKind.TypeParameter or SymbolKind.Label
            or SymbolKind.RangeVariable or SymbolKind.Discard or SymbolKind.Preprocessing or SymbolKind.DynamicType or SymbolKind.ErrorType
            or SymbolKind.FunctionPointerType)
            return null;
        var type = symbol as INamedTypeSymbol ?? symbol.ContainingType;
        if (type == null) return null;
        while (type.ContainingType != null) type = type.ContainingType;
        type = type.OriginalDefinition;
        if (type.IsAnonymousType || type.IsTupleType) return null;
        var what = type.ToDisplayString();

        if (SymbolEqualityComparer.Default.Equals(type.ContainingAssembly, compilation.Assembly))
        {
            var declaringFiles = type.DeclaringSyntaxReferences
                .Select(r => Path.GetRelativePath(code.Root, r.SyntaxTree.FilePath).Replace('\\', '/'))
                .Where(code.Files.ContainsKey)
                .Distinct()
                .Order(StringComparer.Ordinal)
                .ToList();
            if (declaringFiles.Count == 0) return null;
            var layers = declaringFiles.Select(code.LayerOf).ToList();
            if (layers.Any(l => l != null && layer.Allows(l.Name))) return null;
            var to = string.Join(" + ", declaringFiles.Zip(layers, (f, l) => l == null ? FolderOf(f) + " (no layer)" : "layer " + l.Name).Distinct());
            return (to, what);
        }
        var ns = type.ContainingNamespace is { IsGlobalNamespace: false } containing ? containing.ToDisplayString() : "(global namespace)";
        return layer.AllowsNamespace(ns) ? null : ("library " + ns, what);
    }

    private static bool NamespaceExists(Compilation compilation, string name) =>
        name.Split('.').Aggregate((INamespaceSymbol?)compilation.Assembly.GlobalNamespace,
            (ns, part) => ns?.GetNamespaceMembers().FirstOrDefault(m => m.Name == part)) != null;

    /// <summary>The types declared at namespace level in a file that other files can name (not <c>file</c>-local, not spanning other layers' files).</summary>
    private static IEnumerable<INamedTypeSymbol> TopLevelTypes(Codebase code, string file)
    {
        var tree = code.Files[file];
        var model = code.Compilation.GetSemanticModel(tree);
        var layer = code.LayerOf(file);
        return tree.GetRoot().DescendantNodes(n => n is CompilationUnitSyntax or BaseNamespaceDeclarationSyntax)
            .OfType<BaseTypeDeclarationSyntax>()
            .Select(declaration => model.GetDeclaredSymbol(declaration))
            .OfType<INamedTypeSymbol>()
            .Where(type => !type.IsFileLocal && type.ContainingType == null
                && type.DeclaringSyntaxReferences.All(r => code.LayerOf(Path.GetRelativePath(code.Root, r.SyntaxTree.FilePath).Replace('\\', '/')) == layer));
    }

    /// <summary><c>global::Namespace.Name</c>, with <c>&lt;,&gt;</c> for a generic type so it can go in <c>typeof</c>.</summary>
    private static string FullyQualifiedTypeOfName(INamedTypeSymbol type) =>
        "global::" + (type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString() + ".")
        + type.Name + (type.Arity > 0 ? "<" + new string(',', type.Arity - 1) + ">" : "");

    private static int LineOf(SyntaxNode node) => node.GetLocation().GetLineSpan().StartLinePosition.Line + 1;

    private static string Relative(Codebase code, Location location)
    {
        var span = location.GetLineSpan();
        return span.Path is { Length: > 0 } path
            ? $"{Path.GetRelativePath(code.Root, path).Replace('\\', '/')}:{span.StartLinePosition.Line + 1}"
            : "(no file)";
    }

    /// <summary>The violations grouped by layer pair with counts, then each on its own line, for the failure message.</summary>
    private static string Describe(IReadOnlyList<Violation> violations)
    {
        var summary = violations.GroupBy(v => $"{v.From} -> {v.To}")
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"  {g.Count(),4}  {g.Key}");
        return $"{violations.Count} dependencies break the layer table in ARCHITECTURE.md (file:line: from layer -> used: using or type).\n"
            + "By layer pair:\n" + string.Join("\n", summary) + "\nAll:\n" + string.Join("\n", violations);
    }
}
