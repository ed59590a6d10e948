using Transformer2.Models.Chat;

namespace Transformer2.Training.Tasks;

/// <summary>
/// MATH (Hendrycks competition math) as the authors run it (t2-reference §5.2): test split only (the authors assert training
/// off). Items' <see cref="TaskItem.Reference"/> is the boxed answer of the solution; scoring uses
/// <see cref="MathAnswer.Extract"/> and <see cref="MathEquivalence.IsEquivalent"/>.
/// </summary>
public sealed class MathTask : TaskBase
{
    /// <summary>The authors' system message (sic: no space after the comma).</summary>
    public const string SystemPrompt = "Solve the question below by reasoning step by step,and put the final answer within \\boxed{}.";

    /// <summary>Creates the task over MATH test items.</summary>
    /// <param name="testItems">The test items (5000 in MATH).</param>
    /// <param name="rewards">Rewards (±1 when <see langword="null"/>).</param>
    /// <param name="symbolicMode">How the sympy step is stood in for (the authors' environment by default).</param>
    public MathTask(IReadOnlyList<TaskItem> testItems, RewardScheme? rewards = null, MathSymbolicMode symbolicMode = MathSymbolicMode.AuthorsEnvironment)
        : base("math", new TaskSplits([], [], testItems ?? throw new ArgumentNullException(nameof(testItems)), []), GenerationSettings.Long, rewards)
    {
        SymbolicMode = symbolicMode;
    }

    /// <summary>How the sympy step of the equivalence check is stood in for.</summary>
    public MathSymbolicMode SymbolicMode { get; }

    /// <summary>Loads the test file (JSON lines or Parquet) with <see cref="TaskDatasets.LoadMath"/>.</summary>
    public static MathTask FromFile(string testPath, RewardScheme? rewards = null, MathSymbolicMode symbolicMode = MathSymbolicMode.AuthorsEnvironment)
        => new(TaskDatasets.LoadMath(testPath), rewards, symbolicMode);

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
        var prediction = MathAnswer.Extract(completion);
        return Verdict(MathEquivalence.IsEquivalent(item.Reference, prediction, SymbolicMode), prediction);
    }
}
