namespace SqlRec.Models;

/// <summary>One item modality as the training options give it.</summary>
/// <param name="Name">The modality's name (unique within a model), as messages show it.</param>
/// <param name="Query">A read-only SELECT returning <c>(item, vector BLOB)</c>.</param>
/// <param name="Weight">Its share in the mixed item-item graph, already normalised so that all modalities sum to 1.</param>
internal sealed record ModalitySource(string Name, string Query, double Weight);

/// <summary>
/// One modality's item vectors, aligned to a model's item index: a dense items x dimension block
/// whose rows are zero for items the query returned no vector for.
/// </summary>
internal sealed class ItemModality
{
    /// <summary>The modality's name.</summary>
    public required string Name { get; init; }

    /// <summary>Share of this modality in the mixed item-item graph (the modalities' weights sum to 1).</summary>
    public required double Weight { get; init; }

    /// <summary>Length of every vector.</summary>
    public required int Dimension { get; init; }

    /// <summary>Item vectors, items x <see cref="Dimension"/>, row-major, as the query returned them.</summary>
    public required float[] Features { get; init; }

    /// <summary>True for the items the query returned a vector for.</summary>
    public required bool[] Has { get; init; }

    /// <summary>Number of items with a vector.</summary>
    public int Count => Has.Count(h => h);
}

/// <summary>The item modalities of a content model, aligned to one item index.</summary>
internal sealed class ItemContent
{
    /// <summary>The modalities, in the order the options list them.</summary>
    public required IReadOnlyList<ItemModality> Modalities { get; init; }

    /// <summary>Number of items of the index the modalities are aligned to.</summary>
    public required int Items { get; init; }
}
