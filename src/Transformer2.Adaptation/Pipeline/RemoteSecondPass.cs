using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Transformer2.Adaptation.Experts;
using Transformer2.Models.Generation;
using T2Chat = Transformer2.Models.Chat;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>
/// Sends the second pass to an <see cref="IChatClient"/>, naming the chosen expert's remote model (see
/// <see cref="RemoteSecondPassOptions"/>). The generation settings travel as <see cref="ChatOptions"/>: max tokens,
/// temperature, top-p, top-k (where the client supports it), seed and stop strings; a repetition penalty cannot, so one
/// other than 1 is refused. Messages travel as text: a remote second pass refuses images.
/// </summary>
internal sealed class RemoteSecondPass
{
    readonly IChatClient _client;
    readonly Dictionary<string, string> _experts;
    readonly Dictionary<string, string> _mixtures;
    readonly string _base;

    public RemoteSecondPass(IChatClient client, RemoteSecondPassOptions options)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        ArgumentNullException.ThrowIfNull(options);
        _experts = new Dictionary<string, string>(options.ExpertModels, StringComparer.Ordinal);
        _mixtures = new Dictionary<string, string>(options.MixtureModels, StringComparer.Ordinal);
        _base = options.BaseModel;
    }

    /// <summary>Checks the names against the registered experts, with messages naming the setting.</summary>
    public void Validate(ExpertRegistry experts)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(_base)) failures.Add("RemoteSecondPassOptions.BaseModel cannot be empty.");
        foreach (var (expert, model) in _experts)
        {
            if (!experts.Contains(expert)) failures.Add($"RemoteSecondPassOptions.ExpertModels names expert '{expert}', which is not registered (registered: {string.Join(", ", experts.Names.Order())}).");
            if (string.IsNullOrWhiteSpace(model)) failures.Add($"RemoteSecondPassOptions.ExpertModels['{expert}'] is empty.");
        }
        foreach (var (key, model) in _mixtures)
        {
            if (!key.StartsWith("mix:", StringComparison.Ordinal)) failures.Add($"RemoteSecondPassOptions.MixtureModels key '{key}' is not a mixture's plan key (mix:…; see AdaptationPlan.Key).");
            if (string.IsNullOrWhiteSpace(model)) failures.Add($"RemoteSecondPassOptions.MixtureModels['{key}'] is empty.");
        }
        if (failures.Count > 0) throw new InvalidOperationException(string.Join(Environment.NewLine, failures));
    }

    /// <summary>The remote model name of <paramref name="plan"/>.</summary>
    public string ModelFor(AdaptationPlan plan)
    {
        if (plan.IsBase) return _base;
        if (plan.Weights is null) return _experts.TryGetValue(plan.Experts[0], out var model) ? model : plan.Experts[0];
        return _mixtures.TryGetValue(plan.Key, out var mixture) ? mixture
            : throw new InvalidOperationException(
                $"The plan '{plan.Key}' is a mixture, which a remote second pass can only name once it is exported: export it (merged or as a LoRA adapter), serve it, and list its model name in RemoteSecondPassOptions.MixtureModels under this key.");
    }

    /// <summary>Streams the remote answer's text; <paramref name="outcome"/> holds the counts and finish reason when done.</summary>
    public async IAsyncEnumerable<string> StreamAsync(IReadOnlyList<T2Chat.ChatMessage> messages, AdaptationPlan plan, GenerationOptions generation, Outcome outcome,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (generation.RepetitionPenalty != 1.0)
            throw new ArgumentException($"A remote second pass cannot send a repetition penalty ({generation.RepetitionPenalty}); OpenAI's API has none. Set it to 1.", nameof(generation));
        var converted = RemoteChatMessages.ToText(messages, "a remote second pass", nameof(messages));
        var options = new ChatOptions
        {
            ModelId = ModelFor(plan),
            MaxOutputTokens = generation.MaxNewTokens,
            Temperature = (float)generation.Temperature,
            TopP = (float)generation.TopP,
            TopK = generation.TopK > 0 ? generation.TopK : null,
            Seed = generation.Seed,
            StopSequences = generation.StopStrings.Count > 0 ? generation.StopStrings.ToList() : null,
        };
        await foreach (var update in _client.GetStreamingResponseAsync(converted, options, cancellationToken).ConfigureAwait(false))
        {
            foreach (var usage in update.Contents.OfType<UsageContent>())
            {
                outcome.PromptTokens = (int)(usage.Details.InputTokenCount ?? 0);
                outcome.CompletionTokens = (int)(usage.Details.OutputTokenCount ?? 0);
            }
            if (update.FinishReason is { } finish) outcome.Finish = finish == ChatFinishReason.Length ? FinishReason.MaxNewTokens : FinishReason.StopToken;
            if (update.Text.Length > 0)
            {
                outcome.Text.Append(update.Text);
                yield return update.Text;
            }
        }
    }

    /// <summary>What the remote reported: token counts (0 when it sent no usage), the finish reason and the whole text.</summary>
    internal sealed class Outcome
    {
        public int PromptTokens { get; set; }

        public int CompletionTokens { get; set; }

        public FinishReason Finish { get; set; } = FinishReason.StopToken;

        public System.Text.StringBuilder Text { get; } = new();
    }
}
