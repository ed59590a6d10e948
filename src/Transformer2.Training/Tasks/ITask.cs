using Transformer2.Models.Chat;

namespace Transformer2.Training.Tasks;

/// <summary>
/// A task the trainer can learn from: items, the messages that ask each question, generation settings and a scorer.
/// Built-in tasks reproduce the authors' prompts and answer extraction (t2-reference §5); <see cref="DelegateTask"/> wraps users' own.
/// </summary>
public interface ITask
{
    /// <summary>A short name for logs and file names (for example <c>gsm8k</c>).</summary>
    string Name { get; }

    /// <summary>How answers are generated for this task.</summary>
    GenerationSettings Generation { get; }

    /// <summary>The items of <paramref name="split"/> (empty when the task has no such split).</summary>
    IReadOnlyList<TaskItem> GetItems(TaskSplit split);

    /// <summary>
    /// The conversation that asks <paramref name="item"/>: usually a system and a user message. When the last message is an
    /// assistant message it is a prefill: the answer continues it (render with <see cref="TaskPrompt.Render"/>).
    /// </summary>
    IReadOnlyList<ChatMessage> BuildMessages(TaskItem item);

    /// <summary>Scores one completion (the generated text after the prompt, and after any prefill).</summary>
    TaskScore Score(TaskItem item, string completion);

    /// <summary>Scores one completion asynchronously; code tasks run Python here, others complete at once.</summary>
    ValueTask<TaskScore> ScoreAsync(TaskItem item, string completion, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(Score(item, completion));
}
