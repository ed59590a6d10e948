using System.Text.RegularExpressions;

namespace Transformer2.Training.Tasks;

/// <summary>
/// The authors' ARC answer reading (fishfarm <c>ai2_arc.py</c>): three regexes in turn, then a seeded guess when none matches.
/// </summary>
public static partial class ArcAnswer
{
    private static readonly string[] GuessLetters = ["A", "B", "C", "D", "E"];

    [GeneratedRegex(@"answer is \(?([A-J])\)?")]
    private static partial Regex AnswerIs();

    [GeneratedRegex(@".*[aA]nswer:\s*([A-J])")]
    private static partial Regex AnswerColon();

    [GeneratedRegex(@"\b[A-J]\b(?!.*\b[A-J]\b)", RegexOptions.Singleline)]
    private static partial Regex LastStandaloneLetter();

    /// <summary>
    /// The letter the completion gives: <c>answer is \(?([A-J])\)?</c>, else <c>.*[aA]nswer:\s*([A-J])</c>, else the last
    /// standalone letter A–J; <see langword="null"/> when none matches.
    /// </summary>
    public static string? Extract(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var m = AnswerIs().Match(completion);
        if (m.Success)
        {
            return m.Groups[1].Value;
        }

        m = AnswerColon().Match(completion);
        if (m.Success)
        {
            return m.Groups[1].Value;
        }

        m = LastStandaloneLetter().Match(completion);
        return m.Success ? m.Value : null;
    }

    /// <summary>
    /// The authors' fallback when nothing was extracted: <c>random.seed(42); x = random.randint(0, n − 1)</c> and the guess
    /// <c>"ABCDE"[x]</c>. It is deterministic: "A" for 4 options, "C" for 3.
    /// </summary>
    public static string FallbackGuess(int optionCount)
    {
        if (optionCount < 1 || optionCount > GuessLetters.Length)
        {
            // Python would raise (empty range, or IndexError past "E"); a clear exception names the bad count instead.
            throw new ArgumentOutOfRangeException(nameof(optionCount), optionCount, "The ARC fallback guess needs 1 to 5 options.");
        }

        var x = new PythonRandom(42).RandInt(0, optionCount - 1);
        return GuessLetters[x];
    }

    /// <summary>The authors' <c>is_correct</c>: an empty prediction falls back to <see cref="FallbackGuess"/>.</summary>
    public static bool IsCorrect(string? prediction, string answer, int optionCount)
    {
        ArgumentNullException.ThrowIfNull(answer);
        if (string.IsNullOrEmpty(prediction))
        {
            return FallbackGuess(optionCount) == answer;
        }

        return prediction == answer;
    }
}
