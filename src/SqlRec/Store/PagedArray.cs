using System.Runtime.InteropServices;
using SqlRec.Models;
using SqlRec.Sqlite;

namespace SqlRec.Store;

/// <summary>
/// One stored array of a version, read a part at a time as slices of it are asked for, so serving
/// one user from a large model reads the parts that user needs and not the rest. Each part read is
/// checked as a whole load checks it (its dtype, its length - every part but the last holds the
/// size of part 0 - and its checksum) before any of it is used, and kept for the rest of this
/// reader's life. Throws <see cref="StoredDataDamage"/>. Not thread-safe: one reader serves one call.
/// </summary>
internal sealed class PagedArray<T> : IPagedArray<T> where T : unmanaged
{
    private readonly Statement _select;
    private readonly ServingVersion _version;
    private readonly string _name;
    private readonly string _dtype;
    private readonly long _length;
    private readonly Dictionary<long, T[]> _parts = [];
    private long _partElements;

    /// <summary>Opens array <paramref name="name"/> of <paramref name="version"/>, which must hold <paramref name="length"/> elements of <typeparamref name="T"/> (float or int).</summary>
    public PagedArray(SqliteDb db, ServingVersion version, string name, long length)
    {
        _name = name;
        _length = length;
        _version = version;
        _dtype = typeof(T) == typeof(float) ? "f32" : typeof(T) == typeof(int) ? "i32" : throw new ArgumentException($"unsupported element type {typeof(T).Name}");
        _select = db.Prepare("SELECT dtype, data, checksum FROM main.rec_arrays WHERE model = ?1 AND version = ?2 AND name = ?3 AND part = ?4");
        _select.BindAll(version.Model, version.Version, name, 0L);
        // Part 0 sets the part size (every part but the last holds as many); an empty array still has its one (empty) part.
        var first = Part(0);
        if (first.Length > length || (first.Length == 0 && length > 0))
            throw Errors.Damaged(Errors.DamagedArrayLength(name, first.Length, length, "its first part"));
        _partElements = Math.Max(1, first.Length);
    }

    /// <inheritdoc />
    public int PartsRead => _parts.Count;

    /// <inheritdoc />
    public long Length => _length;

    /// <inheritdoc />
    public void Read(long from, Span<T> into)
    {
        if (from < 0 || from + into.Length > _length) throw new ArgumentOutOfRangeException(nameof(from));
        while (!into.IsEmpty)
        {
            var part = from / _partElements;
            var offset = (int)(from - part * _partElements);
            var values = Part(part);
            var count = Math.Min(into.Length, values.Length - offset);
            values.AsSpan(offset, count).CopyTo(into);
            into = into[count..];
            from += count;
        }
    }

    /// <summary>One element.</summary>
    public T this[long index]
    {
        get
        {
            if ((ulong)index >= (ulong)_length) throw new ArgumentOutOfRangeException(nameof(index));
            var part = index / _partElements;
            return Part(part)[index - part * _partElements];
        }
    }

    private T[] Part(long part)
    {
        if (_parts.TryGetValue(part, out var cached)) return cached;
        _select.Bind(4, part);
        try
        {
            if (!_select.Step()) throw Errors.Damaged(part == 0 ? Errors.DamagedArrayMissing(_name) : Errors.DamagedArrayParts(_name, part - 1, part));
            var type = _select.GetText(0) ?? "NULL";
            if (type != _dtype) throw Errors.Damaged(type is "f32" or "i32" ? Errors.DamagedArrayType(_name, type, _dtype) : Errors.DamagedArrayDtype(_name, type));
            var data = ModelStore.CheckedPart(_select, 1, 2, _version, _name, part);
            if (_partElements > 0)
            {
                var expected = Math.Min(_partElements, _length - part * _partElements);
                if (expected <= 0 || data.Length / 4 != expected)
                    throw Errors.Damaged(Errors.DamagedArrayBytes(_name, part, data.Length));
            }
            var values = new T[data.Length / 4];
            data.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
            _parts[part] = values;
            return values;
        }
        finally
        {
            _select.Reset();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _select.Dispose();
}

/// <summary>
/// Ids of one space (users or items) of a version, found without reading the whole id map: the map
/// holds ids in SqlRec's order by index, so an id's index is a binary search over index lookups
/// (about 20 for a million ids). A whole load checks the map's order and checksum; this checks
/// what it reads (an INTEGER or TEXT id at every index it visits).
/// </summary>
internal sealed class IdProbe : IIdLookup, IDisposable
{
    private readonly Statement _select;
    private readonly string _space;
    private readonly int _count;
    private readonly Dictionary<int, ExternalId> _read = [];

    /// <summary>Opens the <paramref name="space"/> ids ("user" or "item") of <paramref name="version"/>, <paramref name="count"/> of them.</summary>
    public IdProbe(SqliteDb db, ServingVersion version, string space, int count)
    {
        _space = space;
        _count = count;
        _select = db.Prepare("SELECT id FROM main.rec_id_map WHERE model = ?1 AND version = ?2 AND space = ?3 AND idx = ?4");
        _select.BindAll(version.Model, version.Version, space, 0L);
    }

    /// <summary>The id at <paramref name="index"/>.</summary>
    public ExternalId this[int index]
    {
        get
        {
            if (_read.TryGetValue(index, out var known)) return known;
            _select.Bind(4, (long)index);
            try
            {
                if (!_select.Step()) throw Errors.Damaged(Errors.DamagedIdMissing(_space, index));
                var id = _select.ColumnType(0) switch
                {
                    SqliteApi.SQLITE_INTEGER => ExternalId.Of(_select.GetInt64(0)),
                    SqliteApi.SQLITE_TEXT => ExternalId.Of(_select.GetText(0)!),
                    _ => throw Errors.Damaged(Errors.DamagedIdValue(_space, index, _select.GetValue(0))),
                };
                _read[index] = id;
                return id;
            }
            finally
            {
                _select.Reset();
            }
        }
    }

    /// <summary>The index of <paramref name="id"/>; false when the version does not know it.</summary>
    public bool TryGetIndex(ExternalId id, out int index)
    {
        var (low, high) = (0, _count - 1);
        while (low <= high)
        {
            var middle = low + (high - low) / 2;
            var order = this[middle].CompareTo(id);
            if (order == 0)
            {
                index = middle;
                return true;
            }
            if (order < 0) low = middle + 1;
            else high = middle - 1;
        }
        index = -1;
        return false;
    }

    /// <inheritdoc />
    public void Dispose() => _select.Dispose();
}

/// <summary>The arrays of one stored version, read a slice at a time (see <see cref="IPagedArrays"/>), on one connection.</summary>
internal sealed class StoredPages(SqliteDb db, ServingVersion version) : IPagedArrays
{
    /// <inheritdoc />
    public bool Has(string name) =>
        db.Scalar("SELECT 1 FROM main.rec_arrays WHERE model = ?1 AND version = ?2 AND name = ?3 AND part = 0", version.Model, version.Version, name) is not null;

    /// <inheritdoc />
    /// <remarks>Its first part is no larger than <see cref="ModelStore.SmallPartElements"/>.</remarks>
    public bool HasSmallParts(string name) =>
        db.Scalar("SELECT length(data) FROM main.rec_arrays WHERE model = ?1 AND version = ?2 AND name = ?3 AND part = 0", version.Model, version.Version, name) is long bytes &&
        bytes <= 4L * ModelStore.SmallPartElements;

    /// <inheritdoc />
    public IPagedArray<T> Open<T>(string name, long length) where T : unmanaged => new PagedArray<T>(db, version, name, length);

    /// <inheritdoc />
    public T[] ReadWhole<T>(string name, long? length) where T : unmanaged
    {
        // The parts' sizes (from the record headers) give the stored length, checked before anything is allocated for it.
        var stored = db.Scalar("SELECT sum(length(data)) / 4 FROM main.rec_arrays WHERE model = ?1 AND version = ?2 AND name = ?3", version.Model, version.Version, name) as long?;
        if (stored is null) throw Errors.Damaged(Errors.DamagedArrayMissing(name));
        var total = length ?? stored.Value;
        if (stored != total) throw Errors.Damaged(Errors.DamagedArrayLength(name, stored.Value, total, "the version's counts"));
        if (total > Array.MaxLength) throw Errors.Damaged(Errors.DamagedArrayLength(name, total, Array.MaxLength, "more than an array holds"));
        using var reader = new PagedArray<T>(db, version, name, total);
        var values = new T[total];
        reader.Read(0, values);
        return values;
    }
}
