namespace SqlRec.Common;

/// <summary>Errors of rec_train: the training data, the kinds' needs, the training lease, memory and devices.</summary>
internal static partial class Errors
{
    /// <summary>
    /// Largest weight, and largest sum of weights per item, SqlRec takes: the largest float32
    /// (3.4028235E+38), the type weights and the popularity every model falls back on are kept in.
    /// </summary>
    public const double MaxWeight = float.MaxValue;

    /// <summary>
    /// Largest score a weighted graph filter may reach: half the largest float32, so that rounding
    /// while its float32 parts add up cannot carry a score past it.
    /// </summary>
    public const double MaxGraphFilterScore = float.MaxValue / 2.0;

    /// <summary>The weight column holds a value that cannot be a weight.</summary>
    public static SqlRecException SourceBadWeight(string function, long row, object? got) =>
        Fail(function, $"the 'source' query's weight column must be a number from 0 to {Number(MaxWeight)} (the largest 32-bit float), got {Describe(got)} in row {row}.");

    /// <summary>One item's weights add up to more than a float32 holds (the item's popularity would be infinite).</summary>
    public static SqlRecException SourceWeightSumTooLarge(string function, long row, object? item, double sum) =>
        Fail(function, $"the 'source' query's weights for item {Describe(item)} add up to {Number(sum)} by row {row}, more than a 32-bit float holds ({Number(MaxWeight)}); scale the weight column down.");

    /// <summary>A weighted graph filter's scores could pass what a float32 holds.</summary>
    /// <param name="function">The SQL function.</param>
    /// <param name="bound">The largest score the filter could reach (an upper bound).</param>
    /// <param name="user">The user whose row reaches it (the one with the largest summed weight).</param>
    /// <param name="userWeight">That user's summed weight.</param>
    /// <param name="unnormalized">True with 'normalization' 'none' (weights multiply three times).</param>
    public static SqlRecException GraphFilterScoresTooLarge(string function, double bound, object? user, double userWeight, bool unnormalized) =>
        Fail(function, $"with 'weighting' 'weight'{(unnormalized ? " and 'normalization' 'none' (which multiplies weights three times)" : "")} the graph filter's scores "
            + $"could reach {Number(bound)} (user {Describe(user)}, whose weights add up to {Number(userWeight)}), more than a 32-bit float holds with room for rounding ({Number(MaxGraphFilterScore)}); "
            + $"scale the 'source' query's weight column down{(unnormalized ? ", use 'normalization' 'symmetric'" : "")} or use 'weighting' 'binary'.");

    /// <summary>A live model's scores of one user's current rows passed what a float32 holds.</summary>
    public static SqlRecException LiveScoresTooLarge(string function, string model, object? user, double userWeight) =>
        Fail(function, $"model '{model}' scores user {Describe(user)}'s current rows beyond what a 32-bit float holds (their weights add up to {Number(userWeight)}); scale the 'source' query's weight column down.");

    /// <summary>The timestamp column holds a value that cannot be a time.</summary>
    public static SqlRecException SourceBadTimestamp(string function, long row, object? got) =>
        Fail(function, $"the 'source' query's timestamp column must be unix seconds or ISO-8601 text, got {Describe(got)} in row {row}.");

    /// <summary>Time decay asked for without a timestamp column.</summary>
    public static SqlRecException DecayNeedsTimestamp(string function) =>
        Fail(function, "option 'half_life_days' needs a timestamp: the 'source' query must return 4 columns (user, item, weight, timestamp).");

    /// <summary>The source holds too few users or items for the model kind.</summary>
    public static SqlRecException SourceTooSmall(string function, string kind, string what) =>
        Fail(function, $"model kind '{kind}' needs {what} in the 'source' data.");

    /// <summary>Another training of the same model is running.</summary>
    public static SqlRecException TrainingInProgress(string function, string name, string since) =>
        Fail(function, $"model '{name}' is already being trained (since {since}); wait for that training to finish.");

    /// <summary>Progress detail when a training takes over the lease of one that is gone.</summary>
    public static string LeaseTakenOver(string holder, bool expired) => expired
        ? $"took over the lease of {holder}, whose heartbeat stopped more than {LeaseTimeoutText} ago"
        : $"took over the lease of {holder}, which is no longer running";

    /// <summary>Names the holder of a lease for <see cref="LeaseTakenOver"/>.</summary>
    public static string LeaseHolderDescription(string? host, int pid, bool thisProcess) =>
        host is null ? "an earlier training" : thisProcess ? "an earlier training of this process" : $"a training by process {pid} on host '{host}'";

    /// <summary>How long a lease of another host lives without a heartbeat, for messages.</summary>
    public const string LeaseTimeoutText = "2 minutes";

    /// <summary>A training failed for an unexpected reason; the previous version keeps serving.</summary>
    public static SqlRecException TrainingFailed(string function, string name, string reason) =>
        Fail(function, $"training model '{name}' failed: {reason}; the previous version, if any, keeps serving.");

    /// <summary>A model would need more memory than the process can use.</summary>
    public static SqlRecException ModelTooLarge(string function, string kind, string what, long neededBytes, long availableBytes, string fix) =>
        Fail(function, $"model kind '{kind}' with {what} needs about {neededBytes / (1024.0 * 1024 * 1024):F1} GiB, more than the {availableBytes / (1024.0 * 1024 * 1024):F1} GiB this process can use; {fix}.");

    /// <summary>A live model's source query, run for one user's current rows, failed.</summary>
    public static SqlRecException LiveSourceFailed(string function, string model, string sqliteMessage) =>
        Fail(function, $"model '{model}' reads each user's current rows with its training source, which failed: {sqliteMessage}; restore the source tables, or retrain with 'live' false.");

    /// <summary>The caller interrupted the statement while a live model read the user's current rows through its source.</summary>
    public static SqlRecException LiveReadInterrupted(string function, string model) =>
        Fail(function, $"interrupted while model '{model}' read the user's current rows; nothing was returned.");

    /// <summary>A training stopped because the caller interrupted it.</summary>
    public static SqlRecException TrainingInterrupted(string function, string name) =>
        Fail(function, $"training model '{name}' was interrupted; nothing was changed and the previous version, if any, keeps serving.");

    /// <summary>A training device was asked for that this machine does not have (or that failed to start); says why.</summary>
    public static SqlRecException DeviceUnavailable(string function, string device, string reason) =>
        Fail(function, $"device '{device}' is not available: {reason}; use 'auto' (a GPU when there is one, else the CPU) or 'cpu'.");

    /// <summary>Some users interacted with every item, so no negative item can be sampled for them.</summary>
    public static SqlRecException NoNegativeItems(string function, string kind, int users, int items) =>
        Fail(function, $"model kind '{kind}' samples items each user has not interacted with, but {users} user(s) interacted with all {items} items in the 'source' data; add items or leave such users out of the source.");

    /// <summary>Some users interacted with every item a content model samples negatives from.</summary>
    public static SqlRecException NoNegativeInteractedItems(string function, string kind, int users, int items) =>
        Fail(function, $"model kind '{kind}' samples negatives among the items that have interactions, but {users} user(s) interacted with all {items} of them in the 'source' data; add interactions with other items or leave such users out of the source.");
}
