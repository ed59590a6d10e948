namespace Transformer2.Training.Tasks;

/// <summary>The reward given for a correct and for a wrong completion.</summary>
/// <param name="Correct">Reward for a correct completion.</param>
/// <param name="Wrong">Reward for a wrong completion.</param>
public sealed record RewardScheme(double Correct, double Wrong)
{
    /// <summary>The authors' rewards: +1 correct, −1 wrong (every task's <c>get_rewards</c>).</summary>
    public static RewardScheme PlusMinusOne { get; } = new(1.0, -1.0);
}
