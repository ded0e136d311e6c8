namespace SqlRec.Models;

/// <summary>
/// A stored version's arrays, read a slice at a time, so serving one user reads what that user
/// needs and not the whole version (<see cref="PagedGraphFilter"/>). The store implements it; each
/// part it reads is checked (dtype, length, checksum) before use, and damage throws
/// <see cref="StoredDataDamage"/>.
/// </summary>
internal interface IPagedArrays
{
    /// <summary>True when the version has array <paramref name="name"/>.</summary>
    bool Has(string name);

    /// <summary>Array <paramref name="name"/>, which must hold <paramref name="length"/> elements, opened for slices.</summary>
    IPagedArray<T> Open<T>(string name, long length) where T : unmanaged;

    /// <summary>All of array <paramref name="name"/>, which must hold <paramref name="length"/> elements (any number when null).</summary>
    T[] ReadWhole<T>(string name, long? length) where T : unmanaged;
}

/// <summary>One stored array, read a slice at a time (see <see cref="IPagedArrays"/>). One reader serves one call.</summary>
internal interface IPagedArray<T> : IDisposable where T : unmanaged
{
    /// <summary>Number of elements.</summary>
    long Length { get; }

    /// <summary>Stored parts read so far.</summary>
    int PartsRead { get; }

    /// <summary>Copies elements <paramref name="from"/>.. into <paramref name="into"/>, reading the parts they lie in.</summary>
    void Read(long from, Span<T> into);
}
