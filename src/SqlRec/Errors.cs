using System.Globalization;

namespace SqlRec;

/// <summary>
/// Every message SqlRec shows a user, one method each. The format is
/// <c>function(): what is wrong, got what was given[; how to fix it].</c> Tests build the text they
/// expect with the same methods, so a message is changed in one place.
/// </summary>
public static class Errors
{
    /// <summary>Largest <c>k</c> a recommendation call accepts.</summary>
    public const int MaxK = 10_000;

    /// <summary>Longest model name accepted.</summary>
    public const int MaxModelNameLength = 128;

    private static SqlRecException Fail(string function, string text) => new($"{function}(): {text}");

    /// <summary>Describes a SQL value for a message: <c>NULL</c>, <c>INTEGER 5</c>, <c>TEXT 'abc'</c>, <c>a BLOB of 4 bytes</c>.</summary>
    public static string Describe(object? value) => value switch
    {
        null => "NULL",
        long l => $"INTEGER {l.ToString(CultureInfo.InvariantCulture)}",
        int i => $"INTEGER {i.ToString(CultureInfo.InvariantCulture)}",
        double d => $"REAL {d.ToString("R", CultureInfo.InvariantCulture)}",
        string s => $"TEXT '{Shorten(s, 60)}'",
        byte[] b => $"a BLOB of {b.Length} bytes",
        _ => value.ToString() ?? "?",
    };

    /// <summary>Cuts long text for messages.</summary>
    public static string Shorten(string text, int max) => text.Length <= max ? text : text[..max] + "...";

    private static string Quoted(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));

    // ---- arguments -------------------------------------------------------------------------

    /// <summary>A required argument is NULL.</summary>
    public static SqlRecException ArgumentNull(string function, string argument, string hint) =>
        Fail(function, $"'{argument}' must not be NULL; {hint}.");

    /// <summary>An argument has the wrong SQL type.</summary>
    public static SqlRecException ArgumentType(string function, string argument, string expected, object? got) =>
        Fail(function, $"'{argument}' must be {expected}, got {Describe(got)}.");

    /// <summary>An integer argument is out of its range.</summary>
    public static SqlRecException ArgumentRange(string function, string argument, long min, long max, object? got) =>
        Fail(function, $"'{argument}' must be between {min} and {max}, got {DescribeNumber(got)}.");

    /// <summary><c>k</c> is outside 1..<see cref="MaxK"/>.</summary>
    public static SqlRecException KOutOfRange(string function, object? got) => ArgumentRange(function, "k", 1, MaxK, got);

    private static string DescribeNumber(object? value) => value switch
    {
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Describe(value),
    };

    /// <summary>A table-valued function was used without one of its required arguments.</summary>
    public static SqlRecException TableArgumentMissing(string function, string argument, string usage) =>
        Fail(function, $"the '{argument}' argument is required; use {usage}.");

    // ---- models ----------------------------------------------------------------------------

    /// <summary>No model has been trained in the database.</summary>
    public static SqlRecException NoModels(string function) =>
        Fail(function, "no model has been trained in this database; train one first, e.g. SELECT rec_train('main', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM interactions')).");

    /// <summary>The named model does not exist.</summary>
    public static SqlRecException UnknownModel(string function, string name, IReadOnlyCollection<string> known) =>
        Fail(function, known.Count == 0
            ? $"unknown model '{name}'; no model has been trained in this database."
            : $"unknown model '{name}'; trained models: {Quoted(known)}.");

    /// <summary>The model was omitted while several exist.</summary>
    public static SqlRecException ModelRequired(string function, IReadOnlyCollection<string> known) =>
        Fail(function, $"'model' is required when the database holds several models; got NULL, trained models: {Quoted(known)}.");

    /// <summary>The model exists but has never finished a training.</summary>
    public static SqlRecException ModelHasNoVersion(string function, string name) =>
        Fail(function, $"model '{name}' has no trained version yet; its first training has not finished.");

    /// <summary>A model name is empty, too long or not text.</summary>
    public static SqlRecException ModelNameInvalid(string function, object? got) =>
        Fail(function, $"'name' must be non-empty TEXT of at most {MaxModelNameLength} characters, got {Describe(got)}.");

    // ---- options ---------------------------------------------------------------------------

    /// <summary>The options text is not JSON.</summary>
    public static SqlRecException OptionsMalformed(string function, string detail) =>
        Fail(function, $"'options' is not valid JSON: {detail}; build it with json_object(...).");

    /// <summary>The options JSON is not an object.</summary>
    public static SqlRecException OptionsNotObject(string function, string kind) =>
        Fail(function, $"'options' must be a JSON object, got a JSON {kind}; build it with json_object(...).");

    /// <summary>An option name is not known.</summary>
    public static SqlRecException UnknownOption(string function, string option, string context, IEnumerable<string> valid) =>
        Fail(function, $"unknown option '{option}' for {context}; valid options: {string.Join(", ", valid)}.");

    /// <summary>An option appears twice.</summary>
    public static SqlRecException DuplicateOption(string function, string option) =>
        Fail(function, $"option '{option}' is given twice.");

    /// <summary>A required option is missing.</summary>
    public static SqlRecException MissingOption(string function, string option, string hint) =>
        Fail(function, $"option '{option}' is required; {hint}.");

    /// <summary>An option has the wrong JSON type.</summary>
    public static SqlRecException OptionType(string function, string option, string expected, string got) =>
        Fail(function, $"option '{option}' must be {expected}, got {got}.");

    /// <summary>An option's value is out of range.</summary>
    public static SqlRecException OptionRange(string function, string option, string range, string got) =>
        Fail(function, $"option '{option}' must be {range}, got {got}.");

    /// <summary>The model kind is not known.</summary>
    public static SqlRecException UnknownModelKind(string function, string kind, IEnumerable<string> valid) =>
        Fail(function, $"unknown model kind '{kind}'; available kinds: {string.Join(", ", valid)}.");

    // ---- training source -------------------------------------------------------------------

    /// <summary>The source is not a read-only SELECT.</summary>
    public static SqlRecException SourceNotSelect(string function, string sql) =>
        Fail(function, $"option 'source' must be a read-only SELECT statement, got '{Shorten(sql.Trim(), 80)}'.");

    /// <summary>The source holds more than one statement.</summary>
    public static SqlRecException SourceSeveralStatements(string function, string rest) =>
        Fail(function, $"option 'source' must be a single statement, but more follows: '{Shorten(rest.Trim(), 80)}'.");

    /// <summary>SQLite rejected or failed the source query.</summary>
    public static SqlRecException SourceFailed(string function, string sqliteMessage) =>
        Fail(function, $"the 'source' query failed: {sqliteMessage}.");

    /// <summary>The source returns the wrong number of columns.</summary>
    public static SqlRecException SourceColumns(string function, int got) =>
        Fail(function, $"the 'source' query must return 2 to 4 columns (user, item[, weight[, timestamp]]), got {got}.");

    /// <summary>The source returned no rows.</summary>
    public static SqlRecException SourceEmpty(string function) =>
        Fail(function, "the 'source' query returned no rows; there is nothing to train on.");

    /// <summary>An id column holds a value that cannot be an id.</summary>
    public static SqlRecException SourceBadId(string function, string column, long row, object? got) =>
        Fail(function, $"the 'source' query's {column} column must be INTEGER or TEXT, got {Describe(got)} in row {row}; filter or cast it in the query.");

    /// <summary>The weight column holds a value that cannot be a weight.</summary>
    public static SqlRecException SourceBadWeight(string function, long row, object? got) =>
        Fail(function, $"the 'source' query's weight column must be a finite number >= 0, got {Describe(got)} in row {row}.");

    /// <summary>The timestamp column holds a value that cannot be a time.</summary>
    public static SqlRecException SourceBadTimestamp(string function, long row, object? got) =>
        Fail(function, $"the 'source' query's timestamp column must be unix seconds or ISO-8601 text, got {Describe(got)} in row {row}.");

    /// <summary>Time decay asked for without a timestamp column.</summary>
    public static SqlRecException DecayNeedsTimestamp(string function) =>
        Fail(function, "option 'half_life_days' needs a timestamp: the 'source' query must return 4 columns (user, item, weight, timestamp).");

    /// <summary>The source holds too few users or items for the model kind.</summary>
    public static SqlRecException SourceTooSmall(string function, string kind, string what) =>
        Fail(function, $"model kind '{kind}' needs {what} in the 'source' data.");

    // ---- training lifecycle ----------------------------------------------------------------

    /// <summary>Another training of the same model is running.</summary>
    public static SqlRecException TrainingInProgress(string function, string name, string since) =>
        Fail(function, $"model '{name}' is already being trained (since {since}); wait for that training to finish.");

    /// <summary>A training failed for an unexpected reason; the previous version keeps serving.</summary>
    public static SqlRecException TrainingFailed(string function, string name, string reason) =>
        Fail(function, $"training model '{name}' failed: {reason}; the previous version, if any, keeps serving.");

    /// <summary>SQLite refused one of SqlRec's own statements (a lock held too long, a full disk, a read-only file).</summary>
    public static SqlRecException Sqlite(string function, string sqliteMessage) =>
        Fail(function, $"SQLite refused the operation: {sqliteMessage}; nothing was changed.");

    /// <summary>A model would need more memory than the process can use.</summary>
    public static SqlRecException ModelTooLarge(string function, string kind, string what, long neededBytes, long availableBytes, string fix) =>
        Fail(function, $"model kind '{kind}' with {what} needs about {neededBytes / (1024.0 * 1024 * 1024):F1} GiB, more than the {availableBytes / (1024.0 * 1024 * 1024):F1} GiB this process can use; {fix}.");

    /// <summary>A live model's source query, run for one user's current rows, failed.</summary>
    public static SqlRecException LiveSourceFailed(string function, string model, string sqliteMessage) =>
        Fail(function, $"model '{model}' reads each user's current rows with its training source, which failed: {sqliteMessage}; restore the source tables, or retrain with 'live' false.");

    /// <summary>A training stopped because the caller interrupted it.</summary>
    public static SqlRecException TrainingInterrupted(string function, string name) =>
        Fail(function, $"training model '{name}' was interrupted; nothing was changed and the previous version, if any, keeps serving.");

    /// <summary>An unexpected internal failure.</summary>
    public static SqlRecException Internal(string function, Exception exception) =>
        Fail(function, $"internal error ({exception.GetType().Name}: {exception.Message}).");

    // ---- evaluation ------------------------------------------------------------------------

    /// <summary>An option that takes one value or a list got an empty JSON array.</summary>
    public static SqlRecException OptionListEmpty(string function, string option, string hint) =>
        Fail(function, $"option '{option}' must not be an empty array; {hint}.");

    /// <summary>Both a held-out 'test' query and a 'split' were given to an evaluation.</summary>
    public static SqlRecException EvaluationModeBoth(string function) =>
        Fail(function, "options 'test' and 'split' exclude each other, got both; pass a 'test' query to evaluate the serving version, or a 'split' to retrain in memory and evaluate.");

    /// <summary>'save' was asked for with a split, whose in-memory model is never stored.</summary>
    public static SqlRecException SaveNeedsTest(string function) =>
        Fail(function, "option 'save' needs a 'test' query, got a 'split': a split evaluates a model trained in memory, which is not the stored version; drop 'save' or evaluate with a 'test' query.");

    /// <summary>The test query is not a read-only SELECT.</summary>
    public static SqlRecException TestNotSelect(string function, string sql) =>
        Fail(function, $"option 'test' must be a read-only SELECT statement, got '{Shorten(sql.Trim(), 80)}'.");

    /// <summary>The test query holds more than one statement.</summary>
    public static SqlRecException TestSeveralStatements(string function, string rest) =>
        Fail(function, $"option 'test' must be a single statement, but more follows: '{Shorten(rest.Trim(), 80)}'.");

    /// <summary>SQLite rejected or failed the test query.</summary>
    public static SqlRecException TestFailed(string function, string sqliteMessage) =>
        Fail(function, $"the 'test' query failed: {sqliteMessage}.");

    /// <summary>The test query returns the wrong number of columns.</summary>
    public static SqlRecException TestColumns(string function, int got) =>
        Fail(function, $"the 'test' query must return 2 columns (user, item), got {got}.");

    /// <summary>The test query returned no rows.</summary>
    public static SqlRecException TestEmpty(string function) =>
        Fail(function, "the 'test' query returned no rows; there is nothing to evaluate.");

    /// <summary>An id column of the test query holds a value that cannot be an id.</summary>
    public static SqlRecException TestBadId(string function, string column, long row, object? got) =>
        Fail(function, $"the 'test' query's {column} column must be INTEGER or TEXT, got {Describe(got)} in row {row}; filter or cast it in the query.");

    /// <summary>Every test pair belongs to a user the model does not know or is one of the user's training items.</summary>
    public static SqlRecException NothingToEvaluate(string function, string model, long skippedUsers, long droppedPairs) =>
        Fail(function, $"no test pair is left to evaluate model '{model}' (skipped_users: {skippedUsers}, dropped_pairs: {droppedPairs}): test users the model does not know are skipped and test pairs that are training items are dropped; check that the 'test' query returns the same ids, with the same types, as the model's 'source'.");

    /// <summary>A split held out nothing, because no user has two interactions.</summary>
    public static SqlRecException SplitEmpty(string function, string split, string model) =>
        Fail(function, $"split '{split}' leaves no test pairs: no user of model '{model}' has 2 or more distinct items in its 'source'; evaluate with a 'test' query instead.");

    /// <summary>A leave-last-out split asked for on a source without timestamps.</summary>
    public static SqlRecException SplitNeedsTimestamp(string function, string model, int columns) =>
        Fail(function, $"split 'last' needs a timestamp: the 'source' query of model '{model}' must return 4 columns (user, item, weight, timestamp), got {columns}; retrain it with a timestamp column or use split 'random'.");

    // ---- lightgcn --------------------------------------------------------------------------

    /// <summary>A training device was asked for that this machine does not have (or that failed to start); says why.</summary>
    public static SqlRecException DeviceUnavailable(string function, string device, string reason) =>
        Fail(function, $"device '{device}' is not available: {reason}; use 'auto' (a GPU when there is one, else the CPU) or 'cpu'.");

    /// <summary>Some users interacted with every item, so no negative item can be sampled for them.</summary>
    public static SqlRecException NoNegativeItems(string function, string kind, int users, int items) =>
        Fail(function, $"model kind '{kind}' samples items each user has not interacted with, but {users} user(s) interacted with all {items} items in the 'source' data; add items or leave such users out of the source.");
}
