namespace SqlRec.Common;

/// <summary>Errors of batch scoring (<c>rec_score</c>).</summary>
internal static partial class Errors
{
    /// <summary>The text every message about a shard spec uses for what a valid one is.</summary>
    public static readonly string ShardRule =
        $"'i/n': n shards (1 to {ShardSpec.MaxCount}) and a shard index i from 0 to n - 1, e.g. '0/4'";

    /// <summary>A shard spec that is not <c>i/n</c> with 0 &lt;= i &lt; n.</summary>
    public static SqlRecException ShardInvalid(string function, string got) =>
        Fail(function, $"option 'shard' must be {ShardRule}; got '{Shorten(got, 40)}'.");

    /// <summary>A batch scoring job stopped because the caller interrupted it.</summary>
    public static SqlRecException ScoringInterrupted(string function, long users) =>
        Fail(function, $"interrupted after {users} users.");
}
