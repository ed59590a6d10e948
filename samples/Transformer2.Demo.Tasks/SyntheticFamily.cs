using Transformer2.Training.Tasks;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// One synthetic problem: the question, a worked answer that is right, a careless answer that is wrong, and the exact
/// expected value. Pre-training text carries both kinds of answer (see <see cref="AnswerStyle"/>); the reference answer a
/// task trains on is the worked one.
/// </summary>
/// <param name="Prompt">The user message.</param>
/// <param name="Solution">The worked reference answer, e.g. "7+5=12. The answer is 12.".</param>
/// <param name="Careless">A plausible wrong answer in the same format without the working, e.g. "The answer is 13.".</param>
/// <param name="Expected">The value the scorer compares against, e.g. "12".</param>
/// <param name="Favoured">
/// One flag per answer line (most answers have one): whether the prompt asks for that part with the phrasing after which
/// pre-training text mostly works the answer out.
/// </param>
public sealed record SyntheticProblem(string Prompt, string Solution, string Careless, string Expected, IReadOnlyList<bool> Favoured);

/// <summary>
/// A family of synthetic problems generated deterministically from a seed, with an exact scorer. Each family carries the
/// classification label (math, code or reasoning) that prompt dispatch should give its prompts.
/// </summary>
public abstract class SyntheticFamily
{
    /// <summary>Short name, used as task name and expert name (e.g. "arith").</summary>
    public abstract string Name { get; }

    /// <summary>The dispatch category of this family's prompts: "math", "code" or "reasoning".</summary>
    public abstract string Label { get; }

    /// <summary>Draws one problem; its phrasing is the favoured one with probability <see cref="AnswerStyle.FavouredShare"/>.</summary>
    public abstract SyntheticProblem Draw(Random random);

    /// <summary>The answer the completion commits to, or null if it gives none.</summary>
    public abstract string? Extract(string completion);

    /// <summary>Exact scoring: the extracted answer equals the expected value.</summary>
    public TaskScore Score(TaskItem item, string completion)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(completion);
        var answer = Extract(completion);
        bool correct = answer is not null && item.Metadata.TryGetValue(FamilyTask.ExpectedKey, out var expected) && answer == expected;
        return TaskScore.FromCorrect(correct, answer);
    }

    /// <summary>
    /// <paramref name="count"/> distinct problems from <paramref name="seed"/>, none of whose prompts is in <paramref name="exclude"/>.
    /// </summary>
    public IReadOnlyList<TaskItem> Generate(int seed, int count, string split, ISet<string>? exclude = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var random = new Random(seed);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var items = new List<TaskItem>(count);
        int attempts = 0;
        while (items.Count < count)
        {
            if (++attempts > count * 50 + 1000)
                throw new InvalidOperationException($"Family '{Name}' cannot produce {count} distinct '{split}' problems; ask for fewer.");
            var problem = Draw(random);
            if ((exclude?.Contains(problem.Prompt) ?? false) || !seen.Add(problem.Prompt)) continue;
            items.Add(new TaskItem($"{Name}/{split}/{items.Count}", problem.Prompt)
            {
                References = [problem.Solution],
                Metadata = new Dictionary<string, string>
                {
                    [FamilyTask.ExpectedKey] = problem.Expected,
                    [FamilyTask.FamilyKey] = Name,
                    [AnswerStyle.CarelessKey] = problem.Careless,
                    [AnswerStyle.FavouredKey] = string.Join(",", problem.Favoured.Select(f => f ? "1" : "0")),
                },
            });
        }
        return items;
    }
}
