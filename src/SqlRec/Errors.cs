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

    // ---- vectors ---------------------------------------------------------------------------

    /// <summary>A vector has another dimension than the one expected.</summary>
    public static SqlRecException VectorDimensionMismatch(string function, string what, int expected, int got) =>
        Fail(function, $"dimension mismatch: {what} has {got} dimensions, {expected} expected.");

    private static string DescribeFloat(float value) =>
        float.IsNaN(value) ? "NaN" : float.IsPositiveInfinity(value) ? "+Infinity" : float.IsNegativeInfinity(value) ? "-Infinity" : value.ToString("R", CultureInfo.InvariantCulture);

    // ---- embeddings ------------------------------------------------------------------------

    /// <summary>An embedder name is empty, too long or not text.</summary>
    public static SqlRecException EmbedderNameInvalid(string function, string argument, object? got) =>
        Fail(function, $"'{argument}' must be non-empty TEXT of at most {MaxModelNameLength} characters, got {Describe(got)}.");

    /// <summary>The named embedder is neither built in nor registered.</summary>
    public static SqlRecException UnknownEmbedder(string function, string name, IReadOnlyCollection<string> known) =>
        Fail(function, $"unknown embedder '{name}'; available embedders: {Quoted(known)}; register one with rec_register_embedder(name, json_object('model', 'path/to/model.onnx')).");

    /// <summary>An attempt to register or drop a built-in embedder.</summary>
    public static SqlRecException EmbedderBuiltIn(string function, string name) =>
        Fail(function, $"'{name}' is the built-in embedder and cannot be registered or dropped; register a variant under another name, e.g. rec_register_embedder('{name}512', json_object('kind', 'hash', 'dim', 512)).");

    /// <summary>An embedder of that name exists with other options.</summary>
    public static SqlRecException EmbedderExists(string function, string name) =>
        Fail(function, $"embedder '{name}' is already registered with other options; drop it first with rec_drop_embedder('{name}') (vectors it made will not match the new ones).");

    /// <summary>The kind of embedder is not known.</summary>
    public static SqlRecException UnknownEmbedderKind(string function, string kind, IEnumerable<string> valid) =>
        Fail(function, $"unknown embedder kind '{kind}'; available kinds: {string.Join(", ", valid)}.");

    /// <summary>The text to embed is not TEXT.</summary>
    public static SqlRecException EmbedTextType(string function, object? got) =>
        Fail(function, $"'text' must be TEXT, got {Describe(got)}; convert it with CAST(... AS TEXT).");

    /// <summary>The text to embed is empty or only whitespace.</summary>
    public static SqlRecException EmbedTextEmpty(string function) =>
        Fail(function, "'text' is empty or only whitespace; there is nothing to embed (NULL text gives NULL).");

    /// <summary>A stored embedder's registry row no longer reads (edited by hand).</summary>
    public static SqlRecException EmbedderRowInvalid(string function, string name, string problem) =>
        Fail(function, $"embedder '{name}' in rec_embedders is not usable: {problem}; drop it with rec_drop_embedder('{name}') and register it again.");

    /// <summary>A file the embedder needs does not exist.</summary>
    public static SqlRecException EmbedderFileMissing(string function, string option, string path) =>
        Fail(function, $"option '{option}': file not found: '{path}' (relative paths are taken from the database's folder).");

    /// <summary>ONNX Runtime cannot load the model file.</summary>
    public static SqlRecException ModelFileInvalid(string function, string path, string detail) =>
        Fail(function, $"'{path}' is not a model ONNX Runtime can load: {detail}.");

    /// <summary>The tokenizer file cannot be read as a WordPiece vocabulary.</summary>
    public static SqlRecException TokenizerInvalid(string function, string path, string problem) =>
        Fail(function, $"tokenizer '{path}' cannot be used: {problem}.");

    /// <summary>The model lacks an input SqlRec needs or has one it cannot feed.</summary>
    public static SqlRecException ModelInputsUnsupported(string function, string problem, string inputs) =>
        Fail(function, $"{problem}; a BERT-style model takes input_ids [batch, sequence] and optionally attention_mask and token_type_ids (int64 or int32); this model's inputs: {inputs}.");

    /// <summary>The named output does not exist.</summary>
    public static SqlRecException ModelOutputUnknown(string function, string output, string outputs) =>
        Fail(function, $"the model has no output '{output}'; its outputs: {outputs}.");

    /// <summary>The output's shape or type does not fit the declared pooling.</summary>
    public static SqlRecException PoolingMismatch(string function, string pooling, string output, string shape, string fix) =>
        Fail(function, $"pooling '{pooling}' needs {PoolingShape(pooling)}, but output '{output}' is {shape}; {fix}.");

    private static string PoolingShape(string pooling) => pooling == "none"
        ? "a float32 output of shape [batch, dim] (one sentence vector per text)"
        : "a float32 output of shape [batch, sequence, dim] (one vector per token)";

    /// <summary>The tokenizer can produce token ids the model's embedding table does not hold.</summary>
    public static SqlRecException VocabularyMismatch(string function, int tokenizerSize, string detail) =>
        Fail(function, $"the tokenizer has {tokenizerSize} tokens but the model fails on token id {tokenizerSize - 1} ({detail}); its embedding table is smaller: use the tokenizer the model was trained with.");

    /// <summary>The model fails on a sequence of max_length tokens.</summary>
    public static SqlRecException MaxLengthTooLong(string function, int maxLength, string detail) =>
        Fail(function, $"the model fails on a sequence of {maxLength} tokens ({detail}); lower option 'max_length' to what its position embeddings allow.");

    /// <summary>The model has a fixed sequence length shorter than max_length.</summary>
    public static SqlRecException MaxLengthAboveFixed(string function, int maxLength, int fixedLength) =>
        Fail(function, $"option 'max_length' is {maxLength} but the model's inputs have a fixed sequence length of {fixedLength}; set 'max_length' to at most {fixedLength}.");

    /// <summary>Running the model failed.</summary>
    public static SqlRecException ModelRunFailed(string function, string embedder, string detail) =>
        Fail(function, $"embedder '{embedder}': running the model failed: {detail}.");

    /// <summary>The model produced NaN or an infinity.</summary>
    public static SqlRecException EmbeddingNotFinite(string function, string embedder, int index, float value) =>
        Fail(function, $"embedder '{embedder}' produced {DescribeFloat(value)} at element {index} of a vector; the model or its inputs are broken.");

    /// <summary>The model's vector dimension no longer matches the registered one.</summary>
    public static SqlRecException EmbedderDimensionChanged(string function, string embedder, int registered, int now) =>
        Fail(function, $"embedder '{embedder}' was registered with dimension {registered} but its model now gives {now}; the model file changed: drop and register the embedder again.");

    /// <summary>An execution provider was asked for that this build of ONNX Runtime lacks.</summary>
    public static SqlRecException ProviderUnavailable(string function, string provider, IEnumerable<string> available) =>
        Fail(function, $"execution provider '{provider}' is not available in this build: ONNX Runtime here offers {string.Join(", ", available)}; use 'cpu', or build SqlRec with the Microsoft.ML.OnnxRuntime.Gpu (CUDA) or Microsoft.ML.OnnxRuntime.DirectML package.");

    /// <summary>The query of a bulk embedding is not a read-only SELECT.</summary>
    public static SqlRecException EmbedQueryNotSelect(string function, string sql) =>
        Fail(function, $"'query' must be a read-only SELECT statement, got '{Shorten(sql.Trim(), 80)}'.");

    /// <summary>The query of a bulk embedding holds more than one statement.</summary>
    public static SqlRecException EmbedQuerySeveralStatements(string function, string rest) =>
        Fail(function, $"'query' must be a single statement, but more follows: '{Shorten(rest.Trim(), 80)}'.");

    /// <summary>SQLite rejected or failed the query of a bulk embedding.</summary>
    public static SqlRecException EmbedQueryFailed(string function, string sqliteMessage) =>
        Fail(function, $"the 'query' failed: {sqliteMessage}.");

    /// <summary>The query of a bulk embedding returns the wrong number of columns.</summary>
    public static SqlRecException EmbedQueryColumns(string function, int got) =>
        Fail(function, $"the 'query' must return 2 columns (id, text), got {got}.");

    /// <summary>An id of the query of a bulk embedding is not INTEGER or TEXT.</summary>
    public static SqlRecException EmbedQueryBadId(string function, long row, object? got) =>
        Fail(function, $"the 'query' must return INTEGER or TEXT ids, got {Describe(got)} in row {row}; filter or cast it in the query.");

    /// <summary>A text of the query of a bulk embedding is not TEXT.</summary>
    public static SqlRecException EmbedQueryBadText(string function, long row, object? id, object? got) =>
        Fail(function, $"the 'query' must return TEXT (or NULL) texts, got {Describe(got)} in row {row} (id {Describe(id)}); convert it with CAST(... AS TEXT).");

    /// <summary>A text of the query of a bulk embedding is empty.</summary>
    public static SqlRecException EmbedQueryEmptyText(string function, long row, object? id) =>
        Fail(function, $"the 'query' returned an empty or whitespace-only text in row {row} (id {Describe(id)}); leave such rows out, e.g. WHERE trim(text) <> ''.");

    /// <summary>A bulk embedding stopped because the caller interrupted it.</summary>
    public static SqlRecException EmbeddingInterrupted(string function, long rows) =>
        Fail(function, $"interrupted after {rows} rows.");

    // ---- item modalities (freedom) -----------------------------------------------------------

    private static string Row(long row, ExternalId item) => $"row {row} (item {Describe(item.ToValue())})";

    /// <summary>An entry of the 'modalities' option has a key nobody reads.</summary>
    public static SqlRecException ModalityUnknownKey(string function, int position, string key) =>
        Fail(function, $"unknown key '{key}' in modality {position} of option 'modalities'; valid keys: name, source, weight.");

    /// <summary>A key of an entry of the 'modalities' option has the wrong type or range.</summary>
    public static SqlRecException ModalityValue(string function, int position, string key, string expected, string got) =>
        Fail(function, $"'{key}' of modality {position} of option 'modalities' must be {expected}, got {got}.");

    /// <summary>An entry of the 'modalities' option has no query.</summary>
    public static SqlRecException ModalityMissingSource(string function, int position) =>
        Fail(function, $"modality {position} of option 'modalities' has no 'source'; give a SELECT returning (item, vector BLOB), e.g. json_object('name', 'text', 'source', 'SELECT id, rec_embed(''hash'', title) FROM items').");

    /// <summary>Two modalities have the same name.</summary>
    public static SqlRecException ModalityDuplicateName(string function, string name) =>
        Fail(function, $"modality name '{name}' is given twice in option 'modalities'; give each modality its own 'name'.");

    /// <summary>The modalities' graph weights add up to nothing.</summary>
    public static SqlRecException ModalityWeightsZero(string function) =>
        Fail(function, "the weights of the modalities in option 'modalities' sum to 0; give at least one modality a 'weight' above 0.");

    /// <summary>A modality's query is not a read-only SELECT.</summary>
    public static SqlRecException ModalityNotSelect(string function, string modality, string sql) =>
        Fail(function, $"modality '{modality}': 'source' must be a read-only SELECT statement, got '{Shorten(sql.Trim(), 80)}'.");

    /// <summary>A modality's query holds more than one statement.</summary>
    public static SqlRecException ModalitySeveralStatements(string function, string modality, string rest) =>
        Fail(function, $"modality '{modality}': 'source' must be a single statement, but more follows: '{Shorten(rest.Trim(), 80)}'.");

    /// <summary>SQLite rejected or failed a modality's query.</summary>
    public static SqlRecException ModalityFailed(string function, string modality, string sqliteMessage) =>
        Fail(function, $"modality '{modality}': the query failed: {sqliteMessage}.");

    /// <summary>A modality's query returns the wrong number of columns.</summary>
    public static SqlRecException ModalityColumns(string function, string modality, int got) =>
        Fail(function, $"modality '{modality}': the query must return 2 columns (item, vector BLOB), got {got}.");

    /// <summary>A modality's query returned no vector at all.</summary>
    public static SqlRecException ModalityEmpty(string function, string modality, long rows) =>
        Fail(function, $"modality '{modality}': the query returned no vectors ({rows} rows, NULL vectors skipped); it must give at least one item a vector.");

    /// <summary>A modality's item column holds a value that cannot be an id.</summary>
    public static SqlRecException ModalityBadId(string function, string modality, long row, object? got) =>
        Fail(function, $"modality '{modality}': the item column must be INTEGER or TEXT, got {Describe(got)} in row {row}; filter or cast it in the query.");

    /// <summary>A modality's vector column holds something other than a BLOB.</summary>
    public static SqlRecException ModalityBadVector(string function, string modality, long row, ExternalId item, object? got) =>
        Fail(function, $"modality '{modality}': {Row(row, item)}: the vector must be a BLOB of little-endian float32 values (what rec_embed returns), got {Describe(got)}; convert JSON text with vec_f32(...).");

    /// <summary>A modality's vector BLOB is empty or not a whole number of float32 values.</summary>
    public static SqlRecException ModalityVectorLength(string function, string modality, long row, ExternalId item, int bytes) =>
        Fail(function, $"modality '{modality}': {Row(row, item)}: the vector BLOB must be a non-empty multiple of 4 bytes (float32 values), got {bytes} bytes.");

    /// <summary>A modality's vector holds NaN or an infinity.</summary>
    public static SqlRecException ModalityVectorNotFinite(string function, string modality, long row, ExternalId item, int index, float value) =>
        Fail(function, $"modality '{modality}': {Row(row, item)}: element {index} of the vector is {DescribeFloat(value)}; vectors must hold finite numbers.");

    /// <summary>Two rows of one modality have vectors of different lengths.</summary>
    public static SqlRecException ModalityDimensionMismatch(string function, string modality, long row, ExternalId item, int got, long firstRow, int expected) =>
        Fail(function, $"modality '{modality}': {Row(row, item)}: the vector has {got} dimensions but row {firstRow} had {expected}; every vector of a modality must have the same dimension.");

    /// <summary>An item appears twice in one modality.</summary>
    public static SqlRecException ModalityDuplicateItem(string function, string modality, ExternalId item, long firstRow, long row) =>
        Fail(function, $"modality '{modality}': item {Describe(item.ToValue())} appears twice (rows {firstRow} and {row}); give each item at most one vector per modality.");

    /// <summary>A modality's vector is all zeros.</summary>
    public static SqlRecException ModalityZeroVector(string function, string modality, long row, ExternalId item) =>
        Fail(function, $"modality '{modality}': {Row(row, item)}: the vector is all zeros, which has no direction for cosine similarity; leave the row out or return NULL (items without features are allowed).");

    /// <summary>Some users interacted with every item a content model samples negatives from.</summary>
    public static SqlRecException NoNegativeInteractedItems(string function, string kind, int users, int items) =>
        Fail(function, $"model kind '{kind}' samples negatives among the items that have interactions, but {users} user(s) interacted with all {items} of them in the 'source' data; add interactions with other items or leave such users out of the source.");

    // ---- vector search -----------------------------------------------------------------------

    private static string List(IReadOnlyCollection<string> names) => names.Count == 0 ? "none" : Quoted(names);

    private static string Element(float value) =>
        float.IsNaN(value) ? "NaN" : float.IsPositiveInfinity(value) ? "Infinity" : "-Infinity";

    /// <summary>A vector is not a BLOB (NULL, TEXT, a number).</summary>
    public static SqlRecException VectorNotBlob(string function, string what, object? got) =>
        Fail(function, $"{what} must be a float32 vector BLOB, got {Describe(got)}; make one with vec_f32('[0.1, 0.2, ...]').");

    /// <summary>A vector BLOB is empty, not a whole number of float32 values, or too long.</summary>
    public static SqlRecException VectorBlobLength(string function, string what, int bytes, int maxDimensions) =>
        Fail(function, $"{what} must hold 1 to {maxDimensions} float32 values (4 bytes each), got a BLOB of {bytes} bytes.");

    /// <summary>A vector holds NaN or an infinity.</summary>
    public static SqlRecException VectorNotFinite(string function, string what, int index, float value) =>
        Fail(function, $"{what} holds {Element(value)} at index {index} (0-based); every element must be a finite float32.");

    /// <summary>A query vector's length differs from the vectors it is compared with.</summary>
    public static SqlRecException DimensionMismatch(string function, string what, int got, string space, string source, int expected) =>
        Fail(function, $"dimension mismatch: {what} has {got} dimensions, but the {space} vectors of {source} have {expected}.");

    /// <summary>
    /// A TEXT query against a model, or against a collection published without an embedder: there
    /// is nothing to turn the text into a vector of that space.
    /// </summary>
    public static SqlRecException TextQueryNeedsEmbedder(string function, string source) =>
        Fail(function, $"'query' is TEXT, but {source} has no embedder to turn text into a vector; pass the query as a float32 vector BLOB, e.g. vec_f32('[0.1, 0.2, ...]'), or search a collection published with its embedder, e.g. rec_publish('name', json_object('text', 'SELECT id, title FROM items', 'embedder', 'hash')).");

    /// <summary>Neither a model nor a vector collection exists.</summary>
    public static SqlRecException NoVectorSources(string function) =>
        Fail(function, "no model or vector collection exists in this database; train a model with rec_train(...) or create a collection with rec_publish('name', json_object('source', 'SELECT id, vector FROM ...')).");

    /// <summary>The named model or collection does not exist.</summary>
    public static SqlRecException UnknownVectorSource(string function, string name, IReadOnlyCollection<string> models, IReadOnlyCollection<string> collections) =>
        Fail(function, $"unknown model or collection '{name}'; trained models: {List(models)}; collections: {List(collections)}.");

    /// <summary>The model was omitted while several models or collections exist.</summary>
    public static SqlRecException VectorSourceRequired(string function, IReadOnlyCollection<string> models, IReadOnlyCollection<string> collections) =>
        Fail(function, $"'model' is required when the database holds several models or collections; got NULL, trained models: {List(models)}; collections: {List(collections)}.");

    /// <summary>A model (or collection) has no vectors of the space asked for.</summary>
    public static SqlRecException NoVectors(string function, string source, string space, string hint) =>
        Fail(function, $"{source} has no {space} vectors; {hint}.");

    /// <summary>The item (or user) whose neighbours were asked for has no vector.</summary>
    public static SqlRecException UnknownVectorId(string function, string space, object id, string source) =>
        Fail(function, $"{space} {Describe(id)} has no vector in {source}; only the {space}s of its training data (or of a collection's source) have one.");

    /// <summary>The 'candidates' query is not a read-only SELECT.</summary>
    public static SqlRecException CandidatesNotSelect(string function, string sql) =>
        Fail(function, $"option 'candidates' must be a read-only SELECT statement, got '{Shorten(sql.Trim(), 80)}'.");

    /// <summary>The 'candidates' query holds more than one statement.</summary>
    public static SqlRecException CandidatesSeveralStatements(string function, string rest) =>
        Fail(function, $"option 'candidates' must be a single statement, but more follows: '{Shorten(rest.Trim(), 80)}'.");

    /// <summary>SQLite rejected or failed the 'candidates' query.</summary>
    public static SqlRecException CandidatesFailed(string function, string sqliteMessage) =>
        Fail(function, $"the 'candidates' query failed: {sqliteMessage}.");

    /// <summary>The 'candidates' query does not return exactly one column.</summary>
    public static SqlRecException CandidatesColumns(string function, int got) =>
        Fail(function, $"the 'candidates' query must return 1 column (the ids), got {got}.");

    /// <summary>The 'candidates' query returned a value that cannot be an id.</summary>
    public static SqlRecException CandidatesBadId(string function, long row, object? got) =>
        Fail(function, $"the 'candidates' query must return ids (INTEGER or TEXT), got {Describe(got)} in row {row}; filter or cast it in the query.");

    /// <summary>A collection's name is already a model's.</summary>
    public static SqlRecException CollectionNameIsModel(string function, string name) =>
        Fail(function, $"'{name}' is a trained model; a collection needs a name of its own (models and collections share one namespace).");

    /// <summary>A collection's source query does not return (id, vector).</summary>
    public static SqlRecException CollectionSourceColumns(string function, int got) =>
        Fail(function, $"the 'source' query must return 2 columns (id, vector), got {got}.");

    /// <summary>A collection's source query returned no rows.</summary>
    public static SqlRecException CollectionSourceEmpty(string function) =>
        Fail(function, "the 'source' query returned no rows; a collection needs at least one vector.");

    /// <summary>A collection's source query returns an id twice.</summary>
    public static SqlRecException CollectionDuplicateId(string function, object id, long firstRow, long row) =>
        Fail(function, $"the 'source' query returns the id {Describe(id)} twice (rows {firstRow} and {row}); ids must be distinct.");

    /// <summary>Two vectors of a collection's source differ in length.</summary>
    public static SqlRecException CollectionDimensionMismatch(string function, long row, int got, int expected) =>
        Fail(function, $"dimension mismatch: the 'source' query's vector in row {row} has {got} dimensions, but the vector in row 1 has {expected}.");

    /// <summary>A table rec_publish would write exists and is not one of its own for this owner.</summary>
    public static SqlRecException PublishTableTaken(string function, string table, string owner) =>
        Fail(function, $"table '{table}' already exists and is not a vec0 table that rec_publish made for '{owner}'; choose another base name with option 'table', or drop that table.");

    /// <summary>vec0 keys rows by one id type; these ids mix INTEGER and TEXT.</summary>
    public static SqlRecException PublishMixedIds(string function, string source, string space) =>
        Fail(function, $"a vec0 table keys its rows by one id type, but the {space} ids of {source} are both INTEGER and TEXT; give them one type in the source query to publish them.");

    /// <summary>The vectors are too wide for a vec0 column (with the extra dimension of 'dot').</summary>
    public static SqlRecException PublishTooWide(string function, int dimensions, int maxDimensions) =>
        Fail(function, $"vec0 columns hold at most {maxDimensions} dimensions, and metric 'dot' needs one more than the vectors' {dimensions}; publish with metric 'cosine' or 'l2'.");

    /// <summary>A published vec0 table could not be dropped (to be rewritten or removed).</summary>
    public static SqlRecException Vec0DropFailed(string function, string table, string sqliteMessage) =>
        Fail(function, $"dropping vec0 table '{table}' failed: {sqliteMessage}; SQLite cannot drop a table while another statement of this connection is reading, so call {function}() in a statement of its own (SELECT {function}(...) without FROM); nothing was changed.");

    /// <summary>A published model's new version has no vectors to keep its vec0 table in step.</summary>
    public static SqlRecException RepublishWithoutVectors(string function, string model, string table, string kind, string space) =>
        Fail(function, $"model '{model}' is published to vec0 table '{table}', but the new version (kind '{kind}') has no {space} vectors; run SELECT rec_unpublish('{model}') first, or train a kind with vectors.");

    // ---- text collections and text queries ---------------------------------------------------

    /// <summary>rec_publish got both a vector source and a text source.</summary>
    public static SqlRecException PublishSourceAndText(string function) =>
        Fail(function, "options 'source' and 'text' exclude each other, got both; pass 'source' for a SELECT returning (id, vector), or 'text' for a SELECT returning (id, text) that 'embedder' embeds.");

    /// <summary>rec_publish got an embedder without a collection to record it on.</summary>
    public static SqlRecException PublishEmbedderWithoutCollection(string function) =>
        Fail(function, "option 'embedder' names the embedder of a collection's vectors and needs option 'source' or 'text'; a model's vectors are not text vectors.");

    /// <summary>The embedder recorded on a collection makes vectors of another length than the collection's.</summary>
    public static SqlRecException PublishEmbedderDimension(string function, int sourceDimensions, string embedder, int embedderDimensions) =>
        Fail(function, $"dimension mismatch: the 'source' query's vectors have {sourceDimensions} dimensions, but embedder '{embedder}' makes {embedderDimensions}; name the embedder that made the vectors, so that text queries are compared with vectors of their own kind.");

    /// <summary>The 'text' query is not a read-only SELECT.</summary>
    public static SqlRecException TextSourceNotSelect(string function, string sql) =>
        Fail(function, $"option 'text' must be a read-only SELECT statement, got '{Shorten(sql.Trim(), 80)}'.");

    /// <summary>The 'text' query holds more than one statement.</summary>
    public static SqlRecException TextSourceSeveralStatements(string function, string rest) =>
        Fail(function, $"option 'text' must be a single statement, but more follows: '{Shorten(rest.Trim(), 80)}'.");

    /// <summary>SQLite rejected or failed the 'text' query.</summary>
    public static SqlRecException TextSourceFailed(string function, string sqliteMessage) =>
        Fail(function, $"the 'text' query failed: {sqliteMessage}.");

    /// <summary>The 'text' query does not return (id, text).</summary>
    public static SqlRecException TextSourceColumns(string function, int got) =>
        Fail(function, $"the 'text' query must return 2 columns (id, text), got {got}.");

    /// <summary>An id of the 'text' query is not INTEGER or TEXT.</summary>
    public static SqlRecException TextSourceBadId(string function, long row, object? got) =>
        Fail(function, $"the 'text' query's id column must be INTEGER or TEXT, got {Describe(got)} in row {row}; filter or cast it in the query.");

    /// <summary>A text of the 'text' query is NULL, not TEXT, or empty: that id would have no vector.</summary>
    public static SqlRecException TextSourceBadText(string function, long row, object? id, object? got) =>
        Fail(function, $"the 'text' query must return non-empty TEXT for every id, got {Describe(got)} in row {row} (id {Describe(id)}); leave such rows out, e.g. WHERE trim(title) <> '', or convert with CAST(... AS TEXT).");

    /// <summary>The 'text' query returned no rows.</summary>
    public static SqlRecException TextSourceEmpty(string function) =>
        Fail(function, "the 'text' query returned no rows; a collection needs at least one text.");

    /// <summary>The 'text' query returns an id twice.</summary>
    public static SqlRecException TextSourceDuplicateId(string function, object id, long firstRow, long row) =>
        Fail(function, $"the 'text' query returns the id {Describe(id)} twice (rows {firstRow} and {row}); ids must be distinct.");

    /// <summary>A TEXT query is empty or only whitespace.</summary>
    public static SqlRecException QueryTextEmpty(string function) =>
        Fail(function, "'query' is empty or only whitespace; there is nothing to embed.");

    /// <summary>The embedder recorded on a collection no longer exists (dropped after publishing).</summary>
    public static SqlRecException CollectionEmbedderMissing(string function, string collection, string embedder, IReadOnlyCollection<string> known) =>
        Fail(function, $"{collection} embeds text queries with embedder '{embedder}', which no longer exists (available embedders: {Quoted(known)}); register it again with the same options, or publish the collection again with another 'embedder'.");

    /// <summary>The embedder recorded on a collection now makes vectors of another length.</summary>
    public static SqlRecException CollectionEmbedderDimensionChanged(string function, string collection, string embedder, int embedderDimensions, int collectionDimensions) =>
        Fail(function, $"dimension mismatch: {collection} has {collectionDimensions}-dimension vectors, but its embedder '{embedder}' now makes {embedderDimensions}; the embedder was registered again with other options: publish the collection again.");
}
