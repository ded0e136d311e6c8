namespace SqlRec.Compute;

/// <summary>What early stopping needs of an embedding trainer: the final vectors, refreshed by <see cref="Forward"/>.</summary>
internal interface IFinalEmbeddings
{
    /// <summary>Embedding width.</summary>
    int Dim { get; }

    /// <summary>Final user vectors (users x Dim), valid after <see cref="Forward"/>.</summary>
    float[] UserFinal { get; }

    /// <summary>Final item vectors (items x Dim), valid after <see cref="Forward"/>.</summary>
    float[] ItemFinal { get; }

    /// <summary>Recomputes <see cref="UserFinal"/> and <see cref="ItemFinal"/> from the current parameters.</summary>
    void Forward();
}
