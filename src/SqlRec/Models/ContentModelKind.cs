using SqlRec.Sqlite;
using SqlRec.Data;

namespace SqlRec.Models;

/// <summary>
/// A model kind that also learns from item features: besides the interaction <c>source</c> it
/// names modality queries that return <c>(item, vector)</c>. The caller (<c>rec_train</c>,
/// <c>rec_evaluate</c>) reads them with <see cref="ItemContentReader"/> before anything is
/// written, extends the item space with the items that have vectors (cold-start items), and
/// hands the aligned content to <see cref="Train(Interactions, ItemContent, IKindOptions, TrainingContext)"/>.
/// </summary>
internal interface IContentModelKind : IModelKind
{
    /// <summary>The modality queries of these options, in order.</summary>
    IReadOnlyList<ModalitySource> Modalities(IKindOptions options);

    /// <summary>Checks the content against the data and the options (sizes, memory) before anything is written.</summary>
    void CheckContent(Interactions data, ItemContent content, IKindOptions options);

    /// <summary>Trains on the interactions and the item content, which is aligned to <paramref name="data"/>'s items.</summary>
    ModelArtifacts Train(Interactions data, ItemContent content, IKindOptions options, TrainingContext context);
}

/// <summary>Reads the content of a content model kind, for <c>rec_train</c> and <c>rec_evaluate</c> alike.</summary>
internal static class ContentLoader
{
    /// <summary>
    /// For a content kind: runs its modality queries on <paramref name="db"/>, returns the data with
    /// the item space extended by the items that have vectors and the content aligned to it, after
    /// <see cref="IContentModelKind.CheckContent"/>. For any other kind: the data as it is and no content.
    /// </summary>
    public static (Interactions Data, ItemContent? Content) Load(SqliteDb db, string function, IModelKind kind, IKindOptions options, Interactions data,
        TrainingContext context)
    {
        if (kind is not IContentModelKind contentKind) return (data, null);
        var (extended, content) = ItemContentReader.Read(db, function, contentKind.Modalities(options), data,
            (modality, rows) => context.Report("reading", rows, null, $"modality '{modality}'"));
        contentKind.CheckContent(extended, content, options);
        return (extended, content);
    }
}
