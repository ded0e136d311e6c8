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

    /// <summary>True when array <paramref name="name"/> is stored in small parts, so a slice of it is read without the rest.</summary>
    bool HasSmallParts(string name);

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

/// <summary>
/// A kind that can answer <c>recommend()</c> for one user from a stored version that is not loaded,
/// reading only what that user needs; serving asks for this capability, never for a kind by name.
/// </summary>
internal interface IPagedKind
{
    /// <summary>
    /// Paged serving of a stored version of <paramref name="users"/> users and <paramref name="items"/>
    /// items: its small arrays read whole and checked; null when the version cannot be paged (written
    /// before paging existed, or settings the paged path does not cover). Throws <see cref="StoredDataDamage"/>.
    /// </summary>
    IPagedModel? OpenPaged(IPagedArrays pages, int users, int items, IKindOptions options);
}

/// <summary>What a kind keeps of a version between paged calls. Immutable and thread-safe.</summary>
internal interface IPagedModel
{
    /// <summary>True when <c>recommend()</c> scores the user's current rows, read through the version's source.</summary>
    bool ScoresLiveRows { get; }

    /// <summary>About how many bytes a whole load of the version reads: paged calls stop once their time adds up to such a load.</summary>
    double WholeLoadBytes { get; }

    /// <summary>One call's readers on the version's arrays.</summary>
    IPagedCall Begin(IPagedArrays pages);
}

/// <summary>One paged <c>recommend()</c> call. Throws <see cref="StoredDataDamage"/> for damage in what it reads.</summary>
internal interface IPagedCall : IDisposable
{
    /// <summary>The training items of user index <paramref name="user"/>, sorted (checked in range and ascending).</summary>
    int[] SeenBy(int user);

    /// <summary>
    /// Scores a row (item indices, weight 1 each) into <paramref name="scores"/> (one per item) so
    /// that its top <paramref name="k"/>, leaving out <paramref name="excludedSorted"/>, and their
    /// scores are those of the loaded version; <paramref name="k"/> is below a quarter of the items.
    /// </summary>
    void ScoreForTop(int[] row, int k, int[] excludedSorted, float[] scores);
}

/// <summary>The seen-items CSR of a version, paged: the offsets whole (one per user), each user's items read as a slice.</summary>
internal sealed class PagedSeenItems(IPagedArrays pages, int[] offsets, int items) : IDisposable
{
    private readonly IPagedArray<int> _items = pages.Open<int>(ArrayNames.SeenItems, offsets[^1]);

    /// <summary>Parts read so far.</summary>
    public int PartsRead => _items.PartsRead;

    /// <summary>The training items of user index <paramref name="user"/>, sorted (checked in range and ascending).</summary>
    public int[] Of(int user)
    {
        var row = new int[offsets[user + 1] - offsets[user]];
        _items.Read(offsets[user], row);
        StoredArrays.CheckIndices(ArrayNames.SeenItems, row, 0, row.Length, items);
        return row;
    }

    /// <summary>
    /// Reads and checks CSR offsets of <paramref name="count"/> + 1 entries: from 0, never decreasing.
    /// Throws <see cref="StoredDataDamage"/>.
    /// </summary>
    public static int[] ReadOffsets(IPagedArrays pages, string name, int count, string because)
    {
        var offsets = pages.ReadWhole<int>(name, count + 1L);
        if (offsets[0] != 0) throw Errors.Damaged(Errors.DamagedArrayValue(name, 0, offsets[0].ToString(System.Globalization.CultureInfo.InvariantCulture), "0"));
        for (var i = 1; i < offsets.Length; i++)
        {
            if (offsets[i] < offsets[i - 1])
                throw Errors.Damaged(Errors.DamagedArrayIndex(name, i, offsets[i], $"{offsets[i - 1].ToString(System.Globalization.CultureInfo.InvariantCulture)}.. ({because}, never decreasing)"));
        }
        return offsets;
    }

    /// <inheritdoc />
    public void Dispose() => _items.Dispose();
}
