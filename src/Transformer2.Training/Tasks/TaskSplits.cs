namespace Transformer2.Training.Tasks;

/// <summary>The items of each split of a task; an absent split is an empty list.</summary>
/// <param name="Train">Training items.</param>
/// <param name="Valid">Validation items.</param>
/// <param name="Test">Test items.</param>
/// <param name="Transfer">Transfer items.</param>
public sealed record TaskSplits(IReadOnlyList<TaskItem> Train, IReadOnlyList<TaskItem> Valid, IReadOnlyList<TaskItem> Test, IReadOnlyList<TaskItem> Transfer)
{
    /// <summary>No items at all.</summary>
    public static TaskSplits Empty { get; } = new([], [], [], []);

    /// <summary>The items of <paramref name="split"/>.</summary>
    public IReadOnlyList<TaskItem> Get(TaskSplit split) => split switch
    {
        TaskSplit.Train => Train,
        TaskSplit.Valid => Valid,
        TaskSplit.Test => Test,
        TaskSplit.Transfer => Transfer,
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "Unknown split."),
    };
}
