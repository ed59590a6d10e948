using Transformer2.Models.Chat;
using Transformer2.Training.Tasks;

namespace Transformer2.Demo.Tasks;

/// <summary>An <see cref="ITask"/> over a <see cref="SyntheticFamily"/>: disjoint train / valid / test splits drawn from one seed.</summary>
public sealed class FamilyTask : TaskBase
{
    /// <summary>Metadata key of the exact expected answer.</summary>
    public const string ExpectedKey = "expected";

    /// <summary>Metadata key of the family name.</summary>
    public const string FamilyKey = "family";

    /// <summary>Generation settings: answers are one or two short lines.</summary>
    public static GenerationSettings ShortAnswers { get; } = new(DemoPipeline.MaxAnswerTokens, 512, []);

    /// <summary>Builds the task; the splits never share a prompt.</summary>
    public FamilyTask(SyntheticFamily family, int seed, int train, int valid, int test)
        : base((family ?? throw new ArgumentNullException(nameof(family))).Name, BuildSplits(family, seed, train, valid, test), ShortAnswers, null)
    {
        Family = family;
    }

    /// <summary>The family the items come from.</summary>
    public SyntheticFamily Family { get; }

    /// <inheritdoc />
    public override IReadOnlyList<ChatMessage> BuildMessages(TaskItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return [ChatMessage.User(item.Prompt)];
    }

    /// <inheritdoc />
    public override TaskScore Score(TaskItem item, string completion) => Family.Score(item, completion);

    static TaskSplits BuildSplits(SyntheticFamily family, int seed, int train, int valid, int test)
    {
        // Test first, so that a larger training split never changes the held-out items.
        var testItems = family.Generate(seed * 7 + 3, test, "test");
        var used = testItems.Select(i => i.Prompt).ToHashSet(StringComparer.Ordinal);
        var validItems = family.Generate(seed * 7 + 2, valid, "valid", used);
        used.UnionWith(validItems.Select(i => i.Prompt));
        var trainItems = family.Generate(seed * 7 + 1, train, "train", used);
        return new TaskSplits(trainItems, validItems, testItems, []);
    }
}
