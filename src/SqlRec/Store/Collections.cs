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

    /// <summary>
    /// Reads a collection's vectors into memory, checked: every row index once and within the
    /// recorded count, ids INTEGER or TEXT, distinct and in SqlRec's order, each vector the recorded
    /// length of finite floats, and each row's checksum (all rows have one, or - rows written before
    /// checksums existed - none). Throws <see cref="StoredDataDamage"/>.
    /// </summary>
    public static VectorSet Load(SqliteDb db, CollectionInfo info)
    {
        if (info.Dimensions <= 0) throw Errors.Damaged(Errors.DamagedCollectionCount("dim", info.Dimensions));
        if (info.Items < 0 || (long)info.Items * info.Dimensions > Array.MaxLength)
            throw Errors.Damaged(Errors.DamagedCollectionCount("items", info.Items));
        var ids = new ExternalId[info.Items];
        var seen = new bool[info.Items];
        var data = new float[(long)info.Items * info.Dimensions];
        var bytes = info.Dimensions * sizeof(float);
        bool? withChecksums = null;
        const string select = "SELECT idx, id, vector, {0} FROM main.rec_collection_items WHERE collection = ?1";
        Statement statement;
        try { statement = db.Prepare(string.Format(CultureInfo.InvariantCulture, select, "checksum")); }
        catch (SqliteCallException) when (!db.HasColumn("rec_collection_items", "checksum"))
        {
            statement = db.Prepare(string.Format(CultureInfo.InvariantCulture, select, "NULL"));
        }
        using (statement)
        {
            statement.BindAll(info.Name);
            while (statement.Step())
            {
                var index = statement.GetInt64(0);
                if (index < 0 || index >= info.Items) throw Errors.Damaged(Errors.DamagedCollectionRow(index, $"is outside 0..{info.Items - 1} (rec_collections.items is {info.Items})"));
                if (seen[index]) throw Errors.Damaged(Errors.DamagedCollectionRow(index, "is there more than once"));
                seen[index] = true;
                var id = statement.ColumnType(1) switch
                {
                    SqliteApi.SQLITE_INTEGER => ExternalId.Of(statement.GetInt64(1)),
                    SqliteApi.SQLITE_TEXT => ExternalId.Of(statement.GetText(1)!),
                    _ => throw Errors.Damaged(Errors.DamagedCollectionRow(index, $"has id {Errors.Describe(statement.GetValue(1))}, not INTEGER or TEXT")),
                };
                var vector = statement.ColumnType(2) == SqliteApi.SQLITE_BLOB ? statement.GetBlobSpan(2) : [];
                if (vector.Length != bytes) throw Errors.Damaged(Errors.DamagedCollectionRow(index, $"has a vector of {vector.Length} bytes, expected {bytes} (rec_collections.dim is {info.Dimensions})"));
                var hasChecksum = statement.ColumnType(3) == SqliteApi.SQLITE_INTEGER;
                if (withChecksums is { } all && all != hasChecksum || !hasChecksum && !statement.IsNull(3)
                    || hasChecksum && RowChecksum(index, id, vector) != statement.GetInt64(3))
                    throw Errors.Damaged(Errors.DamagedCollectionRow(index, "fails its checksum"));
                withChecksums = hasChecksum;
                var target = data.AsSpan((int)index * info.Dimensions, info.Dimensions);
                MemoryMarshal.Cast<byte, float>(vector).CopyTo(target);
                var bad = VectorBlob.IndexOfNonFinite(target);
                if (bad >= 0) throw Errors.Damaged(Errors.DamagedCollectionRow(index, $"has {Errors.Element(target[bad])} at element {bad}"));
                ids[index] = id;
            }
        }
        for (var i = 0; i < ids.Length; i++)
        {
            if (!seen[i]) throw Errors.Damaged(Errors.DamagedCollectionRow(i, $"is missing (rec_collections.items is {info.Items})"));
            if (i > 0 && ids[i - 1].CompareTo(ids[i]) >= 0)
                throw Errors.Damaged(Errors.DamagedCollectionRow(i, ids[i - 1] == ids[i] ? "repeats the id of the row before" : "has its id out of order"));
        }
        return new VectorSet(info.Label, "item", new IdIndex(ids), info.Dimensions, data, info.Metric);
    }

    /// <summary>The checksum of a collection row: XXH64, seeded with the row index, of the id (as <see cref="Checksum.OfIds"/> writes one) and the vector's bytes.</summary>
    internal static long RowChecksum(long index, ExternalId id, ReadOnlySpan<byte> vector)
    {
        var idBytes = id.IsInteger ? new byte[8] : System.Text.Encoding.UTF8.GetBytes(id.Text!);
        if (id.IsInteger) System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(idBytes, id.Integer);
        var buffer = new byte[1 + idBytes.Length + vector.Length];
        buffer[0] = id.IsInteger ? (byte)1 : (byte)2;
        idBytes.CopyTo(buffer, 1);
        vector.CopyTo(buffer.AsSpan(1 + idBytes.Length));
        return Checksum.Stored(buffer, (ulong)index);
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
        using var insert = db.Prepare("INSERT INTO main.rec_collection_items(collection, idx, id, vector, checksum) VALUES (?1, ?2, ?3, ?4, ?5)");
        for (var i = 0; i < ids.Count; i++)
        {
            var vector = MemoryMarshal.AsBytes(data.AsSpan(i * dimensions, dimensions));
            insert.BindAll(name, i, ids.Ids[i].ToValue(), null, RowChecksum(i, ids.Ids[i], vector));
            insert.BindBlob(4, vector);
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
