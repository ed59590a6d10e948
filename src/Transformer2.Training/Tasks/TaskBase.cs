using Transformer2.Models.Chat;

namespace Transformer2.Training.Tasks;

/// <summary>Shared plumbing of tasks: name, splits, generation settings and the reward scheme.</summary>
public abstract class TaskBase : ITask
{
    private readonly TaskSplits _splits;

    /// <summary>Creates a task over <paramref name="splits"/>.</summary>
    /// <param name="name">The task name.</param>
    /// <param name="splits">The items of each split.</param>
    /// <param name="generation">Generation settings.</param>
    /// <param name="rewards">Rewards for correct and wrong answers (±1 when <see langword="null"/>).</param>
    protected TaskBase(string name, TaskSplits splits, GenerationSettings generation, RewardScheme? rewards)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(splits);
        ArgumentNullException.ThrowIfNull(generation);
        Name = name;
        _splits = splits;
        Generation = generation;
        Rewards = rewards ?? RewardScheme.PlusMinusOne;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public GenerationSettings Generation { get; }

    /// <summary>The rewards this task gives.</summary>
    public RewardScheme Rewards { get; }

    /// <summary>All splits at once.</summary>
    public TaskSplits Splits => _splits;

    /// <inheritdoc />
    public IReadOnlyList<TaskItem> GetItems(TaskSplit split) => _splits.Get(split);

    /// <inheritdoc />
    public abstract IReadOnlyList<ChatMessage> BuildMessages(TaskItem item);

    /// <inheritdoc />
    public abstract TaskScore Score(TaskItem item, string completion);

    /// <inheritdoc />
    public virtual ValueTask<TaskScore> ScoreAsync(TaskItem item, string completion, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Score(item, completion));
    }

    /// <summary>A score with this task's rewards.</summary>
    protected TaskScore Verdict(bool correct, string? extractedAnswer) => TaskScore.FromCorrect(correct, extractedAnswer, Rewards);
}
