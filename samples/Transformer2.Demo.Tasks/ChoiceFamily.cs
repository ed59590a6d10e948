using System.Globalization;
using System.Text;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// Multiple-choice comparisons: two options, pick the larger (mirrors ARC-Easy, training family), or four options, pick
/// the largest or the smallest (mirrors ARC-Challenge, unseen). Worked answer: "Check larger: 71. Answer: B" (four
/// options: "Check smallest: 11. Answer: D"); careless answer: a wrong letter, "Answer: A".
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
        string goal = Hard && random.Next(2) == 0 ? "smallest" : Hard ? "largest" : "larger";
        int best = goal == "smallest" ? values.IndexOf(values.Min()) : values.IndexOf(values.Max());
        bool favoured = random.NextDouble() < AnswerStyle.FavouredShare;
        var text = new StringBuilder(favoured ? $"Which number is the {goal}?" : $"Pick the {goal} number.");
        for (int i = 0; i < count; i++) text.Append('\n').Append(Letter(i)).Append(") ").Append(values[i]);
        int wrong = (best + 1 + random.Next(count - 1)) % count;
        // Every worked answer opens with the same word whatever the goal, so the choice of working it out is one token, the
        // same after two options and after four: what the choice expert learns to prefer there carries over to choice2
        // ("Larger:" vs "Largest:"/"Smallest:" were different first tokens, and it did not). It does not start with "The":
        // arithmetic's careless answer does ("The answer is 13."), and inside the two-skill family a choice expert that
        // pushed answers towards "The" made the arithmetic line careless. Value first: the letter first ("Check largest: C) 93")
        // and the value then the letter ("Check (largest) 93 is C.") were piloted and did not make four-option answers more
        // reliable (docs/results.md, "How we got here").
        string working = $"Check {goal}: {values[best].ToString(CultureInfo.InvariantCulture)}.";
        return new SyntheticProblem(text.ToString(), $"{working} Answer: {Letter(best)}", $"Answer: {Letter(wrong)}", Letter(best).ToString(), [favoured]);
    }

    static char Letter(int index) => (char)('A' + index);

    /// <inheritdoc />
    public override string? Extract(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var match = AnswerPatterns.Choice().Match(completion);
        return match.Success ? match.Groups[1].Value : null;
    }
}
