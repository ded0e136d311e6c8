namespace SqlRec.Common;

/// <summary>Errors of rec_evaluate.</summary>
internal static partial class Errors
{
    /// <summary>Both a held-out 'test' query and a 'split' were given to an evaluation.</summary>
    public static SqlRecException EvaluationModeBoth(string function) =>
        Fail(function, "options 'test' and 'split' exclude each other, got both; pass a 'test' query to evaluate the serving version, or a 'split' to retrain in memory and evaluate.");

    /// <summary>'save' was asked for with a split, whose in-memory model is never stored.</summary>
    public static SqlRecException SeedAndSeeds(string function) =>
        Fail(function, "options 'seed' and 'seeds' exclude each other, got both; give one seed, or a JSON array of seeds to average over.");

    /// <summary>'save' with a test query, the only mode that evaluates the stored version.</summary>
    public static SqlRecException SaveNeedsTest(string function) =>
        Fail(function, "option 'save' needs a 'test' query, got a 'split': a split evaluates a model trained in memory, which is not the stored version; drop 'save' or evaluate with a 'test' query.");

    /// <summary>Every test pair belongs to a user the model does not know or is one of the user's training items.</summary>
    public static SqlRecException NothingToEvaluate(string function, string model, long skippedUsers, long droppedPairs) =>
        Fail(function, $"no test pair is left to evaluate model '{model}' (skipped_users: {skippedUsers}, dropped_pairs: {droppedPairs}): test users the model does not know are skipped and test pairs that are training items are dropped; check that the 'test' query returns the same ids, with the same types, as the model's 'source'.");

    /// <summary>A split held out nothing, because no user has two interactions.</summary>
    public static SqlRecException SplitEmpty(string function, string split, string model) =>
        Fail(function, $"split '{split}' leaves no test pairs: no user of model '{model}' has 2 or more distinct items in its 'source'; evaluate with a 'test' query instead.");

    /// <summary>A leave-last-out split asked for on a source without timestamps.</summary>
    public static SqlRecException SplitNeedsTimestamp(string function, string model, int columns) =>
        Fail(function, $"split 'last' needs a timestamp: the 'source' query of model '{model}' must return 4 columns (user, item, weight, timestamp), got {columns}; retrain it with a timestamp column or use split 'random'.");
}
