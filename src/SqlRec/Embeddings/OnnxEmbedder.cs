using System.Globalization;
using System.Numerics.Tensors;
using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SqlRec.Embeddings;

/// <summary>
/// A BERT-style sentence-embedding model in ONNX format run by ONNX Runtime: WordPiece tokens in
/// (<c>input_ids</c>, and <c>attention_mask</c> / <c>token_type_ids</c> when the model has them),
/// one vector per token or per text out, pooled (<c>mean</c> over the attention mask, <c>cls</c>,
/// or <c>none</c>) and L2-normalised. Loading reads the model's input and output names, types and
/// shapes and runs three probes (a short text, the tokenizer's highest token id, a text of
/// <c>max_length</c> tokens), so a model that does not fit its options fails at registration with a
/// clear message, not in the middle of a bulk run. The session is created once and shared;
/// ONNX Runtime's <c>Run</c> is thread-safe.
/// </summary>
internal sealed partial class OnnxEmbedder : Embedder, IDisposable
{
    private enum Role { Ids, Mask, Types }

    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new() { LogSeverityLevel = OnnxRuntimeLibrary.LogLevel };
    private readonly string[] _inputNames;
    private readonly Role[] _roles;
    private readonly bool[] _int32;
    private readonly string[] _outputNames;
    private readonly int _fixedLength;
    private readonly OnnxDefinition _definition;

    private OnnxEmbedder(InferenceSession session, WordPieceTokenizer tokenizer, OnnxDefinition definition,
        string[] inputNames, Role[] roles, bool[] int32, int fixedLength)
    {
        _session = session;
        Tokenizer = tokenizer;
        _definition = definition;
        _inputNames = inputNames;
        _roles = roles;
        _int32 = int32;
        _outputNames = [definition.Output!];
        _fixedLength = fixedLength;
    }

    /// <inheritdoc />
    public override EmbedderDefinition Definition => _definition;

    /// <summary>The tokenizer that feeds the model.</summary>
    public WordPieceTokenizer Tokenizer { get; }

    /// <inheritdoc />
    public override int Dimension => _dimension;

    private int _dimension;

    /// <inheritdoc />
    public override int BatchSize => _definition.BatchSize;

    /// <summary>The model file this embedder was loaded from (for a named model, where it was found).</summary>
    public string ModelPath { get; private set; } = "";

    /// <summary>The session, for benchmarks that time ONNX Runtime alone.</summary>
    internal InferenceSession Session => _session;

    /// <summary>
    /// Loads and checks the model. <paramref name="definition"/>'s paths are resolved against
    /// <paramref name="baseFolder"/>; the returned embedder's definition has the output name filled in.
    /// </summary>
    public static OnnxEmbedder Load(string function, string name, OnnxDefinition definition, string baseFolder)
    {
        var (modelPath, tokenizerPath) = definition.Paths(function, baseFolder);
        if (!File.Exists(modelPath)) throw Errors.EmbedderFileMissing(function, "model", modelPath);
        if (!File.Exists(tokenizerPath)) throw Errors.EmbedderFileMissing(function, "tokenizer", tokenizerPath);
        var tokenizer = WordPieceTokenizer.Load(function, tokenizerPath, definition.Lowercase, definition.StripAccents, definition.MaxLength);

        InferenceSession session;
        try
        {
            OnnxRuntimeLibrary.Environment();
            using var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                IntraOpNumThreads = definition.Threads,
                LogSeverityLevel = OnnxRuntimeLibrary.LogLevel,
            };
            ExecutionProviders.Apply(function, definition.Provider, definition.DeviceId, options);
            try { session = new InferenceSession(modelPath, options); }
            catch (OnnxRuntimeException e) { throw Errors.ModelFileInvalid(function, modelPath, Clean(e.Message)); }
        }
        catch (Exception e) when (OnnxRuntimeLibrary.IsMissing(e))
        {
            throw Errors.OnnxRuntimeMissing(function, OnnxRuntimeLibrary.SearchedPlaces, e.Message);
        }
        try
        {
            var embedder = Inspect(function, session, tokenizer, definition);
            embedder.ModelPath = modelPath;
            embedder._dimension = embedder.Probe(function, name);
            return embedder;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static OnnxEmbedder Inspect(string function, InferenceSession session, WordPieceTokenizer tokenizer, OnnxDefinition definition)
    {
        var inputs = session.InputMetadata;
        var described = string.Join(", ", inputs.Select(i => $"'{i.Key}' {Describe(i.Value)}"));
        if (!inputs.ContainsKey("input_ids")) throw Errors.ModelInputsUnsupported(function, "the model has no input 'input_ids'", described);
        var names = new List<string>();
        var roles = new List<Role>();
        var int32 = new List<bool>();
        var fixedLength = 0;
        foreach (var (inputName, metadata) in inputs)
        {
            Role role = inputName switch
            {
                "input_ids" => Role.Ids,
                "attention_mask" => Role.Mask,
                "token_type_ids" => Role.Types,
                _ => throw Errors.ModelInputsUnsupported(function, $"the model has an input '{inputName}' that SqlRec cannot feed", described),
            };
            if (!metadata.IsTensor || metadata.ElementDataType is not (TensorElementType.Int64 or TensorElementType.Int32) || metadata.Dimensions.Length != 2)
                throw Errors.ModelInputsUnsupported(function, $"input '{inputName}' is {Describe(metadata)}", described);
            if (metadata.Dimensions[0] > 0)
                throw Errors.ModelInputsUnsupported(function, $"input '{inputName}' has a fixed batch size of {metadata.Dimensions[0]}; export the model with a dynamic batch axis", described);
            if (metadata.Dimensions[1] > 0)
            {
                if (fixedLength != 0 && fixedLength != metadata.Dimensions[1])
                    throw Errors.ModelInputsUnsupported(function, "the inputs have different fixed sequence lengths", described);
                fixedLength = metadata.Dimensions[1];
            }
            names.Add(inputName);
            roles.Add(role);
            int32.Add(metadata.ElementDataType == TensorElementType.Int32);
        }
        if (fixedLength > 0 && definition.MaxLength > fixedLength) throw Errors.MaxLengthAboveFixed(function, definition.MaxLength, fixedLength);

        var outputs = session.OutputMetadata;
        var output = definition.Output
            ?? (definition.Pooling != "none" && outputs.ContainsKey("last_hidden_state") ? "last_hidden_state" : outputs.Keys.First());
        if (!outputs.TryGetValue(output, out var outputMetadata))
            throw Errors.ModelOutputUnknown(function, output, string.Join(", ", outputs.Select(o => $"'{o.Key}' {Describe(o.Value)}")));
        CheckOutput(function, definition.Pooling, output, outputMetadata.IsTensor ? outputMetadata.ElementDataType : TensorElementType.DataTypeMax,
            outputMetadata.Dimensions.Length, Describe(outputMetadata));
        return new OnnxEmbedder(session, tokenizer, definition with { Output = output }, [.. names], [.. roles], [.. int32], fixedLength);
    }

    private static void CheckOutput(string function, string pooling, string output, TensorElementType type, int rank, string shape)
    {
        var wanted = pooling == "none" ? 2 : 3;
        if (type == TensorElementType.Float && rank == wanted) return;
        var fix = type != TensorElementType.Float ? "choose a float32 output with option 'output'"
            : rank == 2 ? "use pooling 'none' for a model that outputs one vector per text"
            : rank == 3 ? "use pooling 'mean' or 'cls' for a model that outputs one vector per token"
            : "choose another output with option 'output'";
        throw Errors.PoolingMismatch(function, pooling, output, shape, fix);
    }

    /// <summary>Runs the three probes; returns the vector dimension.</summary>
    private int Probe(string function, string name)
    {
        var cls = Tokenizer.ClsId;
        var sep = Tokenizer.SepId;
        int dimension;
        try { dimension = RunProbe([cls, sep]); }
        catch (OnnxRuntimeException e) { throw Errors.ModelRunFailed(function, name, Clean(e.Message)); }
        try { RunProbe([cls, Tokenizer.VocabularySize - 1, sep]); }
        catch (OnnxRuntimeException e) { throw Errors.VocabularyMismatch(function, Tokenizer.VocabularySize, Clean(e.Message)); }
        var longest = new int[_fixedLength > 0 ? Math.Min(_fixedLength, Tokenizer.MaxLength) : Tokenizer.MaxLength];
        Array.Fill(longest, Tokenizer.PadId == cls ? sep : cls);
        longest[0] = cls;
        longest[^1] = sep;
        try { RunProbe(longest); }
        catch (OnnxRuntimeException e) { throw Errors.MaxLengthTooLong(function, Tokenizer.MaxLength, Clean(e.Message)); }
        return dimension;

        int RunProbe(int[] tokens)
        {
            using var batch = Prepare([tokens], [0]);
            using var results = _session.Run(_runOptions, _inputNames, batch.Values, _outputNames);
            var shape = results[0].GetTensorTypeAndShape();
            var dims = shape.Shape;
            CheckOutput(function, _definition.Pooling, _definition.Output!, shape.ElementDataType, dims.Length, $"{TypeName(shape.ElementDataType)} [{string.Join(", ", dims)}]");
            if (dims[^1] < 1 || dims[^1] > 65536) throw Errors.PoolingMismatch(function, _definition.Pooling, _definition.Output!, $"[{string.Join(", ", dims)}]", "the model's vectors must have 1 to 65536 dimensions");
            return (int)dims[^1];
        }
    }

    // ---- embedding -------------------------------------------------------------------------

    /// <inheritdoc />
    public override void Embed(string function, string name, IReadOnlyList<string> texts, Span<float> output)
    {
        var tokens = new int[texts.Count][];
        for (var i = 0; i < tokens.Length; i++) tokens[i] = Tokenizer.Encode(texts[i]);
        EmbedTokens(function, name, tokens, output);
    }

    /// <summary>Embeds pre-tokenised texts: sorted by length, in batches of <see cref="BatchSize"/>, padded per batch.</summary>
    public void EmbedTokens(string function, string name, IReadOnlyList<int[]> tokens, Span<float> output)
    {
        foreach (var rows in Batches(tokens, BatchSize)) RunBatch(function, name, tokens, rows, output);
    }

    /// <summary>
    /// The batches bulk embedding runs: text indices sorted by token count (stable, so equal
    /// lengths keep their order), cut into runs of <paramref name="batchSize"/>. Sorting first makes
    /// each batch's padding small (dynamic padding pads to the batch's longest text).
    /// </summary>
    public static List<int[]> Batches(IReadOnlyList<int[]> tokens, int batchSize)
    {
        var order = Enumerable.Range(0, tokens.Count).OrderBy(i => tokens[i].Length).ToArray();
        var batches = new List<int[]>((order.Length + batchSize - 1) / batchSize);
        for (var start = 0; start < order.Length; start += batchSize) batches.Add(order[start..Math.Min(order.Length, start + batchSize)]);
        return batches;
    }

    private void RunBatch(string function, string name, IReadOnlyList<int[]> tokens, int[] rows, Span<float> output)
    {
        using var batch = Prepare(tokens, rows);
        IDisposableReadOnlyCollection<OrtValue> results;
        try { results = _session.Run(_runOptions, _inputNames, batch.Values, _outputNames); }
        catch (OnnxRuntimeException e) { throw Errors.ModelRunFailed(function, name, Clean(e.Message)); }
        using (results)
        {
            var result = results[0];
            var dims = result.GetTensorTypeAndShape().Shape;
            var perToken = _definition.Pooling != "none";
            if (dims.Length != (perToken ? 3 : 2) || dims[0] != rows.Length || dims[^1] != Dimension || (perToken && dims[1] != batch.Length))
                throw Errors.ModelRunFailed(function, name, $"output '{_definition.Output}' has shape [{string.Join(", ", dims)}] for a batch of {rows.Length} x {batch.Length} tokens, expected {(perToken ? $"[{rows.Length}, {batch.Length}, {Dimension}]" : $"[{rows.Length}, {Dimension}]")}");
            var data = result.GetTensorDataAsSpan<float>();
            var d = Dimension;
            for (var b = 0; b < rows.Length; b++)
            {
                var row = output.Slice(rows[b] * d, d);
                switch (_definition.Pooling)
                {
                    case "none":
                        data.Slice(b * d, d).CopyTo(row);
                        break;
                    case "cls":
                        data.Slice(b * batch.Length * d, d).CopyTo(row);
                        break;
                    default:
                        // Mean over the tokens the attention mask keeps: the text's own tokens, not the padding.
                        var count = tokens[rows[b]].Length;
                        data.Slice(b * batch.Length * d, d).CopyTo(row);
                        for (var t = 1; t < count; t++) TensorPrimitives.Add(row, data.Slice((b * batch.Length + t) * d, d), row);
                        TensorPrimitives.Divide(row, count, row);
                        break;
                }
                var bad = VectorBlob.IndexOfNonFinite(row);
                if (bad >= 0) throw Errors.EmbeddingNotFinite(function, name, bad, row[bad]);
                if (_definition.Normalize) NormalizeL2(row);
            }
        }
    }

    /// <summary>The input tensors of one batch: token ids, attention mask and token types, padded to a common length.</summary>
    internal sealed class PreparedBatch(int length, OrtValue[] values) : IDisposable
    {
        /// <summary>Tokens per row after padding.</summary>
        public int Length { get; } = length;

        /// <summary>One tensor per model input, in the session's input order.</summary>
        public OrtValue[] Values { get; } = values;

        /// <inheritdoc />
        public void Dispose()
        {
            foreach (var value in Values) value.Dispose();
        }
    }

    /// <summary>Builds the input tensors for the texts <paramref name="rows"/> of <paramref name="tokens"/>.</summary>
    internal PreparedBatch Prepare(IReadOnlyList<int[]> tokens, ReadOnlySpan<int> rows)
    {
        var length = _fixedLength;
        if (length == 0)
        {
            foreach (var row in rows) length = Math.Max(length, tokens[row].Length);
        }
        var shape = new long[] { rows.Length, length };
        var values = new OrtValue[_roles.Length];
        for (var i = 0; i < _roles.Length; i++)
        {
            var role = _roles[i];
            if (_int32[i])
            {
                var data = new int[rows.Length * length];
                Fill(data.AsSpan(), tokens, rows, length, role, Tokenizer.PadId, static v => v);
                values[i] = OrtValue.CreateTensorValueFromMemory(data, shape);
            }
            else
            {
                var data = new long[rows.Length * length];
                Fill(data.AsSpan(), tokens, rows, length, role, Tokenizer.PadId, static v => v);
                values[i] = OrtValue.CreateTensorValueFromMemory(data, shape);
            }
        }
        return new PreparedBatch(length, values);
    }

    private static void Fill<T>(Span<T> data, IReadOnlyList<int[]> tokens, ReadOnlySpan<int> rows, int length, Role role, int padId, Func<int, T> convert)
    {
        var pad = convert(role == Role.Ids ? padId : 0);
        var one = convert(1);
        for (var b = 0; b < rows.Length; b++)
        {
            var text = tokens[rows[b]];
            var line = data.Slice(b * length, length);
            switch (role)
            {
                case Role.Ids:
                    for (var t = 0; t < text.Length; t++) line[t] = convert(text[t]);
                    line[text.Length..].Fill(pad);
                    break;
                case Role.Mask:
                    line[..text.Length].Fill(one);
                    line[text.Length..].Fill(pad);
                    break;
                default:
                    line.Fill(pad); // one segment: every token type is 0
                    break;
            }
        }
    }

    // ---- descriptions ----------------------------------------------------------------------

    private static string Describe(NodeMetadata metadata)
    {
        if (!metadata.IsTensor) return metadata.OnnxValueType.ToString();
        var dims = metadata.Dimensions.Select((d, i) => d > 0 ? d.ToString(CultureInfo.InvariantCulture)
            : metadata.SymbolicDimensions.Length > i && metadata.SymbolicDimensions[i].Length > 0 ? metadata.SymbolicDimensions[i] : "?");
        return $"{TypeName(metadata.ElementDataType)} [{string.Join(", ", dims)}]";
    }

    private static string TypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.Float16 => "float16",
        TensorElementType.Double => "float64",
        TensorElementType.Int64 => "int64",
        TensorElementType.Int32 => "int32",
        _ => type.ToString().ToLowerInvariant(),
    };

    /// <summary>ONNX Runtime's message on one line, without its error-code prefix and final period.</summary>
    internal static string Clean(string message) =>
        Whitespace().Replace(ErrorCodePrefix().Replace(message, ""), " ").Trim().TrimEnd('.');

    [GeneratedRegex(@"^\[ErrorCode:[A-Za-z]+\]\s*")]
    private static partial Regex ErrorCodePrefix();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    /// <inheritdoc />
    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }
}
