using Transformer2.Models.Chat;

namespace Transformer2.Training.Tasks;

/// <summary>A user's own task: a prompt builder and a reward function over items the user supplies.</summary>
public sealed class DelegateTask : TaskBase
{
    private readonly Func<TaskItem, IReadOnlyList<ChatMessage>> _buildMessages;
    private readonly Func<TaskItem, string, TaskScore> _score;

    /// <summary>Creates a task from delegates.</summary>
    /// <param name="name">The task name.</param>
    /// <param name="splits">The items of each split.</param>
    /// <param name="buildMessages">Builds the conversation for an item (a trailing assistant message is a prefill).</param>
    /// <param name="score">Scores a completion.</param>
    /// <param name="generation">Generation settings (<see cref="GenerationSettings.Short"/> when <see langword="null"/>).</param>
    public DelegateTask(
        string name,
        TaskSplits splits,
        Func<TaskItem, IReadOnlyList<ChatMessage>> buildMessages,
        Func<TaskItem, string, TaskScore> score,
        GenerationSettings? generation = null)
        : base(name, splits, generation ?? GenerationSettings.Short, null)
    {
        ArgumentNullException.ThrowIfNull(buildMessages);
        ArgumentNullException.ThrowIfNull(score);
        _buildMessages = buildMessages;
        _score = score;
    }

    /// <summary>
    /// A task whose conversation is an optional system prompt plus the item's <see cref="TaskItem.Prompt"/>, and whose reward is
    /// <paramref name="reward"/>; a completion counts as correct when its reward is positive.
    /// </summary>
    /// <param name="name">The task name.</param>
    /// <param name="splits">The items of each split.</param>
    /// <param name="systemPrompt">The system message, or <see langword="null"/> for none.</param>
    /// <param name="reward">Reward of a completion for an item.</param>
    /// <param name="generation">Generation settings (<see cref="GenerationSettings.Short"/> when <see langword="null"/>).</param>
    public static DelegateTask WithReward(
        string name,
        TaskSplits splits,
        string? systemPrompt,
        Func<TaskItem, string, double> reward,
        GenerationSettings? generation = null)
    {
        ArgumentNullException.ThrowIfNull(reward);
        return new DelegateTask(
            name,
            splits,
            item => systemPrompt is null
                ? [ChatMessage.User(item.Prompt)]
                : [ChatMessage.System(systemPrompt), ChatMessage.User(item.Prompt)],
            (item, completion) =>
            {
                var r = reward(item, completion);
                if (double.IsNaN(r))
                {
                    throw new InvalidOperationException($"Task '{name}': the reward function returned NaN for item '{item.Id}'.");
                }

                return new TaskScore(r > 0, r, null);
            },
            generation);
    }

    /// <inheritdoc />
    public override IReadOnlyList<ChatMessage> BuildMessages(TaskItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return _buildMessages(item);
    }

    /// <inheritdoc />
    public override TaskScore Score(TaskItem item, string completion)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(completion);
        return _score(item, completion);
    }
}
