using SqlRec.Compute;
using SqlRec.Data;
using SqlRec.Evaluation;
using SqlRec.Serving;
using SqlRec.Store;

namespace SqlRec.Models;

/// <summary>Scores items by the dot product of a user's final vector with each item's, F_u . F_i (lightgcn, freedom).</summary>
internal sealed class DotProductScorer(float[] users, float[] items, int dim, int itemCount) : IUserScorer, IBatchScorer
{
    public void Score(int user, Span<float> scores)
    {
        scores[..itemCount].Clear();
        DenseMath.MultiplyTransposedAdd(users.AsSpan(user * dim, dim), 1, items, itemCount, dim, scores);
    }

    public void ScoreBatch(ReadOnlySpan<int> batch, Span<float> scores)
    {
        var block = new float[batch.Length * dim];
        for (var b = 0; b < batch.Length; b++) users.AsSpan(batch[b] * dim, dim).CopyTo(block.AsSpan(b * dim, dim));
        scores[..(batch.Length * itemCount)].Clear();
        DenseMath.MultiplyTransposedAdd(block, batch.Length, items, itemCount, dim, scores);
    }
}

/// <summary>Early stopping's metric for the embedding models: recall@20 on the validation pairs, full ranking, training pairs excluded.</summary>
internal static class ValidationScoring
{
    /// <summary>
    /// Recall@20 of <paramref name="users"/> . <paramref name="items"/> on <paramref name="validation"/>,
    /// with the training CSR (<paramref name="offsets"/>, <paramref name="columns"/>) as the seen items.
    /// </summary>
    public static double Recall20(string kind, Interactions data, int[] offsets, int[] columns, HeldOut validation, float[] users, float[] items, int dim)
    {
        if (validation.UserCount == 0) return 0;
        var popularity = new float[data.Items.Count];
        foreach (var item in columns) popularity[item]++;
        var model = new LoadedModel
        {
            Version = new ServingVersion("validation", 0, "", kind, data.Users.Count, data.Items.Count),
            Users = data.Users,
            Items = data.Items,
            SeenOffsets = offsets,
            SeenItems = columns,
            Popularity = popularity,
            PopularityOrder = TopK.Order(popularity),
            Scorer = new DotProductScorer(users, items, dim, data.Items.Count),
        };
        return RankingEvaluator.Run(model, validation, [20])["recall@20"];
    }
}
