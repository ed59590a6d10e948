using Transformer2.Adaptation.Pipeline;
using Transformer2.Models.Chat;

namespace Transformer2.Adaptation.Dispatch;

/// <summary>The first pass: looks at a request and decides which experts the second pass uses.</summary>
public interface IDispatchStrategy
{
    /// <summary>A short name reported in decisions and telemetry.</summary>
    string Name { get; }

    /// <summary>Checks the strategy's configuration against the registered experts; throws a clear exception if it cannot work.</summary>
    void Validate(DispatchContext context);

    /// <summary>Decides the plan for <paramref name="messages"/>.</summary>
    ValueTask<DispatchDecision> DecideAsync(DispatchContext context, IReadOnlyList<ChatMessage> messages, AnswerOptions options, CancellationToken cancellationToken);
}
