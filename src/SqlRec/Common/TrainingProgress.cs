namespace SqlRec;

/// <summary>One step of progress of a long operation.</summary>
/// <param name="Model">The model being trained.</param>
/// <param name="Stage">What is happening: "reading", "training", "saving".</param>
/// <param name="Done">Units done so far.</param>
/// <param name="Total">Units in all, when known.</param>
/// <param name="Detail">Free text such as the current loss.</param>
public sealed record TrainingProgress(string Model, string Stage, long Done, long? Total, string? Detail = null);
