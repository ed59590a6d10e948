using System.Text;
using Transformer2.Models.Chat;

namespace Transformer2.Training.Tasks;

/// <summary>
/// ARC as the authors run it (t2-reference §5.3): ARC-Easy train split even/odd into train/valid, ARC-Easy test, and
/// ARC-Challenge test as transfer. The Llama template the authors use ends its generation prompt with "Let's think step by
/// step" (<c>LLAMA3_COT</c>); that belongs to the chat template, not to these messages.
/// </summary>
public sealed class ArcTask : TaskBase
{
    /// <summary>The authors' system message.</summary>
    public const string SystemPrompt = "The following are multiple choice questions (with answers). Think step by step and then finish your answer with \"the answer is (X)\" where X is the correct letter choice.";

    private static readonly string[] Letters = ["A", "B", "C", "D", "E"];

    /// <summary>Creates the task.</summary>
    /// <param name="easyTrainItems">ARC-Easy train items (split even/odd into train/valid).</param>
    /// <param name="easyTestItems">ARC-Easy test items.</param>
    /// <param name="challengeTestItems">ARC-Challenge test items (transfer), or <see langword="null"/>.</param>
    /// <param name="rewards">Rewards (±1 when <see langword="null"/>).</param>
    public ArcTask(IReadOnlyList<TaskItem> easyTrainItems, IReadOnlyList<TaskItem> easyTestItems, IReadOnlyList<TaskItem>? challengeTestItems = null, RewardScheme? rewards = null)
        : base("ai2_arc", BuildSplits(easyTrainItems, easyTestItems, challengeTestItems), GenerationSettings.Short, rewards)
    {
    }

    /// <summary>Loads the files (JSON lines or Parquet) with <see cref="TaskDatasets.LoadArc"/>.</summary>
    public static ArcTask FromFiles(string easyTrainPath, string easyTestPath, string? challengeTestPath = null, RewardScheme? rewards = null)
        => new(TaskDatasets.LoadArc(easyTrainPath), TaskDatasets.LoadArc(easyTestPath), challengeTestPath is null ? null : TaskDatasets.LoadArc(challengeTestPath), rewards);

    /// <summary>
    /// The authors' user text: <c>question + "\nOptions:\n"</c> then one <c>"{L}. {option}\n"</c> per option, with L = A, B, C, D, E
    /// by position (the dataset's own labels are ignored).
    /// </summary>
    public static string FormatQuestion(string question, IReadOnlyList<string> options)
    {
        ArgumentNullException.ThrowIfNull(question);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Count > Letters.Length)
        {
            throw new ArgumentException($"ARC question has {options.Count} options; the authors' format has letters for at most {Letters.Length}.", nameof(options));
        }

        var sb = new StringBuilder(question).Append('\n').Append("Options:\n");
        for (var i = 0; i < options.Count; i++)
        {
            sb.Append(Letters[i]).Append(". ").Append(options[i]).Append('\n');
        }

        return sb.ToString();
    }

    /// <inheritdoc />
    public override IReadOnlyList<ChatMessage> BuildMessages(TaskItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return [ChatMessage.System(SystemPrompt), ChatMessage.User(item.Prompt)];
    }

    /// <inheritdoc />
    public override TaskScore Score(TaskItem item, string completion)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(completion);
        var prediction = ArcAnswer.Extract(completion);
        var optionCount = item.Choices?.Count ?? 0;
        var gold = item.Reference ?? string.Empty;
        bool correct;
        if (string.IsNullOrEmpty(prediction) && (optionCount < 1 || optionCount > 5))
        {
            correct = false;
        }
        else
        {
            correct = ArcAnswer.IsCorrect(prediction, gold, optionCount);
        }

        return Verdict(correct, prediction);
    }

    private static TaskSplits BuildSplits(IReadOnlyList<TaskItem> easyTrainItems, IReadOnlyList<TaskItem> easyTestItems, IReadOnlyList<TaskItem>? challengeTestItems)
    {
        ArgumentNullException.ThrowIfNull(easyTrainItems);
        ArgumentNullException.ThrowIfNull(easyTestItems);
        var (train, valid) = TaskSplitRules.EvenOdd(easyTrainItems);
        return new TaskSplits(train, valid, easyTestItems, challengeTestItems ?? []);
    }
}
