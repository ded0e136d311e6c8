namespace SqlRec.Common;

/// <summary>
/// Dense index &lt;-&gt; the application's ids for one space (users or items). Indices follow the
/// order of <see cref="ExternalId"/> (integers by value, then text), so a model's index layout
/// does not depend on the order the source query returned rows in.
/// </summary>
internal sealed class IdIndex : IIdLookup
{
    private readonly Dictionary<ExternalId, int> _byId;

    /// <summary>Creates the index over ids that are already sorted and distinct.</summary>
    public IdIndex(ExternalId[] sortedIds)
    {
        Ids = sortedIds;
        _byId = new Dictionary<ExternalId, int>(sortedIds.Length);
        for (var i = 0; i < sortedIds.Length; i++) _byId.Add(sortedIds[i], i);
    }

    /// <summary>The ids in index order.</summary>
    public ExternalId[] Ids { get; }

    /// <summary>Number of ids.</summary>
    public int Count => Ids.Length;

    /// <summary>The dense index of an id.</summary>
    public bool TryGetIndex(ExternalId id, out int index) => _byId.TryGetValue(id, out index);
}

/// <summary>Finds the dense index of an application id: a loaded <see cref="IdIndex"/>, or a lookup that reads the stored id map as it goes.</summary>
internal interface IIdLookup
{
    /// <summary>The dense index of an id; false when the space does not hold it.</summary>
    bool TryGetIndex(ExternalId id, out int index);
}
