using System.Collections.Concurrent;

namespace SqlRec.Models;

/// <summary>Metrics averaged over the evaluated users, and coverage, for each cutoff.</summary>
internal sealed class MetricsSummary
{
    /// <summary>The cutoffs, ascending.</summary>
    public required int[] Cutoffs { get; init; }

    /// <summary>Mean of each per-user metric: <c>[cutoff index, metric index]</c> in <see cref="RankingMetrics.PerUserNames"/> order.</summary>
    public required double[,] Means { get; init; }

    /// <summary>
    /// Standard error of each mean over users (sample standard deviation / sqrt(users); 0 for one
    /// user), shaped as <see cref="Means"/>.
    /// </summary>
    public required double[,] StandardErrors { get; init; }

    /// <summary>Coverage at each cutoff.</summary>
    public required double[] Coverage { get; init; }

    /// <summary>Number of users the means are over.</summary>
    public required int Users { get; init; }

    /// <summary>Every metric by name (<c>recall@20</c>), cutoff by cutoff, per-user metrics then coverage.</summary>
    public IEnumerable<(string Name, double Value)> Named()
    {
        for (var c = 0; c < Cutoffs.Length; c++)
        {
            for (var m = 0; m < RankingMetrics.PerUserCount; m++) yield return ($"{RankingMetrics.PerUserNames[m]}@{Cutoffs[c]}", Means[c, m]);
            yield return ($"{RankingMetrics.CoverageName}@{Cutoffs[c]}", Coverage[c]);
        }
    }

    /// <summary>The standard error of every per-user metric by name (<c>recall@20</c>), cutoff by cutoff.</summary>
    public IEnumerable<(string Name, double Value)> NamedStandardErrors()
    {
        for (var c = 0; c < Cutoffs.Length; c++)
            for (var m = 0; m < RankingMetrics.PerUserCount; m++) yield return ($"{RankingMetrics.PerUserNames[m]}@{Cutoffs[c]}", StandardErrors[c, m]);
    }

    /// <summary>One metric by name, e.g. <c>recall@20</c>.</summary>
    public double this[string name] => Named().First(m => m.Name == name).Value;
}

/// <summary>
/// The full-ranking protocol: every evaluated user's items are ranked with the model's one ranking
/// path (<see cref="ServableModel.TopUnseenItems"/>, the selection recommend() uses) over all items,
/// excluding the user's training items, and the top max(K) is scored against the held-out items.
/// Blocks of users run in parallel, each thread with its own buffers; per-user figures are kept
/// and summed in user order afterwards, so the result is the same for any number of threads.
/// </summary>
internal static class RankingEvaluator
{
    /// <summary>Users per progress report, at least (progress is reported on the calling thread between chunks).</summary>
    internal const int ChunkSize = 1024;

    /// <summary>Most scores one block of a batch scorer may hold (floats), to bound each thread's buffer.</summary>
    private const int BatchScoreBudget = 2 << 20;

    private sealed class Workspace(int block, int maxK, int scoreLength, int items)
    {
        public readonly int[] Top = new int[block * maxK];
        public readonly int[] Counts = new int[block];
        public readonly float[] Scores = new float[scoreLength];
        public readonly int[] FirstPosition = NewPositions(items);
    }

    private static int[] NewPositions(int items)
    {
        var positions = new int[items];
        Array.Fill(positions, int.MaxValue);
        return positions;
    }

    /// <summary>Users ranked together: a block for a batch scorer, one otherwise.</summary>
    internal static int BlockSize(ServableModel model)
    {
        if (model.Scorer is not IBatchScorer) return 1;
        var size = Math.Clamp(BatchScoreBudget / Math.Max(1, model.Items.Count), 1, 64);
        // Whole groups of 8: blocked kernels pad a block to whole vectors, so 51 users would cost 56.
        return size >= 8 ? size / 8 * 8 : size;
    }

    /// <summary>Ranks every user of <paramref name="heldOut"/> with <paramref name="model"/> and averages the metrics.</summary>
    /// <param name="model">The model to evaluate; its seen items are the training items left out of each ranking.</param>
    /// <param name="heldOut">The held-out items, in the model's index space; at least one user.</param>
    /// <param name="cutoffs">The cutoffs K, ascending, distinct, each 1..<see cref="Errors.MaxK"/>.</param>
    /// <param name="progress">Called with (users done, users in all) before the first user and after every chunk.</param>
    /// <param name="maxThreads">Limits the threads (tests); null for the runtime's default.</param>
    public static MetricsSummary Run(ServableModel model, HeldOut heldOut, int[] cutoffs, Action<long, long>? progress = null, int? maxThreads = null)
    {
        if (heldOut.UserCount == 0) throw new ArgumentException("no user to evaluate", nameof(heldOut));
        var users = heldOut.UserCount;
        var items = model.Items.Count;
        var maxK = Math.Min(cutoffs[^1], items);
        var stride = cutoffs.Length * RankingMetrics.PerUserCount;
        var perUser = new double[(long)users * stride];
        var block = BlockSize(model);
        var scoreLength = model.Scorer is null ? 0 : block * items;
        var threads = maxThreads ?? Environment.ProcessorCount;
        // Whole blocks per chunk, and enough of them to keep every thread busy.
        var chunk = Math.Max(ChunkSize, block * threads * 4) / block * block;
        var pool = new ConcurrentBag<Workspace>();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxThreads ?? -1 };
        progress?.Invoke(0, users);
        for (var start = 0; start < users; start += chunk)
        {
            var end = Math.Min(users, start + chunk);
            var blocks = (end - start + block - 1) / block;
            Parallel.For(0, blocks, parallel,
                () => pool.TryTake(out var workspace) ? workspace : new Workspace(block, maxK, scoreLength, items),
                (b, _, workspace) =>
                {
                    var first = start + b * block;
                    var count = Math.Min(block, end - first);
                    model.TopUnseenItems(heldOut.Users.AsSpan(first, count), maxK, workspace.Top, workspace.Counts, workspace.Scores);
                    for (var i = 0; i < count; i++)
                    {
                        var row = first + i;
                        var ranking = workspace.Top.AsSpan(i * maxK, workspace.Counts[i]);
                        RankingMetrics.ForUser(ranking, heldOut.ItemsOf(row), heldOut.Counts[row], cutoffs, perUser.AsSpan(row * stride, stride));
                        var positions = workspace.FirstPosition;
                        for (var position = 0; position < ranking.Length; position++)
                        {
                            if (position < positions[ranking[position]]) positions[ranking[position]] = position;
                        }
                    }
                    return workspace;
                },
                pool.Add);
            progress?.Invoke(end, users);
        }

        // Sums in user order, whatever thread computed each user.
        var means = new double[cutoffs.Length, RankingMetrics.PerUserCount];
        var errors = new double[cutoffs.Length, RankingMetrics.PerUserCount];
        for (var c = 0; c < cutoffs.Length; c++)
        {
            for (var m = 0; m < RankingMetrics.PerUserCount; m++)
            {
                var sum = 0.0;
                var offset = c * RankingMetrics.PerUserCount + m;
                for (var row = 0; row < users; row++) sum += perUser[(long)row * stride + offset];
                var mean = sum / users;
                var squares = 0.0;
                for (var row = 0; row < users; row++)
                {
                    var deviation = perUser[(long)row * stride + offset] - mean;
                    squares += deviation * deviation;
                }
                means[c, m] = mean;
                errors[c, m] = users < 2 ? 0 : Math.Sqrt(squares / (users - 1) / users);
            }
        }
        var firstPosition = NewPositions(items);
        foreach (var workspace in pool)
        {
            for (var i = 0; i < items; i++) firstPosition[i] = Math.Min(firstPosition[i], workspace.FirstPosition[i]);
        }
        var coverage = new double[cutoffs.Length];
        for (var c = 0; c < cutoffs.Length; c++)
        {
            var covered = 0;
            foreach (var position in firstPosition) if (position < cutoffs[c]) covered++;
            coverage[c] = items == 0 ? 0 : (double)covered / items;
        }
        return new MetricsSummary { Cutoffs = cutoffs, Means = means, StandardErrors = errors, Coverage = coverage, Users = users };
    }
}
