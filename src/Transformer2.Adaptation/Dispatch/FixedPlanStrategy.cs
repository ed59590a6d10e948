using Transformer2.Adaptation.Pipeline;
using Transformer2.Models.Chat;

namespace Transformer2.Adaptation.Dispatch;

/// <summary>No first pass: every request uses the same plan (the base model by default).</summary>
public sealed class FixedPlanStrategy(AdaptationPlan? plan = null) : IDispatchStrategy
{
    readonly AdaptationPlan _plan = plan ?? AdaptationPlan.Base;

    /// <inheritdoc />
    public string Name => "fixed";

    /// <inheritdoc />
    public void Validate(DispatchContext context)
    {
        foreach (var e in _plan.Experts)
            if (!context.Experts.Contains(e)) throw new InvalidOperationException($"The fixed plan uses expert '{e}', which is not registered.");
    }

    /// <inheritdoc />
    public ValueTask<DispatchDecision> DecideAsync(DispatchContext context, IReadOnlyList<ChatMessage> messages, AnswerOptions options, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new DispatchDecision(Name, null, _plan));
}
