using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Transformer2.Adaptation.Pipeline;
using T2Chat = Transformer2.Models.Chat;

namespace Transformer2.Adaptation.ChatClient;

/// <summary>
/// <see cref="IChatClient"/> over a <see cref="TransformerSquared"/> pipeline, so it plugs into Microsoft.Extensions.AI.
/// </summary>
/// <remarks>
/// Images reach a LLaVA pipeline as <see cref="DataContent"/> with an <c>image/*</c> media type on a message.
/// <see cref="ChatOptions"/> honoured: temperature, top-p, top-k, max output tokens, stop sequences, seed. The first
/// pass's decision is returned in <c>AdditionalProperties</c> under <see cref="DecisionKeys"/>; a few-shot task key may be
/// passed in the options' <c>AdditionalProperties</c> under <see cref="DecisionKeys.TaskKey"/>.
/// </remarks>
public sealed class TransformerSquaredChatClient : IChatClient
{
    readonly TransformerSquared _pipeline;
    readonly bool _ownsPipeline;

    /// <summary>Wraps <paramref name="pipeline"/>; with <paramref name="ownsPipeline"/> disposing the client disposes it.</summary>
    public TransformerSquaredChatClient(TransformerSquared pipeline, bool ownsPipeline = false)
    {
        _pipeline = pipeline ?? throw new ArgumentNullException(nameof(pipeline));
        _ownsPipeline = ownsPipeline;
        Metadata = new ChatClientMetadata("transformer2", null, pipeline.Backbone.Identity);
    }

    /// <summary>Names of the decision entries in responses' <c>AdditionalProperties</c>.</summary>
    public static class DecisionKeys
    {
        /// <summary>The dispatch strategy.</summary>
        public const string Strategy = "transformer2.strategy";

        /// <summary>The category label (or task key).</summary>
        public const string Label = "transformer2.label";

        /// <summary>The mixing weights by expert name (a dictionary of doubles).</summary>
        public const string Weights = "transformer2.weights";

        /// <summary>First-pass time in milliseconds.</summary>
        public const string FirstPassMilliseconds = "transformer2.first_pass_ms";

        /// <summary>Second-pass time in milliseconds.</summary>
        public const string SecondPassMilliseconds = "transformer2.second_pass_ms";

        /// <summary>The whole <see cref="DispatchDecision"/> (read it with <see cref="TransformerSquaredChatExtensions.GetDispatchDecision(ChatResponse)"/>).</summary>
        public const string Decision = "transformer2.decision";

        /// <summary>Request option: the few-shot task key.</summary>
        public const string TaskKey = "transformer2.task";
    }

    /// <summary>Describes this client.</summary>
    public ChatClientMetadata Metadata { get; }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var result = await _pipeline.AnswerAsync(Convert(messages), AnswerOptions(options), cancellationToken).ConfigureAwait(false);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, result.Answer))
        {
            ModelId = Metadata.DefaultModelId,
            FinishReason = result.Finish == Models.Generation.FinishReason.MaxNewTokens ? ChatFinishReason.Length : ChatFinishReason.Stop,
            Usage = new UsageDetails
            {
                InputTokenCount = result.PromptTokens,
                OutputTokenCount = result.CompletionTokens,
                TotalTokenCount = result.PromptTokens + result.CompletionTokens,
            },
            AdditionalProperties = Properties(result.Decision, result),
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string responseId = Guid.NewGuid().ToString("N");
        await foreach (var update in _pipeline.StreamAsync(Convert(messages), AnswerOptions(options), cancellationToken).ConfigureAwait(false))
        {
            if (update.Result is { } result)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails
                {
                    InputTokenCount = result.PromptTokens,
                    OutputTokenCount = result.CompletionTokens,
                    TotalTokenCount = result.PromptTokens + result.CompletionTokens,
                })])
                {
                    ResponseId = responseId,
                    ModelId = Metadata.DefaultModelId,
                    FinishReason = result.Finish == Models.Generation.FinishReason.MaxNewTokens ? ChatFinishReason.Length : ChatFinishReason.Stop,
                    AdditionalProperties = Properties(result.Decision, result),
                };
            }
            else if (update.Text.Length > 0)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, update.Text) { ResponseId = responseId, ModelId = Metadata.DefaultModelId };
            }
            else
            {
                // The first update: the decision, before any text.
                yield return new ChatResponseUpdate(ChatRole.Assistant, []) { ResponseId = responseId, AdditionalProperties = Properties(update.Decision, null) };
            }
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return Metadata;
        if (serviceType.IsInstanceOfType(_pipeline)) return _pipeline;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsPipeline) _pipeline.Dispose();
    }

    /// <summary>
    /// Text of each message, plus its images: <see cref="DataContent"/> with an <c>image/*</c> media type (bytes or a
    /// <c>data:</c> URI) becomes a <see cref="T2Chat.ChatImage"/>. Other data and images by URL are refused rather than
    /// silently dropped.
    /// </summary>
    static IReadOnlyList<T2Chat.ChatMessage> Convert(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var converted = new List<T2Chat.ChatMessage>();
        foreach (var message in messages)
        {
            int index = converted.Count;
            var images = new List<T2Chat.ChatImage>();
            foreach (var content in message.Contents)
            {
                switch (content)
                {
                    case DataContent data when data.HasTopLevelMediaType("image"):
                        images.Add(T2Chat.ChatImage.FromBytes(data.Data.ToArray(), data.Name ?? $"message {index} image {images.Count} ({data.MediaType})"));
                        break;
                    case DataContent data:
                        throw new ArgumentException($"Message {index} carries {data.MediaType} data; only images (image/*) are supported.", nameof(messages));
                    case UriContent uri when uri.HasTopLevelMediaType("image"):
                        throw new ArgumentException($"Message {index} refers to an image by URL ({uri.Uri}); remote images are not fetched: pass the bytes as DataContent.", nameof(messages));
                }
            }
            converted.Add(new T2Chat.ChatMessage(message.Role.Value, message.Text) { Images = images });
        }
        if (converted.Count == 0) throw new ArgumentException("The conversation is empty.", nameof(messages));
        return converted;
    }

    static AnswerOptions AnswerOptions(ChatOptions? options) => options is null ? new AnswerOptions() : new AnswerOptions
    {
        Temperature = options.Temperature,
        TopP = options.TopP,
        TopK = options.TopK,
        MaxNewTokens = options.MaxOutputTokens,
        StopStrings = options.StopSequences?.ToList(),
        Seed = options.Seed,
        TaskKey = options.AdditionalProperties?.TryGetValue(DecisionKeys.TaskKey, out var key) == true ? key?.ToString() : null,
    };

    static AdditionalPropertiesDictionary Properties(DispatchDecision decision, TwoPassResult? result)
    {
        var properties = new AdditionalPropertiesDictionary
        {
            [DecisionKeys.Decision] = decision,
            [DecisionKeys.Strategy] = decision.Strategy,
            [DecisionKeys.Label] = decision.Label,
            [DecisionKeys.Weights] = decision.Plan.WeightsByExpert(),
        };
        if (result is not null)
        {
            properties[DecisionKeys.FirstPassMilliseconds] = result.FirstPass.TotalMilliseconds;
            properties[DecisionKeys.SecondPassMilliseconds] = result.SecondPass.TotalMilliseconds;
        }
        return properties;
    }
}
