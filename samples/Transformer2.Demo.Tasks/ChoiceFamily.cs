using System.Text;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// Multiple-choice comparisons answered with "Answer: X": two options, pick the larger (mirrors ARC-Easy, training family),
/// or four options, pick the largest or the smallest (mirrors ARC-Challenge, unseen).
/// </summary>
public sealed class ChoiceFamily(bool hard) : SyntheticFamily
{
    /// <summary>Four options and a smallest/largest question instead of two options and "larger".</summary>
    public bool Hard { get; } = hard;

    /// <inheritdoc />
    public override string Name => Hard ? "choice2" : "choice";

    /// <inheritdoc />
    public override string Label => "reasoning";

    /// <inheritdoc />
    public override SyntheticProblem Draw(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        int count = Hard ? 4 : 2;
        var values = new List<int>();
        while (values.Count < count)
        {
            int v = random.Next(10, 100);
            if (!values.Contains(v)) values.Add(v);
        }
        bool smallest = Hard && random.Next(2) == 0;
        string question = Hard ? (smallest ? "Which number is the smallest?" : "Which number is the largest?") : "Which number is larger?";
        int best = smallest ? values.IndexOf(values.Min()) : values.IndexOf(values.Max());
        var text = new StringBuilder(question);
        for (int i = 0; i < count; i++) text.Append('\n').Append((char)('A' + i)).Append(") ").Append(values[i]);
        string letter = ((char)('A' + best)).ToString();
        return new SyntheticProblem(text.ToString(), $"Answer: {letter}", letter);
    }

    /// <inheritdoc />
    public override string? Extract(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var match = AnswerPatterns.Choice().Match(completion);
        return match.Success ? match.Groups[1].Value : null;
    }
}
