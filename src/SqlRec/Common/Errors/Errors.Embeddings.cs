namespace SqlRec.Common;

/// <summary>Errors of text embedding: embedder names and registry rows, ONNX models and tokenizers, rec_embed and rec_embed_each.</summary>
internal static partial class Errors
{
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

    /// <summary>A text of the query of a bulk embedding is not TEXT.</summary>
    public static SqlRecException EmbedQueryBadText(string function, long row, object? id, object? got) =>
        Fail(function, $"the 'query' must return TEXT (or NULL) texts, got {Describe(got)} in row {row} (id {Describe(id)}); convert it with CAST(... AS TEXT).");

    /// <summary>A text of the query of a bulk embedding is empty.</summary>
    public static SqlRecException EmbedQueryEmptyText(string function, long row, object? id) =>
        Fail(function, $"the 'query' returned an empty or whitespace-only text in row {row} (id {Describe(id)}); leave such rows out, e.g. WHERE trim(text) <> ''.");

    /// <summary>A bulk embedding stopped because the caller interrupted it.</summary>
    public static SqlRecException EmbeddingInterrupted(string function, long rows) =>
        Fail(function, $"interrupted after {rows} rows.");

    /// <summary>ONNX Runtime's native library cannot be loaded: ONNX embedders cannot run, everything else can.</summary>
    public static SqlRecException OnnxRuntimeMissing(string function, string searched, string detail) =>
        Fail(function, $"ONNX Runtime's native library could not be loaded (looked {searched}: {detail}); ONNX embedders need it beside SqlRec (the release archive and the NuGet package carry it); the 'hash' embedder and every other function work without it.");

    /// <summary>A named model (option 'model' 'all-MiniLM-L6-v2') is not installed in any folder searched.</summary>
    public static SqlRecException NamedModelNotInstalled(string function, string model, string package, IEnumerable<string> searched, string userFolder) =>
        Fail(function, $"model '{model}' is not installed (looked in {Quoted(searched)}); a .NET app gets it with a reference to the NuGet package {package}, the sqlrec CLI carries it and `sqlrec models install {model}` copies it to '{userFolder}' for every other host, or put its files in a folder '{model}' under a folder named by SQLREC_MODELS.");

    /// <summary>A named model's folder lacks one of its files.</summary>
    public static SqlRecException NamedModelIncomplete(string function, string model, string folder, string file, string package) =>
        Fail(function, $"model '{model}' in '{folder}' has no {file}; install it again (the NuGet package {package}, or `sqlrec models install {model}`).");

    /// <summary>A named model's file does not match its pin (damaged, truncated or replaced).</summary>
    public static SqlRecException NamedModelDamaged(string function, string model, string path, string found, string package) =>
        Fail(function, $"'{path}' is not the file of model '{model}': {found}; it is damaged or was replaced: install it again (the NuGet package {package}, or `sqlrec models install {model}`).");

    /// <summary>A tokenizer was given with a named model, which brings its own.</summary>
    public static SqlRecException NamedModelTokenizer(string function, string model) =>
        Fail(function, $"option 'tokenizer' cannot be given with the named model '{model}', which brings its own vocabulary; give the path of a model file to pair it with another tokenizer.");
}
