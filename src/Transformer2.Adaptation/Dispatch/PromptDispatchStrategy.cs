using Transformer2.Adaptation.Pipeline;
using Transformer2.Models.Chat;

namespace Transformer2.Adaptation.Dispatch;

/// <summary>
/// Prompt-based dispatch (t2-reference §4.1): the model classifies the question under a classification system prompt,
/// and the label in <c>\boxed{}</c> picks the expert. With a classification expert, the first pass runs with that
/// expert applied (§4.2). An unknown or missing label runs the base model — the authors' code silently reuses the
/// last loaded expert there, which we do not copy.
/// </summary>
public sealed class PromptDispatchStrategy : IDispatchStrategy
{
    readonly IReadOnlyList<ExpertCategory> _categories;
    readonly string? _classificationExpert;
    readonly int _maxTokens;

    /// <summary>Creates the strategy.</summary>
    /// <param name="categories">The categories and their experts (at least one; labels unique, not 'other').</param>
    /// <param name="classificationExpert">An expert trained to classify, applied during the first pass; null uses the base model.</param>
    /// <param name="maxTokens">Tokens the first pass may generate.</param>
    public PromptDispatchStrategy(IReadOnlyList<ExpertCategory> categories, string? classificationExpert = null, int maxTokens = 128)
    {
        ArgumentNullException.ThrowIfNull(categories);
        if (categories.Count == 0) throw new ArgumentException("Prompt dispatch needs at least one category.", nameof(categories));
        var duplicate = categories.GroupBy(c => c.Label, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Category label '{duplicate.Key}' appears twice.", nameof(categories));
        if (categories.Any(c => string.Equals(c.Label, ClassificationPrompt.Other, StringComparison.OrdinalIgnoreCase)))
            throw new ArgumentException("'other' is reserved: it means 'use the base model'.", nameof(categories));
        if (categories.Any(c => string.IsNullOrWhiteSpace(c.Label) || c.Label.Contains('}')))
            throw new ArgumentException("Category labels must be non-empty and contain no '}'.", nameof(categories));
        if (maxTokens < 1) throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "The first pass needs at least one token.");
        _categories = categories.ToList();
        _classificationExpert = classificationExpert;
        _maxTokens = maxTokens;
    }

    /// <inheritdoc />
    public string Name => _classificationExpert is null ? "prompt" : "classification-expert";

    /// <summary>The categories.</summary>
    public IReadOnlyList<ExpertCategory> Categories => _categories;

    /// <summary>
    /// Whether the first pass shows the question's images to the model (default true; see
    /// <see cref="ClassificationPromptBuilder.Messages"/>). False classifies the question's text alone, as the authors' pipeline.
    /// </summary>
    public bool ClassifyWithImages { get; init; } = true;

    /// <inheritdoc />
    public void Validate(DispatchContext context)
    {
        foreach (var c in _categories)
        {
            if (!context.Experts.Contains(c.Expert))
                throw new InvalidOperationException($"Category '{c.Label}' maps to expert '{c.Expert}', which is not registered (registered: {string.Join(", ", context.Experts.Names.Order())}).");
        }
        if (_classificationExpert is not null && !context.Experts.Contains(_classificationExpert))
            throw new InvalidOperationException($"The classification expert '{_classificationExpert}' is not registered.");
    }

    /// <inheritdoc />
    public async ValueTask<DispatchDecision> DecideAsync(DispatchContext context, IReadOnlyList<ChatMessage> messages, AnswerOptions options, CancellationToken cancellationToken)
    {
        var firstPassPlan = _classificationExpert is null ? AdaptationPlan.Base : AdaptationPlan.Single(_classificationExpert);
        var outputs = await context.GenerateAsync(firstPassPlan, [ClassificationPromptBuilder.Messages(_categories, messages, ClassifyWithImages)], _maxTokens, cancellationToken: cancellationToken).ConfigureAwait(false);
        string text = outputs[0].Text;
        var category = ClassificationPromptBuilder.Parse(text, _categories);
        var decision = category is null
            ? new DispatchDecision(Name, ClassificationPrompt.Other, AdaptationPlan.Base, text)
            : new DispatchDecision(Name, category.Label, AdaptationPlan.Single(category.Expert), text);
        return decision with { FirstPassPromptTokens = outputs[0].PromptTokens };
    }
}
