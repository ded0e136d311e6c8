namespace SqlRec.Tests.Onnx;

/// <summary>
/// A BERT-shaped encoder with fixed pseudo-random weights, written as an ONNX file and computed
/// again by a plain managed forward pass, so tests can compare ONNX Runtime's output through the
/// whole SqlRec pipeline with an independent computation of the same network. The graph is
/// BERT's: word + position + token-type embeddings, layer norm, then per layer multi-head
/// self-attention with the attention mask, residual and layer norm, a GELU feed-forward block,
/// residual and layer norm; output <c>last_hidden_state</c> [batch, sequence, hidden]. Inputs are
/// those of a Hugging Face export: <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c>.
/// </summary>
public sealed class BertFixture
{
    /// <summary>Shape of the network.</summary>
    public sealed record Config(int VocabSize, int Hidden, int Heads, int Layers, int Intermediate, int MaxPositions, int Seed = 7)
    {
        /// <summary>A small network for tests: fast to build and to run.</summary>
        public static Config Small(int vocabSize) => new(vocabSize, 32, 4, 2, 64, 512);

        /// <summary>The shape of all-MiniLM-L6-v2 (22M parameters), for benchmarks with a realistic cost.</summary>
        public static Config MiniLm(int vocabSize) => new(vocabSize, 384, 12, 6, 1536, 512);
    }

    private sealed class Layer
    {
        public float[] Q = [], Qb = [], K = [], Kb = [], V = [], Vb = [], O = [], Ob = [], Ln1 = [], Ln1b = [];
        public float[] I = [], Ib = [], O2 = [], O2b = [], Ln2 = [], Ln2b = [];
    }

    private readonly float[] _word, _position, _type, _ln, _lnb;
    private readonly Layer[] _layers;
    private const float Epsilon = 1e-12f;

    /// <summary>The network's shape.</summary>
    public Config Shape { get; }

    /// <summary>Builds the weights from <see cref="Config.Seed"/>.</summary>
    public BertFixture(Config config)
    {
        Shape = config;
        var random = new Random(config.Seed);
        float[] Uniform(int count, float scale)
        {
            var data = new float[count];
            for (var i = 0; i < count; i++) data[i] = (random.NextSingle() * 2 - 1) * scale;
            return data;
        }
        float[] Near(int count, float center, float scale)
        {
            var data = Uniform(count, scale);
            for (var i = 0; i < count; i++) data[i] += center;
            return data;
        }
        var h = config.Hidden;
        _word = Uniform(config.VocabSize * h, 0.5f);
        _position = Uniform(config.MaxPositions * h, 0.1f);
        _type = Uniform(2 * h, 0.1f);
        _ln = Near(h, 1, 0.1f);
        _lnb = Uniform(h, 0.05f);
        var w = 1 / MathF.Sqrt(h);
        var wi = 1 / MathF.Sqrt(config.Intermediate);
        _layers = new Layer[config.Layers];
        for (var l = 0; l < config.Layers; l++)
        {
            _layers[l] = new Layer
            {
                Q = Uniform(h * h, w), Qb = Uniform(h, 0.02f),
                K = Uniform(h * h, w), Kb = Uniform(h, 0.02f),
                V = Uniform(h * h, w), Vb = Uniform(h, 0.02f),
                O = Uniform(h * h, w), Ob = Uniform(h, 0.02f),
                Ln1 = Near(h, 1, 0.1f), Ln1b = Uniform(h, 0.05f),
                I = Uniform(h * config.Intermediate, w), Ib = Uniform(config.Intermediate, 0.02f),
                O2 = Uniform(config.Intermediate * h, wi), O2b = Uniform(h, 0.02f),
                Ln2 = Near(h, 1, 0.1f), Ln2b = Uniform(h, 0.05f),
            };
        }
    }

    // ---- the ONNX graph --------------------------------------------------------------------

    /// <summary>
    /// The network as an ONNX graph. <paramref name="sentenceOutput"/> adds a mean over the
    /// sequence as a [batch, hidden] output <c>sentence_embedding</c> and drops
    /// <c>last_hidden_state</c>, for models that output sentence vectors themselves.
    /// </summary>
    public OnnxGraph Graph(bool sentenceOutput = false, bool int32Inputs = false, bool withTokenTypes = true)
    {
        var c = Shape;
        var g = new OnnxGraph();
        var inputType = int32Inputs ? OnnxGraph.Int32 : OnnxGraph.Int64;
        g.Input("input_ids", inputType, "batch", "sequence");
        g.Input("attention_mask", inputType, "batch", "sequence");
        if (withTokenTypes) g.Input("token_type_ids", inputType, "batch", "sequence");
        var h = c.Hidden;
        var headSize = h / c.Heads;

        var word = g.Node("Gather", [g.Weights("word_embeddings", _word, c.VocabSize, h), "input_ids"]);
        var shape = g.Node("Shape", ["input_ids"]);
        var length = g.Node("Gather", [shape, g.Int64s([1])]);
        var positions = g.Node("Range", [g.Int64s([0]), length, g.Int64s([1])]);
        var position = g.Node("Gather", [g.Weights("position_embeddings", _position, c.MaxPositions, h), positions]);
        var sum = g.Node("Add", [word, position]);
        if (withTokenTypes) sum = g.Node("Add", [sum, g.Node("Gather", [g.Weights("token_type_embeddings", _type, 2, h), "token_type_ids"])]);
        var x = LayerNorm(g, sum, _ln, _lnb, "embeddings");

        var mask = g.Node("Cast", ["attention_mask"], ("to", OnnxGraph.Float));
        var bias = g.Node("Mul", [g.Node("Sub", [g.Scalar(1), mask]), g.Scalar(-10000)]);
        var extended = g.Node("Unsqueeze", [bias, g.Int64s([1, 2], 2)]);
        var split = g.Int64s([0, 0, c.Heads, headSize], 4);
        var merge = g.Int64s([0, 0, h], 3);
        var scale = g.Scalar(1 / MathF.Sqrt(headSize));
        for (var l = 0; l < c.Layers; l++)
        {
            var p = _layers[l];
            var name = $"layer{l}";
            string Linear(string input, float[] weight, float[] b, int inSize, int outSize, string what) =>
                g.Node("Add", [g.Node("MatMul", [input, g.Weights($"{name}.{what}.weight", weight, inSize, outSize)]), g.Weights($"{name}.{what}.bias", b, outSize)]);
            var q = g.Node("Transpose", [g.Node("Reshape", [Linear(x, p.Q, p.Qb, h, h, "query"), split])], ("perm", new long[] { 0, 2, 1, 3 }));
            var k = g.Node("Transpose", [g.Node("Reshape", [Linear(x, p.K, p.Kb, h, h, "key"), split])], ("perm", new long[] { 0, 2, 3, 1 }));
            var v = g.Node("Transpose", [g.Node("Reshape", [Linear(x, p.V, p.Vb, h, h, "value"), split])], ("perm", new long[] { 0, 2, 1, 3 }));
            var scores = g.Node("Add", [g.Node("Mul", [g.Node("MatMul", [q, k]), scale]), extended]);
            var probabilities = g.Node("Softmax", [scores], ("axis", -1L));
            var context = g.Node("Reshape", [g.Node("Transpose", [g.Node("MatMul", [probabilities, v])], ("perm", new long[] { 0, 2, 1, 3 })), merge]);
            var attention = Linear(context, p.O, p.Ob, h, h, "attention_output");
            var x1 = LayerNorm(g, g.Node("Add", [attention, x]), p.Ln1, p.Ln1b, $"{name}.attention");
            var inner = Linear(x1, p.I, p.Ib, h, c.Intermediate, "intermediate");
            var erf = g.Node("Erf", [g.Node("Div", [inner, g.Scalar(MathF.Sqrt(2))])]);
            var gelu = g.Node("Mul", [g.Node("Mul", [inner, g.Scalar(0.5f)]), g.Node("Add", [erf, g.Scalar(1)])]);
            var output = Linear(gelu, p.O2, p.O2b, c.Intermediate, h, "output");
            x = LayerNorm(g, g.Node("Add", [output, x1]), p.Ln2, p.Ln2b, $"{name}.output");
        }
        if (sentenceOutput)
        {
            g.NodeTo("ReduceMean", [x], "sentence_embedding", ("axes", new long[] { 1 }), ("keepdims", 0L));
            g.Output("sentence_embedding", OnnxGraph.Float, "batch", h);
        }
        else
        {
            g.NodeTo("Identity", [x], "last_hidden_state");
            g.Output("last_hidden_state", OnnxGraph.Float, "batch", "sequence", h);
        }
        return g;
    }

    private static string LayerNorm(OnnxGraph g, string input, float[] scale, float[] bias, string name) =>
        g.Node("LayerNormalization", [input, g.Weights($"{name}.ln.weight", scale, scale.Length), g.Weights($"{name}.ln.bias", bias, bias.Length)],
            ("axis", -1L), ("epsilon", Epsilon));

    // ---- the managed reference -------------------------------------------------------------

    /// <summary>
    /// <c>last_hidden_state</c> for one text (no padding: every token attended), computed with
    /// plain loops in double precision: [tokens.Length * hidden].
    /// </summary>
    public double[] Forward(IReadOnlyList<int> tokens)
    {
        var c = Shape;
        int n = tokens.Count, h = c.Hidden, heads = c.Heads, d = h / heads;
        var x = new double[n * h];
        for (var t = 0; t < n; t++)
            for (var j = 0; j < h; j++)
                x[t * h + j] = _word[tokens[t] * h + j] + _position[t * h + j] + _type[j];
        LayerNorm(x, n, h, _ln, _lnb);
        foreach (var p in _layers)
        {
            var q = Linear(x, n, h, h, p.Q, p.Qb);
            var k = Linear(x, n, h, h, p.K, p.Kb);
            var v = Linear(x, n, h, h, p.V, p.Vb);
            var context = new double[n * h];
            var scores = new double[n];
            for (var head = 0; head < heads; head++)
            {
                for (var i = 0; i < n; i++)
                {
                    var max = double.NegativeInfinity;
                    for (var j = 0; j < n; j++)
                    {
                        double s = 0;
                        for (var e = 0; e < d; e++) s += q[i * h + head * d + e] * k[j * h + head * d + e];
                        scores[j] = s / Math.Sqrt(d);
                        max = Math.Max(max, scores[j]);
                    }
                    double total = 0;
                    for (var j = 0; j < n; j++) total += scores[j] = Math.Exp(scores[j] - max);
                    for (var j = 0; j < n; j++)
                        for (var e = 0; e < d; e++)
                            context[i * h + head * d + e] += scores[j] / total * v[j * h + head * d + e];
                }
            }
            var attention = Linear(context, n, h, h, p.O, p.Ob);
            for (var i = 0; i < x.Length; i++) attention[i] += x[i];
            LayerNorm(attention, n, h, p.Ln1, p.Ln1b);
            var inner = Linear(attention, n, h, c.Intermediate, p.I, p.Ib);
            for (var i = 0; i < inner.Length; i++) inner[i] = 0.5 * inner[i] * (1 + Erf(inner[i] / Math.Sqrt(2)));
            var output = Linear(inner, n, c.Intermediate, h, p.O2, p.O2b);
            for (var i = 0; i < output.Length; i++) output[i] += attention[i];
            LayerNorm(output, n, h, p.Ln2, p.Ln2b);
            x = output;
        }
        return x;
    }

    /// <summary>The sentence vector SqlRec should produce: mean over tokens, then L2-normalised.</summary>
    public float[] MeanPooledNormalized(IReadOnlyList<int> tokens)
    {
        var hidden = Forward(tokens);
        var h = Shape.Hidden;
        var vector = new double[h];
        for (var t = 0; t < tokens.Count; t++)
            for (var j = 0; j < h; j++) vector[j] += hidden[t * h + j] / tokens.Count;
        var norm = Math.Sqrt(vector.Sum(v => v * v));
        return vector.Select(v => (float)(v / norm)).ToArray();
    }

    private static double[] Linear(double[] x, int n, int inSize, int outSize, float[] weight, float[] bias)
    {
        var y = new double[n * outSize];
        for (var t = 0; t < n; t++)
            for (var o = 0; o < outSize; o++)
            {
                double s = bias[o];
                for (var i = 0; i < inSize; i++) s += x[t * inSize + i] * weight[i * outSize + o];
                y[t * outSize + o] = s;
            }
        return y;
    }

    private static void LayerNorm(double[] x, int n, int h, float[] scale, float[] bias)
    {
        for (var t = 0; t < n; t++)
        {
            var row = x.AsSpan(t * h, h);
            double mean = 0, variance = 0;
            foreach (var value in row) mean += value;
            mean /= h;
            foreach (var value in row) variance += (value - mean) * (value - mean);
            variance /= h;
            var inverse = 1 / Math.Sqrt(variance + Epsilon);
            for (var j = 0; j < h; j++) row[j] = (row[j] - mean) * inverse * scale[j] + bias[j];
        }
    }

    /// <summary>erf, to 1e-12 (a Taylor series near 0, a continued fraction elsewhere via erfc).</summary>
    internal static double Erf(double x)
    {
        if (x < 0) return -Erf(-x);
        if (x < 2.5)
        {
            // erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
            double sum = 0, term = x;
            for (var n = 0; n < 100; n++)
            {
                var add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17) break;
                term *= -x * x / (n + 1);
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (Lentz would be faster; depth 60 is plenty here)
        double fraction = 0;
        for (var k = 60; k >= 1; k--) fraction = k / 2.0 / (x + fraction);
        return 1 - Math.Exp(-x * x) / Math.Sqrt(Math.PI) / (x + fraction);
    }

    // ---- vocabularies ----------------------------------------------------------------------

    /// <summary>A small WordPiece vocabulary: the BERT special tokens, punctuation, letters, digits, sub-word letters and some words.</summary>
    public static List<string> SmallVocabulary()
    {
        var tokens = new List<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        tokens.AddRange("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".Select(c => c.ToString()));
        for (var c = 'a'; c <= 'z'; c++) tokens.Add(c.ToString());
        for (var c = '0'; c <= '9'; c++) tokens.Add(c.ToString());
        for (var c = 'a'; c <= 'z'; c++) tokens.Add("##" + c);
        for (var c = '0'; c <= '9'; c++) tokens.Add("##" + c);
        tokens.AddRange(["the", "a", "of", "and", "in", "is", "on", "to", "with", "book", "books", "story", "war", "love", "space", "ship",
            "dragon", "city", "night", "dark", "ocean", "king", "queen", "old", "new", "red", "blue", "fire", "ice", "star", "stars",
            "sea", "cafe", "creme", "brulee", "murder", "mystery", "detective", "garden", "cook", "recipe", "bread", "history", "empire",
            "##ing", "##ed", "##er", "##ly", "un", "##aff", "##able"]);
        return [.. tokens.Distinct()];
    }

    /// <summary>Writes the model and a vocab.txt into <paramref name="folder"/>; returns the model's path.</summary>
    public string Write(string folder, IReadOnlyList<string> vocabulary, bool sentenceOutput = false, string fileName = "model.onnx")
    {
        Directory.CreateDirectory(folder);
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), vocabulary);
        var path = Path.Combine(folder, fileName);
        Graph(sentenceOutput).Save(path);
        return path;
    }
}
