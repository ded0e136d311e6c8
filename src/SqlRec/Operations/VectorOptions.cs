using SqlRec.Store;
using SqlRec.Vectors;

namespace SqlRec.Operations;

/// <summary>Options of <c>similar_items</c>, <c>similar_users</c> and <c>rec_search</c>, validated before any work.</summary>
/// <param name="Metric">The metric, or null for the function's default.</param>
/// <param name="Candidates">A SELECT returning the ids that may be returned, or null for all.</param>
/// <param name="Exclude">Ids never to return.</param>
/// <param name="Quantize">The first pass.</param>
/// <param name="Rescore">Shortlist size as a multiple of k, with quantization.</param>
internal sealed record SearchOptions(VectorMetric? Metric, string? Candidates, ExternalId[] Exclude, Quantization Quantize, int Rescore)
{
    /// <summary>
    /// Default shortlist multiple of an int8 first pass: on 100,000 x 384 text-like vectors a
    /// shortlist of 2k already reached recall@10 1.0 (k alone: 0.98); 4k leaves a margin.
    /// </summary>
    public const int DefaultInt8Rescore = 4;

    /// <summary>
    /// Default shortlist multiple of a bit first pass: on the same vectors 10k gave recall@10 0.89,
    /// 20k 0.996, 50k 1.0 (see tests/SqlRec.Benchmarks/README.md).
    /// </summary>
    public const int DefaultBitRescore = 20;

    /// <summary>The option names, for the catalog and messages.</summary>
    private static readonly string[] QuantizeNames = ["none", "int8", "bit"];

    /// <summary>Reads the options JSON (null: defaults).</summary>
    public static SearchOptions Parse(string function, string? json)
    {
        var reader = OptionReader.Parse(function, json);
        var metric = ReadMetric(reader);
        var candidates = reader.String("candidates");
        var exclude = reader.IdList("exclude");
        var quantize = (Quantization)Array.IndexOf(QuantizeNames, reader.Choice("quantize", "none", QuantizeNames));
        var rescore = (int)reader.Integer("rescore", quantize == Quantization.Bit ? DefaultBitRescore : DefaultInt8Rescore, 1, 1000);
        var options = new SearchOptions(metric, candidates, exclude, quantize, rescore);
        reader.Finish($"{function}()");
        return options;
    }

    /// <summary>The optional 'metric' option: null when absent.</summary>
    internal static VectorMetric? ReadMetric(OptionReader reader) =>
        reader.Has("metric") ? VectorMetrics.Parse(reader.Choice("metric", "dot", VectorMetrics.Names)) : Absent(reader.String("metric"));

    private static VectorMetric? Absent(string? _) => null;
}

/// <summary>Options of <c>rec_publish</c>.</summary>
/// <param name="Source">A SELECT (id, vector) to make a collection from; null to publish an existing model or collection.</param>
/// <param name="Metric">The metric (null: 'dot' for a model, the collection's for a collection, 'cosine' for a new collection).</param>
/// <param name="Table">Base name of the vec0 tables (<c>_items</c>, <c>_users</c> are appended); null for the default.</param>
/// <param name="Text">A SELECT (id, text) to make a collection from, embedded with <paramref name="Embedder"/>; excludes <paramref name="Source"/>.</param>
/// <param name="Embedder">The embedder of the collection's vectors, recorded so that TEXT queries are embedded with it; needs a source or text.</param>
internal sealed record PublishOptions(string? Source, VectorMetric? Metric, string? Table, string? Text = null, string? Embedder = null)
{
    /// <summary>True when the call makes (or replaces) a collection.</summary>
    public bool MakesCollection => Source is not null || Text is not null;

    /// <summary>Reads the options JSON (null: defaults).</summary>
    public static PublishOptions Parse(string function, string? json)
    {
        var reader = OptionReader.Parse(function, json);
        var options = new PublishOptions(reader.String("source"), SearchOptions.ReadMetric(reader), reader.String("table"), reader.String("text"), reader.String("embedder"));
        reader.Finish($"{function}()");
        if (options.Table is { } table && !Vec0Tables.IsValidName(table))
            throw Errors.OptionRange(function, "table", Vec0Tables.NameRule, $"\"{Errors.Shorten(table, 60)}\"");
        if (options.Source is not null && options.Text is not null) throw Errors.PublishSourceAndText(function);
        if (options.Embedder is { } embedder)
        {
            Embedders.Name(function, "embedder", embedder);
            if (!options.MakesCollection) throw Errors.PublishEmbedderWithoutCollection(function);
        }
        else if (options.Text is not null)
        {
            throw Errors.MissingOption(function, "embedder", "option 'text' is embedded with it, e.g. json_object('text', 'SELECT id, title FROM items', 'embedder', 'hash')");
        }
        return options;
    }
}
