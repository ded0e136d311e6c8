using System.Globalization;

namespace SqlRec.Common;

/// <summary>
/// A stored model or collection that does not read back as it was written: found by the store's and
/// the kinds' checks when a version is loaded (checksums, shapes, index bounds, finite floats).
/// Carries only what is damaged; the operation that loads turns it into
/// <see cref="Errors.ModelDamaged"/> or <see cref="Errors.CollectionDamaged"/>, which name the function and the model.
/// Never shown as it is.
/// </summary>
internal sealed class StoredDataDamage(string what) : Exception(what)
{
    /// <summary>What is damaged, in the words of the message: <c>array 'lgcn_items' part 0 fails its checksum</c>.</summary>
    public string What { get; } = what;
}

/// <summary>Errors about stored models and collections that are damaged, and the words for what is damaged.</summary>
internal static partial class Errors
{
    /// <summary>A stored model version does not read back as it was written.</summary>
    public static SqlRecException ModelDamaged(string function, string model, long version, string what) =>
        Fail(function, $"the stored model '{model}' v{version.ToString(CultureInfo.InvariantCulture)} is damaged: {what}; retrain it with rec_train.");

    /// <summary>A stored collection does not read back as it was written.</summary>
    public static SqlRecException CollectionDamaged(string function, string collection, string what) =>
        Fail(function, $"the stored collection '{collection}' is damaged: {what}; publish it again with rec_publish.");

    /// <summary>Throws the damage found while loading; the loading operation names the function and the model.</summary>
    public static StoredDataDamage Damaged(string what) => new(what);

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    // ---- what is damaged: each text one method, which the checks and the tests share ----------------

    /// <summary>The version row a model points at is missing.</summary>
    public static string DamagedMissingVersion() => "rec_models.current_version names a version that rec_model_versions does not hold";

    /// <summary>A count of the version row is impossible.</summary>
    public static string DamagedVersionCount(string column, long value) => $"rec_model_versions.{column} is {N(value)}";

    /// <summary>The stored training options no longer read.</summary>
    public static string DamagedOptions(string problem) => $"its stored options do not read back ({problem})";

    /// <summary>The kind of the options differs from the version's.</summary>
    public static string DamagedKind(string versionKind, string optionsKind) =>
        $"rec_model_versions.kind is '{versionKind}' but its options are for '{optionsKind}'";

    /// <summary>An array the kind needs is missing.</summary>
    public static string DamagedArrayMissing(string array) => $"array '{array}' is missing";

    /// <summary>An array has a dtype the kind does not read it as.</summary>
    public static string DamagedArrayType(string array, string dtype, string expected) => $"array '{array}' has dtype '{dtype}', expected '{expected}'";

    /// <summary>An array's dtype is unknown or differs between its parts.</summary>
    public static string DamagedArrayDtype(string array, string dtype) => $"array '{array}' has unknown or mixed dtype '{dtype}'";

    /// <summary>A part's blob is not a whole number of elements.</summary>
    public static string DamagedArrayBytes(string array, long part, long bytes) =>
        $"array '{array}' part {N(part)} holds {N(bytes)} bytes, not a whole number of 4-byte elements";

    /// <summary>The parts of an array are not numbered 0..n-1.</summary>
    public static string DamagedArrayParts(string array, long part, long expected) =>
        $"array '{array}' has part {N(part)} where part {N(expected)} was expected";

    /// <summary>A part fails its checksum.</summary>
    public static string DamagedArrayChecksum(string array, long part) => $"array '{array}' part {N(part)} fails its checksum";

    /// <summary>An array's length does not fit the version's counts or options.</summary>
    public static string DamagedArrayLength(string array, long length, long expected, string because) =>
        $"array '{array}' holds {N(length)} elements, expected {N(expected)} ({because})";

    /// <summary>An array is there that the stored options say the version does not have.</summary>
    public static string DamagedArrayUnexpected(string array, string because) => $"array '{array}' is there although {because}";

    /// <summary>An array's length is outside what the kind accepts.</summary>
    public static string DamagedArrayLengthChoice(string array, long length, string expected) =>
        $"array '{array}' holds {N(length)} elements, expected {expected}";

    /// <summary>A float array holds NaN or an infinity.</summary>
    public static string DamagedArrayNotFinite(string array, long index, float value) =>
        $"array '{array}' element {N(index)} is {Element(value)}";

    /// <summary>An index array holds an index outside its range.</summary>
    public static string DamagedArrayIndex(string array, long index, long value, string range) =>
        $"array '{array}' element {N(index)} is {N(value)}, outside {range}";

    /// <summary>An index array is out of its required order.</summary>
    public static string DamagedArrayOrder(string array, long index, string order) =>
        $"array '{array}' element {N(index)} breaks its order ({order})";

    /// <summary>A value of a parameter array is impossible.</summary>
    public static string DamagedArrayValue(string array, long index, string value, string expected) =>
        $"array '{array}' element {N(index)} is {value}, expected {expected}";

    /// <summary>The id map holds an index outside the version's counts.</summary>
    public static string DamagedIdIndex(string space, long idx, long count) =>
        $"rec_id_map has {space} index {N(idx)}, outside 0..{N(count - 1)}";

    /// <summary>The id map holds one index twice.</summary>
    public static string DamagedIdRepeated(string space, long idx) => $"rec_id_map has {space} index {N(idx)} more than once";

    /// <summary>The id map lacks an index.</summary>
    public static string DamagedIdMissing(string space, long idx) => $"rec_id_map has no {space} at index {N(idx)}";

    /// <summary>The id map holds an id that is not INTEGER or TEXT (or a space that is neither).</summary>
    public static string DamagedIdValue(string space, long idx, object? value) => $"rec_id_map {space} {N(idx)} is {Describe(value)}, not an INTEGER or TEXT id";

    /// <summary>The id map holds one id twice, or ids out of SqlRec's order.</summary>
    public static string DamagedIdOrder(string space, long idx, bool duplicate) => duplicate
        ? $"rec_id_map repeats the {space} id at index {N(idx)}"
        : $"rec_id_map's {space} ids are out of order at index {N(idx)}";

    /// <summary>The id map fails its checksum.</summary>
    public static string DamagedIdChecksum() => "rec_id_map fails the version's id checksum";

    /// <summary>A collection row is damaged.</summary>
    public static string DamagedCollectionRow(long idx, string problem) => $"rec_collection_items row {N(idx)} {problem}";

    /// <summary>A collection's counts are impossible.</summary>
    public static string DamagedCollectionCount(string column, long value) => $"rec_collections.{column} is {N(value)}";
}
