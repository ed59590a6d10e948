namespace Transformer2.Training.Tasks;

/// <summary>The verdict on one completion.</summary>
/// <param name="Correct">Whether the task counts the completion as correct.</param>
/// <param name="Reward">The REINFORCE reward (by default +1 when correct, −1 otherwise).</param>
/// <param name="ExtractedAnswer">What the scorer read out of the completion, or <see langword="null"/> when nothing was found.</param>
public sealed record TaskScore(bool Correct, double Reward, string? ExtractedAnswer)
{
    /// <summary>Extra detail for logs (for code tasks: how the run ended).</summary>
    public string? Detail { get; init; }

    /// <summary>A score whose reward follows <paramref name="rewards"/> (±1 when <see langword="null"/>).</summary>
    public static TaskScore FromCorrect(bool correct, string? extractedAnswer, RewardScheme? rewards = null)
    {
        var scheme = rewards ?? RewardScheme.PlusMinusOne;
        return new TaskScore(correct, correct ? scheme.Correct : scheme.Wrong, extractedAnswer);
    }
}
