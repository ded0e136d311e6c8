using SqlRec.Models;
using SqlRec.Sqlite;

namespace SqlRec.Store;

/// <summary>
/// Reads item modalities from their SELECTs, strictly: each query is one read-only statement
/// returning exactly 2 columns, an INTEGER or TEXT item id and a vector BLOB of float32 values
/// (the format of <c>rec_embed</c> and sqlite-vec). Every vector of a modality has the same
/// dimension, holds finite numbers and is not all zeros (cosine similarity needs a direction),
/// and an item appears at most once. A NULL vector means "no features for this item" and is
/// skipped, so <c>rec_embed(...)</c> over a nullable text column works as it is. Items that no
/// interaction names are allowed: they join the model's item space as cold-start items.
/// </summary>
internal static class ItemContentReader
{
    /// <summary>
    /// Runs every modality query, extends <paramref name="data"/>'s items with the items that have
    /// vectors, and returns the extended data with the modalities aligned to its item index.
    /// Nothing is written; a failure leaves the database as it was.
    /// </summary>
    public static (Interactions Data, ItemContent Content) Read(SqliteDb db, string function, IReadOnlyList<ModalitySource> sources, Interactions data,
        Action<string, long>? progress = null, QueryTrust? trust = null)
    {
        var read = new List<(ModalitySource Source, List<ExternalId> Ids, List<float> Vectors, int Dimension)>();
        foreach (var source in sources)
        {
            var (ids, vectors, dimension) = ReadRows(db, function, source, rows => progress?.Invoke(source.Name, rows), trust);
            read.Add((source, ids, vectors, dimension));
        }
        var extended = data.WithItems(read.SelectMany(r => r.Ids));
        var items = extended.Items.Count;
        var modalities = new List<ItemModality>(read.Count);
        foreach (var (source, ids, vectors, dimension) in read)
        {
            var features = new float[(long)items * dimension];
            var has = new bool[items];
            for (var row = 0; row < ids.Count; row++)
            {
                extended.Items.TryGetIndex(ids[row], out var item);
                has[item] = true;
                for (var c = 0; c < dimension; c++) features[(long)item * dimension + c] = vectors[row * dimension + c];
            }
            modalities.Add(new ItemModality { Name = source.Name, Weight = source.Weight, Dimension = dimension, Features = features, Has = has });
        }
        return (extended, new ItemContent { Modalities = modalities, Items = items });
    }

    private static (List<ExternalId> Ids, List<float> Vectors, int Dimension) ReadRows(SqliteDb db, string function, ModalitySource source, Action<long> onRows,
        QueryTrust? trust)
    {
        var name = source.Name;
        using var statement = SourceReader.PrepareQuery(db, source.Query, function, QueryRole.Modality(name), trust);
        if (statement.ColumnCount != 2) throw Errors.QueryColumns(function, QueryRole.Modality(name), statement.ColumnCount);
        var ids = new List<ExternalId>();
        var vectors = new List<float>();
        var firstRow = new Dictionary<ExternalId, long>();
        var dimension = 0;
        long dimensionRow = 0;
        long row = 0;
        try
        {
            while (statement.Step())
            {
                row++;
                var id = statement.GetId(0) ?? throw Errors.QueryBadId(function, QueryRole.Modality(name), "item", row, statement.GetValue(0));
                if (row % 100_000 == 0) onRows(row);
                var type = statement.ColumnType(1);
                if (type == SqliteApi.SQLITE_NULL) continue;
                if (type != SqliteApi.SQLITE_BLOB) throw Errors.ModalityBadVector(function, name, row, id, statement.GetValue(1));
                var blob = statement.GetBlobSpan(1);
                if (blob.Length == 0 || blob.Length % VectorBlob.ElementSize != 0) throw Errors.ModalityVectorLength(function, name, row, id, blob.Length);
                var length = blob.Length / VectorBlob.ElementSize;
                if (dimension == 0)
                {
                    dimension = length;
                    dimensionRow = row;
                }
                else if (length != dimension) throw Errors.ModalityDimensionMismatch(function, name, row, id, length, dimensionRow, dimension);
                if (!firstRow.TryAdd(id, row)) throw Errors.ModalityDuplicateItem(function, name, id, firstRow[id], row);
                var nonZero = false;
                for (var c = 0; c < length; c++)
                {
                    var value = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(blob[(c * VectorBlob.ElementSize)..]);
                    if (!float.IsFinite(value)) throw Errors.ModalityVectorNotFinite(function, name, row, id, c, value);
                    nonZero |= value != 0;
                    vectors.Add(value);
                }
                if (!nonZero) throw Errors.ModalityZeroVector(function, name, row, id);
                ids.Add(id);
            }
        }
        catch (SqliteCallException e)
        {
            throw Errors.QueryFailed(function, QueryRole.Modality(name), e.Message);
        }
        if (ids.Count == 0) throw Errors.ModalityEmpty(function, name, row);
        onRows(row);
        return (ids, vectors, dimension);
    }
}
