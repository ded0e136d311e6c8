using System.Globalization;
using System.Runtime.InteropServices;
using SqlRec.Sqlite;
using SqlRec.Vectors;

namespace SqlRec.Store;

/// <summary>A vector collection as recorded in <c>rec_collections</c>.</summary>
/// <param name="Name">The collection's name (shared namespace with models).</param>
/// <param name="Uid">The snapshot's uid; a new one with every rec_publish.</param>
/// <param name="Source">The SELECT the vectors were read from.</param>
/// <param name="Metric">The default metric of searches on it.</param>
/// <param name="Dimensions">Length of every vector.</param>
/// <param name="Items">Number of vectors.</param>
/// <param name="Embedder">The embedder that made the vectors, which embeds TEXT queries; null when none was recorded.</param>
internal sealed record CollectionInfo(string Name, string Uid, string Source, VectorMetric Metric, int Dimensions, int Items, string? Embedder = null)
{
    /// <summary>How messages name it.</summary>
    public string Label => Collections.Label(Name);
}

/// <summary>
/// Vector collections: item vectors read from any <c>SELECT id, vector</c> (an embedded text
/// column, vectors made elsewhere) or embedded from a <c>SELECT id, text</c>, kept as a snapshot in <c>rec_collections</c> /
/// <c>rec_collection_items</c> and served like a model's item vectors. The snapshot is replaced in
/// one savepoint, with a new uid, so readers see the old one or the new one.
/// </summary>
internal static class Collections
{
    /// <summary>How messages name a collection.</summary>
    public static string Label(string name) => $"collection '{name}'";

    private static bool TableExists(SqliteDb db) => db.TableExists("rec_collections");

    /// <summary>Names of every collection.</summary>
    public static List<string> Names(SqliteDb db)
    {
        var names = new List<string>();
        if (!TableExists(db)) return names;
        using var statement = db.Prepare("SELECT name FROM main.rec_collections ORDER BY name");
        while (statement.Step()) names.Add(statement.GetText(0)!);
        return names;
    }

    /// <summary>The collection called <paramref name="name"/>, or null.</summary>
    public static CollectionInfo? Find(SqliteDb db, string name)
    {
        if (!TableExists(db)) return null;
        const string select = "SELECT name, uid, source, metric, dim, items, {0} FROM main.rec_collections WHERE name = ?1";
        Statement statement;
        try { statement = db.Prepare(string.Format(CultureInfo.InvariantCulture, select, "embedder")); }
        // A database whose collections predate embedders has no such column until the next rec_publish adds it.
        catch (SqliteCallException) when (!db.HasColumn("rec_collections", "embedder"))
        {
            statement = db.Prepare(string.Format(CultureInfo.InvariantCulture, select, "NULL"));
        }
        using (statement)
        {
            statement.BindAll(name);
            return statement.Step()
                ? new CollectionInfo(statement.GetText(0)!, statement.GetText(1)!, statement.GetText(2)!, VectorMetrics.Parse(statement.GetText(3)!),
                    (int)statement.GetInt64(4), (int)statement.GetInt64(5), statement.GetText(6))
                : null;
        }
    }

    /// <summary>Reads a collection's vectors into memory.</summary>
    public static VectorSet Load(SqliteDb db, CollectionInfo info)
    {
        var ids = new ExternalId[info.Items];
        var data = new float[(long)info.Items * info.Dimensions];
        using var statement = db.Prepare("SELECT idx, id, vector FROM main.rec_collection_items WHERE collection = ?1");
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
    public static (IdIndex Ids, float[] Data, int Dimensions) ReadSource(SqliteDb db, string function, string sql)
    {
        using var statement = SourceReader.PrepareQuery(db, sql, function, QueryRole.CollectionSource);
        if (statement.ColumnCount != 2) throw Errors.QueryColumns(function, QueryRole.CollectionSource, statement.ColumnCount);
        var rows = new List<(ExternalId Id, float[] Vector)>();
        var firstRow = new Dictionary<ExternalId, long>();
        var dimensions = 0;
        long row = 0;
        try
        {
            while (statement.Step())
            {
                row++;
                var id = statement.GetId(0) ?? throw Errors.QueryBadId(function, QueryRole.CollectionSource, "id", row, statement.GetValue(0));
                if (!firstRow.TryAdd(id, row)) throw Errors.CollectionDuplicateId(function, id.ToValue(), firstRow[id], row);
                var what = $"the 'source' query's vector in row {row}";
                var vector = statement.ColumnType(1) == SqliteApi.SQLITE_BLOB
                    ? VectorBlob.Decode(function, what, statement.GetBlobSpan(1))
                    : throw Errors.VectorNotBlob(function, what, statement.GetValue(1));
                if (row == 1) dimensions = vector.Length;
                else if (vector.Length != dimensions) throw Errors.CollectionDimensionMismatch(function, row, vector.Length, dimensions);
                rows.Add((id, vector));
            }
        }
        catch (SqliteCallException e)
        {
            throw Errors.QueryFailed(function, QueryRole.CollectionSource, e.Message);
        }
        if (rows.Count == 0) throw Errors.QueryEmpty(function, QueryRole.CollectionSource);
        return Sorted(rows, dimensions);
    }

    /// <summary>The rows sorted by id, as a collection holds them.</summary>
    internal static (IdIndex Ids, float[] Data, int Dimensions) Sorted(List<(ExternalId Id, float[] Vector)> rows, int dimensions)
    {
        rows.Sort((a, b) => a.Id.CompareTo(b.Id));
        var data = new float[(long)rows.Count * dimensions];
        for (var i = 0; i < rows.Count; i++) rows[i].Vector.CopyTo(data, i * dimensions);
        return (new IdIndex(rows.Select(r => r.Id).ToArray()), data, dimensions);
    }

    /// <summary>Replaces (or creates) the collection's snapshot; the caller holds a savepoint.</summary>
    public static CollectionInfo Save(SqliteDb db, string name, string source, VectorMetric metric, IdIndex ids, float[] data, int dimensions, string? embedder)
    {
        var info = new CollectionInfo(name, Guid.NewGuid().ToString("N"), source, metric, dimensions, ids.Count, embedder);
        db.Execute("DELETE FROM main.rec_collection_items WHERE collection = ?1", name);
        db.Execute("""
            INSERT OR REPLACE INTO main.rec_collections(name, uid, source, metric, dim, items, created_at, embedder) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            """, name, info.Uid, source, VectorMetrics.Name(metric), dimensions, ids.Count,
            DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture), embedder);
        using var insert = db.Prepare("INSERT INTO main.rec_collection_items(collection, idx, id, vector) VALUES (?1, ?2, ?3, ?4)");
        for (var i = 0; i < ids.Count; i++)
        {
            insert.BindAll(name, i, ids.Ids[i].ToValue());
            insert.BindBlob(4, MemoryMarshal.AsBytes(data.AsSpan(i * dimensions, dimensions)));
            insert.Execute();
        }
        return info;
    }

    /// <summary>Deletes a collection (not its vec0 tables); false when there is none of that name.</summary>
    public static bool Drop(SqliteDb db, string name)
    {
        if (Find(db, name) is null) return false;
        db.Execute("DELETE FROM main.rec_collection_items WHERE collection = ?1", name);
        db.Execute("DELETE FROM main.rec_collections WHERE name = ?1", name);
        return true;
    }
}
