namespace SqlRec.Cli;

/// <summary>
/// Every message the CLI itself shows a user, one method each (SqlRec's SQL errors come from
/// the library, as SQL error messages). Each says what is wrong, names the file, line or option, and
/// says how to fix it where there is a fix. Tests build the text they expect with these methods.
/// </summary>
internal static class CliErrors
{
    /// <summary>
    /// What an environment failure of SQLite (its primary result code) means for the user: busy,
    /// read-only, full, I/O, cannot open; null for any other code, whose SQLite text is shown as is.
    /// </summary>
    public static string? EnvironmentProblem(int resultCode) => (resultCode & 0xff) switch
    {
        5 or 6 => "the database is busy (locked by another connection); retry when it is free",
        8 => "the database is read-only; open a writable file, or give this user write access to the file and its folder",
        10 => "a disk I/O error occurred; check the disk and the file",
        13 => "the disk is full; free some space and retry",
        14 => "the database file or its journal cannot be opened; check the path and the folder's permissions",
        _ => null,
    };

    /// <summary>SQLite refused a statement of the command for a reason outside it (a lock, the file, the disk).</summary>
    public static CliException DatabaseRefused(string problem, string sqliteMessage) =>
        new($"{problem} (SQLite: {sqliteMessage}); the statement that failed changed nothing.");

    /// <summary>A signal stopped the running statement (not a SqlRec function, which says so itself).</summary>
    public static CliException Interrupted(string signal) =>
        new($"interrupted by {signal}; the statement that was running was stopped and rolled back, and changed nothing.");

    /// <summary>A command that needs an existing database got a path with no file.</summary>
    public static CliException DatabaseNotFound(string path) => new($"database file not found: {path}");

    /// <summary>A database path names a folder.</summary>
    public static CliException DatabaseIsFolder(string path) => new($"database path is a folder, not a file: {path}");

    /// <summary>The folder a new database would go in does not exist.</summary>
    public static CliException DatabaseFolderNotFound(string folder) => new($"folder not found for the database: {folder}");

    /// <summary>A database file (or its WAL companions) cannot be deleted to be replaced.</summary>
    public static CliException CannotDelete(string path, string reason, Exception inner) =>
        new($"cannot delete {path}: {reason} (is it open in another program?)", inner);

    /// <summary>An import's data folder does not exist.</summary>
    public static CliException DirectoryNotFound(string path) => new($"directory not found: {path}");

    /// <summary>A data file an import needs is missing.</summary>
    public static CliException FileNotFound(string path) => new($"file not found: {path}");

    /// <summary>A line of a data file does not have the expected shape.</summary>
    public static CliException MalformedLine(string path, long lineNumber, string expected, string line)
    {
        var visible = line.Replace("\t", "\\t", StringComparison.Ordinal);
        if (visible.Length > 80) visible = visible[..80] + "...";
        return new($"malformed line {lineNumber} of {path}: expected {expected}; the line is '{visible}'.");
    }

    /// <summary>A data file has no usable content (e.g. a u.genre with no genres).</summary>
    public static CliException BadFile(string path, string problem) => new($"{path}: {problem}");

    /// <summary>An import would overwrite tables that exist.</summary>
    public static CliException TablesExist(IReadOnlyList<string> names, string database)
    {
        var list = string.Join(", ", names.Select(n => $"'{n}'"));
        return new(names.Count == 1
            ? $"table {list} already exists in {database}; use --replace to drop it and import again."
            : $"tables {list} already exist in {database}; use --replace to drop them and import again.");
    }

    /// <summary>An option value is outside its range.</summary>
    public static CliException OptionRange(string option, string range, object got) => new($"{option} must be {range}, got {got}.");

    /// <summary><c>--option</c> without <c>=</c>.</summary>
    public static CliException OptionNotKeyValue(string pair) => new($"--option expects key=value, got '{pair}'.");

    /// <summary>The same model option given twice.</summary>
    public static CliException OptionGivenTwice(string key, string from) =>
        new($"option '{key}' is given twice (again by {from}); give each option once.");

    /// <summary><c>--options</c> is valid JSON but not an object.</summary>
    public static CliException OptionsNotObject(string json) =>
        new($"--options must be a JSON object like '{{\"half_life_days\": 30}}', got {json}");

    /// <summary><c>--options</c> is not valid JSON.</summary>
    public static CliException OptionsInvalidJson(string detail, Exception inner) => new($"--options is not valid JSON: {detail}", inner);

    /// <summary>The <c>sql</c> command got no SQL.</summary>
    public static CliException EmptyQuery() => new("the query is empty; pass the SQL to run, e.g. \"SELECT rec_version()\".");

    /// <summary><c>rec_train</c> or <c>rec_evaluate</c> returned something other than its JSON object.</summary>
    public static CliException NoJsonResult(string function, string? got) => new($"{function} returned no JSON object (got '{got}').");


    /// <summary><c>eval</c> got both <c>--test</c> and <c>--split</c>.</summary>
    public static CliException EvalTestAndSplit() =>
        new("--test and --split exclude each other; pass --test to evaluate the trained model on your held-out pairs, "
            + "or --split to hold out part of its source and retrain in memory.");

    /// <summary><c>recommend</c> got an empty or blank user id.</summary>
    public static CliException EmptyUserId(string got) =>
        new($"the user id is {(got.Length == 0 ? "empty" : "blank")}; pass the user's id, e.g. sqlrec recommend shop.db 42, or sqlrec recommend shop.db 00001 --text-id for a TEXT id.");

    /// <summary><c>score --shard</c> is not <c>i/n</c> with 0 &lt;= i &lt; n.</summary>
    public static CliException ShardInvalid(string got) =>
        new($"--shard must be i/n: n shards (1 to 65536) and a shard index i from 0 to n - 1, e.g. --shard 0/4; got '{got}'.");

    /// <summary><c>score --out</c> names a file that exists.</summary>
    public static CliException OutputExists(string path) =>
        new($"the output file exists: {path}; pass --overwrite to replace it (when the job has succeeded), or choose another --out.");

    /// <summary><c>score --out</c> names the model's database.</summary>
    public static CliException OutputIsDatabase(string path) =>
        new($"--out names the model's database itself: {path}; write the scores to another file.");

    /// <summary><c>score --out</c> names a folder.</summary>
    public static CliException OutputIsFolder(string path) => new($"--out is a folder, not a file: {path}");

    /// <summary>The folder of <c>score --out</c> does not exist.</summary>
    public static CliException OutputFolderNotFound(string folder) => new($"folder not found for --out: {folder}");

    /// <summary>An immutable open would miss what a write-ahead log beside the database holds.</summary>
    public static CliException UncheckpointedLog(string path, long bytes) =>
        new($"{path}-wal holds {bytes} bytes not yet copied into the database (a process has it open for writing, or did not close it); "
            + "an immutable open would not see them. Pass --snapshot to read it in one read transaction instead, or score a copy that no process writes.");

    /// <summary>A name that must be a plain SQL identifier (letters, digits, underscores) is not one.</summary>
    public static CliException NotAPlainName(string option, string value) =>
        new($"{option} must be a plain name of letters, digits and underscores (sqlite-vec takes no quoted column names), got '{value}'.");

    /// <summary>A <c>-k</c> value that is not an integer or a comma-separated list of integers.</summary>
    public static CliException CutoffNotInteger(string part, string value) =>
        new($"-k expects integers, e.g. -k 10 -k 20 or -k 10,20; got '{part}' in '{value}'.");

    /// <summary><c>models install</c> was given a model the CLI does not know.</summary>
    public static CliException UnknownNamedModel(string requested, string known) => new($"unknown model '{requested}'; named models: {known}.");

    /// <summary><c>models install</c> in a build of the CLI that does not carry the model.</summary>
    public static CliException NamedModelNotCarried(string name, string expected) =>
        new($"this build of the CLI does not carry '{name}' (no {expected}); build it from the repository (src/SqlRec.Cli references SqlRec.Models.MiniLM) or install the SqlRec.Cli tool package.");
}
