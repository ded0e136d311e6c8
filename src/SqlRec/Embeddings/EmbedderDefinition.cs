using System.Text.Json.Nodes;

namespace SqlRec.Embeddings;

/// <summary>
/// The validated options of an embedder, as given to <c>rec_register_embedder</c> and as stored in
/// <c>rec_embedders.options</c> (with every default filled in, so a later change of a default never
/// changes the vectors an existing embedder makes). Reading checks names, types and ranges before
/// any file is opened.
/// </summary>
internal abstract record EmbedderDefinition
{
    /// <summary>The kinds an embedder can be.</summary>
    public static readonly string[] Kinds = ["onnx", "hash"];

    /// <summary>The kind's name.</summary>
    public abstract string Kind { get; }

    /// <summary>The options as JSON, defaults included, in a fixed order (used to compare registrations).</summary>
    public abstract JsonObject ToJson();

    /// <summary>
    /// Reads options JSON. <paramref name="baseFolder"/> resolves relative paths when a default
    /// (the tokenizer next to the model) has to be looked up.
    /// </summary>
    public static EmbedderDefinition Parse(string function, string? json, string baseFolder)
    {
        var reader = OptionReader.Parse(function, json);
        var kind = reader.String("kind", "onnx")!;
        EmbedderDefinition definition = kind switch
        {
            "onnx" => OnnxDefinition.Read(function, reader, baseFolder),
            "hash" => HashDefinition.Read(reader),
            _ => throw Errors.UnknownEmbedderKind(function, kind, Kinds),
        };
        reader.Finish($"embedder kind '{kind}'");
        return definition;
    }

    /// <summary>A path as the embedder uses it: absolute as given, relative to <paramref name="baseFolder"/> otherwise.</summary>
    public static string Resolve(string path, string baseFolder) => Path.GetFullPath(path, baseFolder);
}

/// <summary>Options of the weight-free feature-hashing embedder (see <see cref="HashEmbedder"/>).</summary>
/// <param name="Dimension">Vector length.</param>
/// <param name="WordNgrams">Longest run of consecutive words hashed as one feature (1: single words only).</param>
/// <param name="MinCharNgram">Shortest character n-gram of each word (0 with <paramref name="MaxCharNgram"/> 0: none).</param>
/// <param name="MaxCharNgram">Longest character n-gram of each word.</param>
/// <param name="Lowercase">Lower-case the text first.</param>
/// <param name="StripAccents">Strip accents first.</param>
internal sealed record HashDefinition(int Dimension, int WordNgrams, int MinCharNgram, int MaxCharNgram, bool Lowercase, bool StripAccents)
    : EmbedderDefinition
{
    /// <summary>The built-in <c>hash</c> embedder's options.</summary>
    public static readonly HashDefinition Default = new(512, 2, 3, 5, true, true);

    /// <inheritdoc />
    public override string Kind => "hash";

    internal static HashDefinition Read(OptionReader reader)
    {
        var dimension = (int)reader.Integer("dim", Default.Dimension, 2, 8192);
        var words = (int)reader.Integer("word_ngrams", Default.WordNgrams, 1, 5);
        var min = (int)reader.Integer("min_char_ngram", Default.MinCharNgram, 0, 10);
        var max = (int)reader.Integer("max_char_ngram", Math.Max(min, Default.MaxCharNgram), min, 10);
        var lowercase = reader.Boolean("lowercase", true);
        var strip = reader.Boolean("strip_accents", lowercase);
        return new HashDefinition(dimension, words, min, max, lowercase, strip);
    }

    /// <inheritdoc />
    public override JsonObject ToJson() => new()
    {
        ["kind"] = Kind,
        ["dim"] = Dimension,
        ["word_ngrams"] = WordNgrams,
        ["min_char_ngram"] = MinCharNgram,
        ["max_char_ngram"] = MaxCharNgram,
        ["lowercase"] = Lowercase,
        ["strip_accents"] = StripAccents,
    };
}

/// <summary>Options of an ONNX sentence-embedding model (see <see cref="OnnxEmbedder"/>).</summary>
/// <param name="Model">Path of the .onnx file, as given, or the name of a named model (<see cref="NamedModels"/>).</param>
/// <param name="Tokenizer">Path of vocab.txt or tokenizer.json, as given or found next to the model; empty for a named model.</param>
/// <param name="Lowercase">Lower-case the text before tokenization.</param>
/// <param name="StripAccents">Strip accents before tokenization.</param>
/// <param name="MaxLength">Most tokens per text, [CLS] and [SEP] included; longer texts are truncated.</param>
/// <param name="Pooling"><c>mean</c> over the attention mask, <c>cls</c> (first token) or <c>none</c> (the model outputs sentence vectors).</param>
/// <param name="Output">The output tensor's name; null until the model is read (then the default is filled in).</param>
/// <param name="Normalize">L2-normalise each vector.</param>
/// <param name="Provider">Execution provider: <c>cpu</c>, <c>cuda</c> or <c>directml</c>.</param>
/// <param name="DeviceId">GPU index for CUDA and DirectML.</param>
/// <param name="BatchSize">Texts per model run in bulk embedding.</param>
/// <param name="Threads">ONNX Runtime intra-op threads (0: one per core).</param>
internal sealed record OnnxDefinition(string Model, string Tokenizer, bool Lowercase, bool StripAccents, int MaxLength, string Pooling,
    string? Output, bool Normalize, string Provider, int DeviceId, int BatchSize, int Threads) : EmbedderDefinition
{
    /// <summary>Pooling choices.</summary>
    public static readonly string[] Poolings = ["mean", "cls", "none"];

    /// <inheritdoc />
    public override string Kind => "onnx";

    internal static OnnxDefinition Read(string function, OptionReader reader, string baseFolder)
    {
        var model = reader.String("model") is { Length: > 0 } m ? m
            : throw Errors.MissingOption(function, "model", "give the name of a model SqlRec knows ('all-MiniLM-L6-v2') or the path of a BERT-style ONNX model, or use kind 'hash' for the weight-free embedder");
        string tokenizer, tokenizerPath;
        if (NamedModels.Find(model) is { } named)
        {
            // A named model brings its vocabulary; both files are found and checked against their pins.
            if (reader.String("tokenizer") is { Length: > 0 }) throw Errors.NamedModelTokenizer(function, named.Name);
            (_, tokenizerPath) = NamedModels.Locate(function, named);
            model = named.Name;
            tokenizer = "";
        }
        else
        {
            // The model first: without it nothing else matters, and a tokenizer looked for next to a
            // model that is not there would be reported missing in its place.
            var modelPath = Resolve(model, baseFolder);
            if (!File.Exists(modelPath)) throw Errors.EmbedderFileMissing(function, "model", modelPath);
            tokenizer = reader.String("tokenizer") is { Length: > 0 } t ? t : DefaultTokenizer(function, model, baseFolder);
            tokenizerPath = Resolve(tokenizer, baseFolder);
            if (!File.Exists(tokenizerPath)) throw Errors.EmbedderFileMissing(function, "tokenizer", tokenizerPath);
        }
        var stated = WordPieceTokenizer.ReadDefaults(function, tokenizerPath);
        var lowercase = reader.Boolean("lowercase", stated.Lowercase ?? true);
        var strip = reader.Boolean("strip_accents", stated.StripAccents ?? lowercase);
        var maxLength = (int)reader.Integer("max_length", 256, 3, 8192);
        var pooling = reader.Choice("pooling", "mean", Poolings);
        var output = reader.String("output");
        var normalize = reader.Boolean("normalize", true);
        var provider = reader.Choice("provider", "cpu", ExecutionProviders.Names);
        var device = (int)reader.Integer("device_id", 0, 0, 64);
        var batch = (int)reader.Integer("batch_size", 16, 1, 4096);
        var threads = (int)reader.Integer("threads", 0, 0, 1024);
        return new OnnxDefinition(model, tokenizer, lowercase, strip, maxLength, pooling, output, normalize, provider, device, batch, threads);
    }

    /// <summary>The named model <see cref="Model"/> names, or null when it is a path.</summary>
    public NamedModel? Named => NamedModels.Find(Model);

    /// <summary>
    /// The model's and the tokenizer's full paths: a named model's installed files (found and
    /// checked, see <see cref="NamedModels"/>), else the paths as given, relative to <paramref name="baseFolder"/>.
    /// </summary>
    public (string Model, string Tokenizer) Paths(string function, string baseFolder) =>
        Named is { } named ? NamedModels.Locate(function, named) : (Resolve(Model, baseFolder), Resolve(Tokenizer, baseFolder));

    /// <summary>tokenizer.json, else vocab.txt, in the model's folder.</summary>
    private static string DefaultTokenizer(string function, string model, string baseFolder)
    {
        var folder = Path.GetDirectoryName(model) ?? "";
        foreach (var name in new[] { "tokenizer.json", "vocab.txt" })
        {
            var candidate = Path.Combine(folder, name);
            if (File.Exists(Resolve(candidate, baseFolder))) return candidate;
        }
        throw Errors.MissingOption(function, "tokenizer",
            $"no tokenizer.json or vocab.txt lies next to the model in '{Resolve(folder.Length == 0 ? "." : folder, baseFolder)}'; give the path of the model's vocab.txt or tokenizer.json");
    }

    /// <inheritdoc />
    public override JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["kind"] = Kind,
            ["model"] = Model,
            ["tokenizer"] = Tokenizer,
            ["lowercase"] = Lowercase,
            ["strip_accents"] = StripAccents,
            ["max_length"] = MaxLength,
            ["pooling"] = Pooling,
            ["output"] = Output,
            ["normalize"] = Normalize,
            ["provider"] = Provider,
            ["device_id"] = DeviceId,
            ["batch_size"] = BatchSize,
            ["threads"] = Threads,
        };
        // A named model is stored by its name alone, so the database works wherever the model is installed.
        if (Named is not null) json.Remove("tokenizer");
        return json;
    }
}
