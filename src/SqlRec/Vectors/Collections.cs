using System.Globalization;
using System.Runtime.InteropServices;
using SqlRec.Data;
using SqlRec.Native;

namespace SqlRec.Vectors;

/// <summary>A vector collection as recorded in <c>rec_collections</c>.</summary>
internal sealed record CollectionInfo(string Name, string Uid, string Source, VectorMetric Metric, int Dimensions, int Items)
{
    /// <summary>How messages name it.</summary>
    public string Label => Collections.Label(Name);
}

/// <summary>
/// Vector collections: item vectors read from any <c>SELECT id, vector</c> (an embedded text
/// column, vectors made elsewhere), kept as a snapshot in <c>rec_collections</c> /
/// <c>rec_collection_items</c> and served like a model's item vectors. The snapshot is replaced in
/// one savepoint, with a new uid, so readers see the old one or the new one.
/// </summary>
internal static class Collections
{
    /// <summary>How messages name a collection.</summary>
    public static string Label(string name) => $"collection '{name}'";

    private static bool TableExists(nint db) =>
        NativeDb.Scalar(db, "SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = 'rec_collections'") is not null;

    /// <summary>Names of every collection.</summary>
    public static List<string> Names(nint db)
    {
        var names = new List<string>();
        if (!TableExists(db)) return names;
        using var statement = Statement.Prepare(db, "SELECT name FROM rec_collections ORDER BY name");
        while (statement.Step()) names.Add(statement.GetText(0)!);
        return names;
    }

    /// <summary>The collection called <paramref name="name"/>, or null.</summary>
    public static CollectionInfo? Find(nint db, string name)
    {
        if (!TableExists(db)) return null;
        using var statement = Statement.Prepare(db, "SELECT name, uid, source, metric, dim, items FROM rec_collections WHERE name = ?1");
        statement.BindAll(name);
        return statement.Step()
            ? new CollectionInfo(statement.GetText(0)!, statement.GetText(1)!, statement.GetText(2)!, VectorMetrics.Parse(statement.GetText(3)!),
                (int)statement.GetInt64(4), (int)statement.GetInt64(5))
            : null;
    }

    /// <summary>Reads a collection's vectors into memory.</summary>
    public static VectorSet Load(nint db, CollectionInfo info)
    {
        var ids = new ExternalId[info.Items];
        var data = new float[(long)info.Items * info.Dimensions];
        using var statement = Statement.Prepare(db, "SELECT idx, id, vector FROM rec_collection_items WHERE collection = ?1");
        statement.BindAll(info.Name);
        while (statement.Step())
        {
            var index = (int)statement.GetInt64(0);
            ids[index] = statement.GetId(1) ?? throw new InvalidDataException($"rec_collection_items holds an id that is not INTEGER or TEXT for collection '{info.Name}'");
            MemoryMarshal.Cast<byte, float>(statement.GetBlobSpan(2)).CopyTo(data.AsSpan(index * info.Dimensions, info.Dimensions));
        }
        return new VectorSet(info.Label, "item", new IdIndex(ids), info.Dimensions, data, info.Metric);
    }

    /// <summary>
    /// Runs a collection's source query, checked first (one read-only SELECT of 2 columns), and
    /// reads every row strictly: ids INTEGER or TEXT and distinct, vectors float32 BLOBs of one
    /// length with finite elements. Returns the vectors sorted by id.
    /// </summary>
    public static (IdIndex Ids, float[] Data, int Dimensions) ReadSource(nint db, string function, string sql)
    {
        using var statement = SourceReader.PrepareQuery(db, sql, new SourceReader.QueryErrors(
            () => Errors.SourceNotSelect(function, sql),
            tail => Errors.SourceSeveralStatements(function, tail),
            message => Errors.SourceFailed(function, message)));
        if (statement.ColumnCount != 2) throw Errors.CollectionSourceColumns(function, statement.ColumnCount);
        var rows = new List<(ExternalId Id, float[] Vector)>();
        var firstRow = new Dictionary<ExternalId, long>();
        var dimensions = 0;
        long row = 0;
        try
        {
            while (statement.Step())
            {
                row++;
                var id = statement.GetId(0) ?? throw Errors.SourceBadId(function, "id", row, statement.GetValue(0));
                if (!firstRow.TryAdd(id, row)) throw Errors.CollectionDuplicateId(function, id.ToValue(), firstRow[id], row);
                var what = $"the 'source' query's vector in row {row}";
                var vector = statement.ColumnType(1) == Sqlite3.SQLITE_BLOB
                    ? VectorBlob.Decode(function, what, statement.GetBlobSpan(1))
                    : throw Errors.VectorNotBlob(function, what, statement.GetValue(1));
                if (row == 1) dimensions = vector.Length;
                else if (vector.Length != dimensions) throw Errors.CollectionDimensionMismatch(function, row, vector.Length, dimensions);
                rows.Add((id, vector));
            }
        }
        catch (SqliteCallException e)
        {
            throw Errors.SourceFailed(function, e.Message);
        }
        if (rows.Count == 0) throw Errors.CollectionSourceEmpty(function);
        rows.Sort((a, b) => a.Id.CompareTo(b.Id));
        var data = new float[(long)rows.Count * dimensions];
        for (var i = 0; i < rows.Count; i++) rows[i].Vector.CopyTo(data, i * dimensions);
        return (new IdIndex(rows.Select(r => r.Id).ToArray()), data, dimensions);
    }

    /// <summary>Replaces (or creates) the collection's snapshot; the caller holds a savepoint.</summary>
    public static CollectionInfo Save(nint db, string name, string source, VectorMetric metric, IdIndex ids, float[] data, int dimensions)
    {
        var info = new CollectionInfo(name, Guid.NewGuid().ToString("N"), source, metric, dimensions, ids.Count);
        NativeDb.Execute(db, "DELETE FROM rec_collection_items WHERE collection = ?1", name);
        NativeDb.Execute(db, """
            INSERT OR REPLACE INTO rec_collections(name, uid, source, metric, dim, items, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            """, name, info.Uid, source, VectorMetrics.Name(metric), dimensions, ids.Count,
            DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        using var insert = Statement.Prepare(db, "INSERT INTO rec_collection_items(collection, idx, id, vector) VALUES (?1, ?2, ?3, ?4)");
        for (var i = 0; i < ids.Count; i++)
        {
            insert.BindAll(name, i, ids.Ids[i].ToValue());
            insert.BindBlob(4, MemoryMarshal.AsBytes(data.AsSpan(i * dimensions, dimensions)));
            insert.Execute();
        }
        return info;
    }

    /// <summary>Deletes a collection (not its vec0 tables); false when there is none of that name.</summary>
    public static bool Drop(nint db, string name)
    {
        if (Find(db, name) is null) return false;
        NativeDb.Execute(db, "DELETE FROM rec_collection_items WHERE collection = ?1", name);
        NativeDb.Execute(db, "DELETE FROM rec_collections WHERE name = ?1", name);
        return true;
    }
}
