namespace SqlRec.Models;

/// <summary>
/// The registry of model kinds, by option name: the one place that lists them. Adding a kind is a
/// folder under <c>Models/</c> and one entry here (see ARCHITECTURE.md).
/// </summary>
internal static class ModelKinds
{
    /// <summary>Every kind, in the order messages and the catalog list them.</summary>
    public static IReadOnlyList<IModelKind> All { get; } =
    [
        new PopularKind(),
        new GraphFilterKind(),
        new LightGcnKind(),
        new FreedomKind(),
        new EaseKind(),
        new SasRecKind(),
    ];

    /// <summary>
    /// <c>auto</c>, the default: not a kind of model of its own but the choice of one for the data
    /// (see <see cref="AutoKind"/>); the version it trains is of the kind it picks.
    /// </summary>
    public static AutoKind Auto { get; } = new();

    /// <summary>Names of every kind the <c>model</c> option takes, <c>auto</c> last.</summary>
    public static IEnumerable<string> Names => All.Select(k => k.Name).Append(Auto.Name);

    /// <summary>The kind with this name (or <c>auto</c>), or an error listing the kinds.</summary>
    public static IModelKind Get(string function, string name) =>
        All.FirstOrDefault(k => k.Name == name) ?? (name == Auto.Name ? Auto : throw Errors.UnknownModelKind(function, name, Names));

    /// <summary>What has item and user vectors, for the message when a model has none: each kind's own words.</summary>
    public static IReadOnlyList<string> VectorsFrom { get; } = [.. All.Select(k => k.VectorsFrom).OfType<string>()];
}

/// <summary>
/// Validated training options: the kind, its options and the source query, as given to
/// <c>rec_train</c> or as stored with a version in <c>rec_model_versions.options</c>.
/// </summary>
internal sealed record TrainingPlan(IModelKind Kind, IKindOptions Options, string Source)
{
    /// <summary>
    /// The model whose stored options this plan was read back from (to evaluate it, or to serve it
    /// live); null for a plan given by the caller. Its queries are then untrusted text from the file.
    /// </summary>
    public string? StoredWith { get; init; }

    /// <summary>The training call's own options, before the kind's: which kind, and the source query.</summary>
    public static readonly OptionTable CallOptions = new(
        Option.Custom("model", "text", "'auto'", string.Join(", ", ModelKinds.Names.Select(n => $"'{n}'")),
            "the kind of model: " + string.Join(", ", ModelKinds.Names.Select(n => $"`{n}`")) + " (each is described below); `auto` tries several on a validation split of the data and keeps the best",
            (reader, name) => reader.String(name) ?? ModelKinds.Auto.Name, value => value),
        Option.RequiredText("source", "one read-only `SELECT` (or `WITH ... SELECT`, `VALUES`) returning `(user, item[, weight[, timestamp]])`. " +
            "Ids are INTEGER or TEXT; weight a number from 0 to 3.4028235E+38, the largest 32-bit float (default 1), and each item's weights must add up to no more than that; timestamp unix seconds or ISO-8601 text. " +
            "Repeated (user, item) pairs are merged, their weights summed.", "a SELECT statement",
            function => Errors.MissingOption(function, "source", "a SELECT that returns (user, item[, weight[, timestamp]])")));

    private static readonly OptionSpec<string> ModelOption = (OptionSpec<string>)CallOptions.Rows[0];
    private static readonly OptionSpec<string> SourceOption = (OptionSpec<string>)CallOptions.Rows[1];

    /// <summary>Reads and validates the options JSON; any option neither the call nor the kind reads is an error.</summary>
    public static TrainingPlan Read(string function, string? optionsJson)
    {
        var reader = OptionReader.Parse(function, optionsJson);
        var kindName = ModelOption.Read(reader);
        var source = SourceOption.Read(reader);
        var kind = ModelKinds.Get(function, kindName);
        var options = kind.ReadOptions(kind.OptionTable.Read(reader));
        reader.Finish($"model kind '{kind.Name}'");
        return new TrainingPlan(kind, options, source);
    }

    /// <summary>The options as stored with the version: the call's, then the kind's with defaults filled in.</summary>
    public string ToJson()
    {
        var json = new System.Text.Json.Nodes.JsonObject { ["model"] = Kind.Name, ["source"] = Source };
        foreach (var (option, value) in Options.ToJson()) json[option] = value?.DeepClone();
        return json.ToJsonString();
    }
}
