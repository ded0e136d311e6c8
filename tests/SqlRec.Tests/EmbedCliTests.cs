using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using SqlRec.Cli;
using SqlRec.Tests.Onnx;

namespace SqlRec.Tests;

/// <summary><c>sqlrec embedder register|list|drop</c> and <c>sqlrec embed</c>, run in-process (and once as a process of its own, for what reaches stderr).</summary>
[TestClass]
public sealed class EmbedCliTests
{
    private string _folder = null!;

    [TestInitialize]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("sqlrec-embed-cli-").FullName;

    [TestCleanup]
    public void DeleteFolder()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private static (int Code, string Output) Run(params string[] args) => CliTests.RunWithWidth(400, args);

    /// <summary>Runs the built CLI as a process of its own; returns its exit code, stdout and stderr apart.</summary>
    private static (int Code, string Output, string Error) RunProcess(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "SqlRec.Cli.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the CLI did not finish within 120 s");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    private string Catalogue()
    {
        var path = Path.Combine(_folder, "books.db");
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        TestDb.Rows(connection, "CREATE TABLE books(id INTEGER PRIMARY KEY, title TEXT)");
        TestDb.Rows(connection, "INSERT INTO books(title) VALUES ('The Dark Ocean'), ('A Dragon of Fire'), ('Recipes for Bread'), ('The Mystery Ship'), ('Stars and Ships')");
        return path;
    }

    private static long Count(string db, string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString());
        connection.Open();
        return (long)TestDb.Scalar(connection, sql)!;
    }

    [TestMethod]
    public void RegisterListEmbedAndDrop()
    {
        var db = Catalogue();
        // A model in the database's folder, registered by a relative path.
        var vocabulary = BertFixture.SmallVocabulary();
        new BertFixture(BertFixture.Config.Small(vocabulary.Count)).Write(Path.Combine(_folder, "models"), vocabulary);
        var register = Run("embedder", "register", db, "small", "--model", "models/model.onnx", "--option", "max_length=64", "--option", "batch_size=2");
        Assert.AreEqual(0, register.Code, register.Output);
        StringAssert.Contains(register.Output, "registered embedder 'small': onnx, 32 dimensions");
        StringAssert.Contains(register.Output, "last_hidden_state");
        Assert.AreEqual(0, Run("embedder", "register", db, "h16", "--kind", "hash", "--option", "dim=16").Code);

        var list = Run("embedder", "list", db);
        Assert.AreEqual(0, list.Code, list.Output);
        foreach (var expected in new[] { "hash", "h16", "small", "models/model.onnx" }) StringAssert.Contains(list.Output, expected);

        var embed = Run("embed", db, "small", "--query", "SELECT id, title FROM books", "--table", "book_vecs");
        Assert.AreEqual(0, embed.Code, embed.Output);
        StringAssert.Contains(embed.Output, "embedded 5 rows with 'small' into book_vecs (32 dimensions)");
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString()))
        {
            connection.Open();
            connection.UseSqlRec();
            Assert.AreEqual(4L, TestDb.Scalar(connection, "SELECT rowid FROM book_vecs WHERE embedding MATCH rec_embed('small', 'The Mystery Ship') AND k = 1"));
        }

        var drop = Run("embedder", "drop", db, "h16");
        Assert.AreEqual(0, drop.Code, drop.Output);
        StringAssert.Contains(drop.Output, "dropped embedder 'h16'");
        Assert.DoesNotContain("h16", Run("embedder", "list", db).Output);
    }

    [TestMethod]
    public void ErrorsAreSqlRecsMessages()
    {
        var db = Catalogue();
        var unknown = Run("embed", db, "nope", "--query", "SELECT id, title FROM books", "--table", "v");
        Assert.AreEqual(1, unknown.Code);
        StringAssert.Contains(unknown.Output, "error: " + Errors.UnknownEmbedder("rec_embed", "nope", ["hash"]).Message);
        var badQuery = Run("embed", db, "hash", "--query", "SELECT title FROM books", "--table", "v");
        Assert.AreEqual(1, badQuery.Code);
        StringAssert.Contains(badQuery.Output, "error: " + Errors.QueryColumns("rec_embed_each", QueryRole.EmbedQuery, 1).Message);
        Assert.AreEqual(0L, Count(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'v'"), "a failed embed leaves no table behind");
        var badColumn = Run("embed", db, "hash", "--query", "SELECT id, title FROM books", "--table", "v", "--column", "my vec");
        Assert.AreEqual(1, badColumn.Code);
        StringAssert.Contains(badColumn.Output, "error: " + SqlRec.Cli.CliErrors.NotAPlainName("--column", "my vec").Message);
        var missing = Path.Combine(_folder, "none.onnx");
        var register = Run("embedder", "register", db, "m", "--model", missing, "--tokenizer", missing);
        Assert.AreEqual(1, register.Code);
        StringAssert.Contains(register.Output, "error: " + Errors.EmbedderFileMissing("rec_register_embedder", "model", missing).Message);
        var twice = Run("embedder", "register", db, "m", "--kind", "hash", "--options", "{\"kind\": \"hash\"}");
        Assert.AreEqual(1, twice.Code);
        StringAssert.Contains(twice.Output, "error: " + SqlRec.Cli.CliErrors.OptionGivenTwice("kind", "--kind").Message);
    }

    /// <summary>
    /// ONNX Runtime prints its own coloured log lines to the process's stderr (a failed probe used to
    /// leave one above SqlRec's error); SqlRec keeps it at fatal errors only, so stderr holds
    /// SqlRec's message alone, and nothing on a run that works.
    /// </summary>
    [TestMethod]
    public void OnnxRuntimeLogsNothingToStderr()
    {
        var db = Catalogue();
        var vocabulary = BertFixture.SmallVocabulary();
        // Position embeddings for 512 tokens: a 'max_length' of 1024 fails the registration's probe inside ONNX Runtime.
        var model = new BertFixture(BertFixture.Config.Small(vocabulary.Count)).Write(Path.Combine(_folder, "models"), vocabulary);

        var refused = RunProcess("embedder", "register", db, "long", "--model", model, "--option", "max_length=1024");
        Assert.AreEqual(1, refused.Code, refused.Output + refused.Error);
        var lines = refused.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.HasCount(1, lines, $"stderr holds SqlRec's error line alone:\n{refused.Error}");
        StringAssert.StartsWith(lines[0], "error: rec_register_embedder(): the model fails on a sequence of 1024 tokens (");
        Assert.DoesNotContain("\u001b", refused.Error, "no colour codes");

        var registered = RunProcess("embedder", "register", db, "small", "--model", model);
        Assert.AreEqual(0, registered.Code, registered.Output + registered.Error);
        var embedded = RunProcess("embed", db, "small", "--query", "SELECT id, title FROM books", "--table", "book_vecs");
        Assert.AreEqual(0, embedded.Code, embedded.Output + embedded.Error);
        StringAssert.Contains(embedded.Output, "embedded 5 rows with 'small' into book_vecs (32 dimensions)");
        Assert.AreEqual("", registered.Error + embedded.Error, "nothing on stderr when everything works");
    }
}
