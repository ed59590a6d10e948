using System.Text.Json.Serialization;

namespace Transformer2.Server.Protocol;

/// <summary>A <c>chat.completion</c> object, or with <c>Object = "chat.completion.chunk"</c> one streamed chunk.</summary>
internal sealed record ChatCompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<ChatCompletionResponse.Choice> Choices)
{
    /// <summary>Token counts (in a stream: the last chunk, when the request asked for it).</summary>
    public Usage? Usage { get; init; }

    /// <summary>The first pass's decision: the extension field this server adds.</summary>
    public DecisionInfo? Transformer2 { get; init; }

    /// <summary>One answer: <see cref="Message"/> in a completion, <see cref="Delta"/> in a chunk.</summary>
    internal sealed record Choice(int Index)
    {
        public MessageBody? Message { get; init; }

        public MessageBody? Delta { get; init; }

        /// <summary>Always written (as null while streaming), as OpenAI does.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
        public string? FinishReason { get; init; }
    }

    /// <summary>A message or a delta.</summary>
    internal sealed record MessageBody(string? Role, string? Content);
}

/// <summary>OpenAI's usage object.</summary>
internal sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens);

/// <summary>The dispatch decision, under the <c>transformer2</c> key of responses and chunks.</summary>
/// <param name="Strategy">The strategy that decided (<c>prompt</c>, <c>fixed</c>, …).</param>
/// <param name="Label">The category label or task key.</param>
/// <param name="Plan">The plan's key (<c>base</c>, <c>expert:NAME</c>, <c>mix:…</c>).</param>
/// <param name="Weights">Mixing weights by expert.</param>
internal sealed record DecisionInfo(string Strategy, string? Label, string Plan, IReadOnlyDictionary<string, double> Weights)
{
    public double? FirstPassMs { get; init; }

    public double? SecondPassMs { get; init; }
}
