namespace Transformer2.Demo.Tasks;

/// <summary>How many items each split holds; <see cref="Full"/> for the bundled model, <see cref="Smoke"/> for CI.</summary>
/// <param name="Train">Training items per training family.</param>
/// <param name="Valid">Validation items per family.</param>
/// <param name="Test">Held-out test items per family.</param>
/// <param name="UnseenInPretraining">Items of each unseen family mixed into pre-training (partial ability, like a base LLM's).</param>
/// <param name="ClassificationInPretraining">Classification-prompt examples mixed into pre-training.</param>
public sealed record DemoScale(int Train, int Valid, int Test, int UnseenInPretraining, int ClassificationInPretraining)
{
    /// <summary>The scale the bundled model was trained at.</summary>
    public static DemoScale Full { get; } = new(3000, 64, 100, 400, 450);

    /// <summary>A seconds-long version for the smoke test.</summary>
    public static DemoScale Smoke { get; } = new(24, 8, 8, 6, 12);
}
