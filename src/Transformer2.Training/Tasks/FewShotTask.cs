using Transformer2.Models.Chat;

namespace Transformer2.Training.Tasks;

/// <summary>
/// The authors' few-shot wrapper (t2-reference §3.4, <c>tasks/base.py FewShotTask</c>): the items of one split of another task
/// are shuffled with Python's <c>random.seed(seed)</c>; the first <c>shots</c> train, the rest validate, and the whole split is
/// the test set (as the authors report it). Prompts, generation and scoring are the wrapped task's. The authors' configs:
/// MATH test, 10 shots, seed 27; ARC-Challenge (ARC transfer), 3/5/10/20 shots, seed 38; HumanEval (MBPP transfer), 10 shots,
/// seed 16.
/// </summary>
public sealed class FewShotTask : ITask
{
    private readonly ITask _inner;
    private readonly TaskSplits _splits;

    /// <summary>Wraps <paramref name="inner"/>'s <paramref name="split"/>.</summary>
    /// <param name="inner">The wrapped task.</param>
    /// <param name="split">The split whose items are used (the authors use Test or Transfer).</param>
    /// <param name="shots">How many items train.</param>
    /// <param name="seed">The Python shuffle seed.</param>
    /// <exception cref="ArgumentException">The split has no items, or <paramref name="shots"/> is not in 1..count.</exception>
    public FewShotTask(ITask inner, TaskSplit split, int shots, int seed)
    {
        ArgumentNullException.ThrowIfNull(inner);
        var items = inner.GetItems(split);
        if (items.Count == 0)
        {
            throw new ArgumentException($"Task '{inner.Name}' has no {split} items to draw shots from.", nameof(split));
        }

        if (shots < 1 || shots > items.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(shots), shots, $"Shots must be between 1 and the {items.Count} items of {inner.Name}/{split}.");
        }

        _inner = inner;
        var (train, valid) = TaskSplitRules.PythonShuffle(items, seed, shots);
        _splits = new TaskSplits(train, valid, items, []);
        Name = $"{inner.Name}_{shots}shots";
        Shots = shots;
        Seed = seed;
        SourceSplit = split;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>How many items train.</summary>
    public int Shots { get; }

    /// <summary>The shuffle seed.</summary>
    public int Seed { get; }

    /// <summary>The wrapped split.</summary>
    public TaskSplit SourceSplit { get; }

    /// <inheritdoc />
    public GenerationSettings Generation => _inner.Generation;

    /// <inheritdoc />
    public IReadOnlyList<TaskItem> GetItems(TaskSplit split) => _splits.Get(split);

    /// <inheritdoc />
    public IReadOnlyList<ChatMessage> BuildMessages(TaskItem item) => _inner.BuildMessages(item);

    /// <inheritdoc />
    public TaskScore Score(TaskItem item, string completion) => _inner.Score(item, completion);

    /// <inheritdoc />
    public ValueTask<TaskScore> ScoreAsync(TaskItem item, string completion, CancellationToken cancellationToken = default)
        => _inner.ScoreAsync(item, completion, cancellationToken);
}
