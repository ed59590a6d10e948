using Transformer2.Models.Chat;

namespace Transformer2.Training.Tasks;

/// <summary>
/// GSM8K as the authors run it (t2-reference §5.1): train = even indices of the train file, valid = odd, test = the test file,
/// no transfer. Items' <see cref="TaskItem.Reference"/> is the dataset's <c>answer</c> field (its last number is the gold).
/// </summary>
public sealed class Gsm8kTask : TaskBase
{
    /// <summary>The authors' system message (sic: it ends with two newlines, which the Llama template trims).</summary>
    public const string SystemPrompt = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n";

    /// <summary>Creates the task from the train file's items and the test file's items.</summary>
    /// <param name="trainFileItems">Items of the train file (7473 in GSM8K); split even/odd into train/valid.</param>
    /// <param name="testItems">Items of the test file (1319).</param>
    /// <param name="rewards">Rewards (±1 when <see langword="null"/>).</param>
    public Gsm8kTask(IReadOnlyList<TaskItem> trainFileItems, IReadOnlyList<TaskItem> testItems, RewardScheme? rewards = null)
        : base("gsm8k", BuildSplits(trainFileItems, testItems), GenerationSettings.Short, rewards)
    {
    }

    /// <summary>Loads both files (JSON lines or Parquet) with <see cref="TaskDatasets.LoadGsm8k"/>.</summary>
    public static Gsm8kTask FromFiles(string trainPath, string testPath, RewardScheme? rewards = null)
        => new(TaskDatasets.LoadGsm8k(trainPath), TaskDatasets.LoadGsm8k(testPath), rewards);

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
        var gold = item.Reference is null ? null : Gsm8kAnswer.ExtractGold(item.Reference);
        var prediction = Gsm8kAnswer.ExtractLastNumber(completion);
        return Verdict(Gsm8kAnswer.IsCorrect(gold, prediction), Gsm8kAnswer.Format(prediction));
    }

    private static TaskSplits BuildSplits(IReadOnlyList<TaskItem> trainFileItems, IReadOnlyList<TaskItem> testItems)
    {
        ArgumentNullException.ThrowIfNull(trainFileItems);
        ArgumentNullException.ThrowIfNull(testItems);
        var (train, valid) = TaskSplitRules.EvenOdd(trainFileItems);
        return new TaskSplits(train, valid, testItems, []);
    }
}
