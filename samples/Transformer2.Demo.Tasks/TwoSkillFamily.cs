using Transformer2.Training.Tasks;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// An unseen family that needs two training families' skills at once: an arithmetic problem and a two-option comparison
/// in one prompt, answered line by line; right only when both lines are. Each part keeps its own phrasing, so the base
/// model works out both parts only when both use the favoured phrasing, and one expert alone fixes only its own part:
/// this is what a CEM mixture of the arith and choice experts has to find.
/// </summary>
public sealed class TwoSkillFamily : SyntheticFamily
{
    readonly ArithmeticFamily _arithmetic = new(1);
    readonly ChoiceFamily _choice = new(false);

    /// <inheritdoc />
    public override string Name => "arith-choice";

    /// <inheritdoc />
    public override string Label => "math";

    /// <inheritdoc />
    public override SyntheticProblem Draw(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var first = _arithmetic.Draw(random);
        var second = _choice.Draw(random);
        // One answer line per part; pre-training draws each line's style from its own part's phrasing (AnswerStyle).
        return new SyntheticProblem($"{first.Prompt}\n{second.Prompt}", $"{first.Solution}\n{second.Solution}", $"{first.Careless}\n{second.Careless}",
            $"{first.Expected}|{second.Expected}", [.. first.Favoured, .. second.Favoured]);
    }

    /// <summary>
    /// Whether each part of <paramref name="completion"/> is right as the family's scorer reads it: its first "The answer is N"
    /// (the arithmetic line) and its first "Answer: X" (the choice line).
    /// </summary>
    public (bool Arithmetic, bool Choice) LinesRight(TaskItem item, string completion)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(completion);
        var expected = item.Metadata.TryGetValue(FamilyTask.ExpectedKey, out var e) ? e.Split('|') : ["", ""];
        return (_arithmetic.Extract(completion) == expected[0], _choice.Extract(completion) == expected[^1]);
    }

    /// <inheritdoc />
    public override string? Extract(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        string? number = _arithmetic.Extract(completion), letter = _choice.Extract(completion);
        return number is null || letter is null ? null : $"{number}|{letter}";
    }
}
