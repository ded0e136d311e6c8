namespace SqlRec.Common;

/// <summary>Errors about the item modalities of a content model (freedom's option 'modalities' and its queries).</summary>
internal static partial class Errors
{
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

    /// <summary>A modality's query returned no vector at all.</summary>
    public static SqlRecException ModalityEmpty(string function, string modality, long rows) =>
        Fail(function, $"modality '{modality}': the query returned no vectors ({rows} rows, NULL vectors skipped); it must give at least one item a vector.");

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
}
