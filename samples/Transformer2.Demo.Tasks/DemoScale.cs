namespace Transformer2.Demo.Tasks;

/// <summary>How many items each split holds; <see cref="Full"/> for the bundled model, <see cref="Smoke"/> for CI.</summary>
/// <param name="Train">Training items per training family.</param>
/// <param name="Valid">Validation items per family.</param>
/// <param name="Test">Held-out test items per family.</param>
/// <param name="UnseenInPretraining">Items of each unseen family mixed into pre-training, answered like the training families' (AnswerStyle):
/// the harder skills are in the base model, as MATH-like text is in an LLM's, but no expert is trained on them.</param>
/// <param name="ClassificationInPretraining">Classification-prompt examples mixed into pre-training (at most the classification
/// task's training split: 399 prompts per label, four fifths of them in the train pool, half of that train).</param>
/// <param name="FactDrill">Bare arithmetic facts ("What is 7+5?") mixed into pre-training, cycling through all of them.</param>
public sealed record DemoScale(int Train, int Valid, int Test, int UnseenInPretraining, int ClassificationInPretraining, int FactDrill)
{
    /// <summary>
    /// The scale the bundled model was trained at. 5,000 items per unseen family, not 2,000: with 2,000 the base model's
    /// worked answers on the harder families were too often wrong for an expert's re-weighting to help (docs/results.md,
    /// "More text of the harder skills").
    /// </summary>
    public static DemoScale Full { get; } = new(3000, 64, 300, 5000, 479, 2 * ArithmeticFamily.FactDrill().Count);

    /// <summary>A seconds-long version for the smoke test.</summary>
    public static DemoScale Smoke { get; } = new(24, 8, 8, 6, 12, 12);
}
