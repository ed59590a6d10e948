using Transformer2.Models.Chat;

namespace Transformer2.Training.Tasks;

/// <summary>
/// The classification task that trains the dispatch expert (t2-reference §4.2): GSM8K test questions labelled <c>math</c>,
/// MBPP+ instructions <c>code</c>, ARC-Challenge test questions (with options) <c>reasoning</c>, the first 399 of each (the
/// authors' counter stops at 400 before adding). Item i of the concatenation tests when <c>i % 5 == 4</c>; the rest is split
/// even/odd into train/valid. Correct iff the first <c>\boxed{…}</c> equals the label exactly.
/// </summary>
public sealed class ClassificationTask : TaskBase
{
    /// <summary>Items taken per source: the authors' "400" stops at 399.</summary>
    public const int ItemsPerSource = 399;

    /// <summary>Creates the task from the items of the three sources (as the other tasks' loaders give them).</summary>
    /// <param name="gsm8kTestItems">GSM8K test items; their prompt is the question.</param>
    /// <param name="mbppItems">MBPP+ items; their prompt is the mapped instruction.</param>
    /// <param name="arcChallengeTestItems">ARC-Challenge test items; their prompt is question plus options.</param>
    /// <param name="rewards">Rewards (±1 when <see langword="null"/>).</param>
    public ClassificationTask(IReadOnlyList<TaskItem> gsm8kTestItems, IReadOnlyList<TaskItem> mbppItems, IReadOnlyList<TaskItem> arcChallengeTestItems, RewardScheme? rewards = null)
        : base("cls", BuildSplits(BuildItems(gsm8kTestItems, mbppItems, arcChallengeTestItems)), GenerationSettings.Long, rewards)
    {
    }

    /// <summary>The labelled items in the authors' order (math, code, reasoning; 399 each at most).</summary>
    public static IReadOnlyList<TaskItem> BuildItems(IReadOnlyList<TaskItem> gsm8kTestItems, IReadOnlyList<TaskItem> mbppItems, IReadOnlyList<TaskItem> arcChallengeTestItems)
    {
        ArgumentNullException.ThrowIfNull(gsm8kTestItems);
        ArgumentNullException.ThrowIfNull(mbppItems);
        ArgumentNullException.ThrowIfNull(arcChallengeTestItems);
        var items = new List<TaskItem>();
        foreach (var (source, label) in new[] { (gsm8kTestItems, ClassificationPrompt.Math), (mbppItems, ClassificationPrompt.Code), (arcChallengeTestItems, ClassificationPrompt.Reasoning) })
        {
            foreach (var item in source.Take(ItemsPerSource))
            {
                items.Add(new TaskItem($"{label}/{item.Id}", item.Prompt) { References = [label] });
            }
        }

        return items;
    }

    /// <inheritdoc />
    public override IReadOnlyList<ChatMessage> BuildMessages(TaskItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return [ChatMessage.System(ClassificationPrompt.SystemPrompt), ChatMessage.User(item.Prompt)];
    }

    /// <inheritdoc />
    public override TaskScore Score(TaskItem item, string completion)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(completion);
        var prediction = ClassificationPrompt.ExtractBoxed(completion);
        return Verdict(prediction is not null && prediction == item.Reference, prediction);
    }

    private static TaskSplits BuildSplits(IReadOnlyList<TaskItem> items)
    {
        var (trainPool, test) = TaskSplitRules.FourToOne(items);
        var (train, valid) = TaskSplitRules.EvenOdd(trainPool);
        return new TaskSplits(train, valid, test, []);
    }
}
