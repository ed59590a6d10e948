using Microsoft.Extensions.AI;
using Transformer2.Adaptation.Pipeline;
using Keys = Transformer2.Adaptation.ChatClient.TransformerSquaredChatClient.DecisionKeys;

namespace Transformer2.Adaptation.ChatClient;

/// <summary>Typed access to what <see cref="TransformerSquaredChatClient"/> puts in the Microsoft.Extensions.AI property bags.</summary>
public static class TransformerSquaredChatExtensions
{
    /// <summary>The first pass's decision behind <paramref name="response"/>, or null when another client produced it.</summary>
    public static DispatchDecision? GetDispatchDecision(this ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return Find(response.AdditionalProperties);
    }

    /// <summary>The decision carried by <paramref name="update"/> (the first update of a stream carries it), or null.</summary>
    public static DispatchDecision? GetDispatchDecision(this ChatResponseUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        return Find(update.AdditionalProperties);
    }

    /// <summary>Asks the few-shot strategy for the mixture adapted to <paramref name="taskKey"/> (see <c>FewShotStrategy.AddTask</c>).</summary>
    /// <returns><paramref name="options"/>, for chaining.</returns>
    public static ChatOptions WithTaskKey(this ChatOptions options, string taskKey)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(taskKey);
        (options.AdditionalProperties ??= [])[Keys.TaskKey] = taskKey;
        return options;
    }

    static DispatchDecision? Find(AdditionalPropertiesDictionary? properties) =>
        properties?.TryGetValue(Keys.Decision, out var value) == true ? value as DispatchDecision : null;
}
