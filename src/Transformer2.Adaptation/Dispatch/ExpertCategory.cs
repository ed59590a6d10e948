namespace Transformer2.Adaptation.Dispatch;

/// <summary>A category the first pass can choose, and the expert that serves it.</summary>
/// <param name="Label">What the model writes inside <c>\boxed{}</c>, e.g. <c>math</c>.</param>
/// <param name="Expert">The registered expert used for this category.</param>
/// <param name="Description">How the classification prompt describes the category.</param>
public sealed record ExpertCategory(string Label, string Expert, string Description);
