namespace SqlRec.Common;

/// <summary>Process-wide parallelism settings (compute kernels, vector search, evaluation).</summary>
internal static class Parallelism
{
    /// <summary>Options for Parallel.For: all cores by default.</summary>
    public static ParallelOptions Options { get; } = new() { MaxDegreeOfParallelism = Environment.ProcessorCount };

    /// <summary>Splits [0, count) into about 4 chunks per core for load balance.</summary>
    public static int ChunkSize(int count) => Math.Max(1, (count + 4 * Environment.ProcessorCount - 1) / (4 * Environment.ProcessorCount));
}
