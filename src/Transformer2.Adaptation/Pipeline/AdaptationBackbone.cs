using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Models.Llama;
using Transformer2.Models.Tokenization;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>A loaded model with SVF layers on its targets, its tokenizer and its chat template.</summary>
/// <param name="Model">The model; its target projections are <see cref="SvfLinear"/> layers.</param>
/// <param name="Tokenizer">The model's tokenizer.</param>
/// <param name="Template">The chat template prompts are rendered with.</param>
/// <param name="Identity">The model's identity, checked against experts' metadata.</param>
public sealed record AdaptationBackbone(LlamaForCausalLM Model, ITextTokenizer Tokenizer, IChatTemplate Template, string Identity)
{
    IReadOnlyDictionary<string, SvfLinear>? _layers;

    /// <summary>The SVF layers by target weight name.</summary>
    public IReadOnlyDictionary<string, SvfLinear> Layers => _layers ??= SvfInjector.Find(Model) is { Count: > 0 } found
        ? found
        : throw new InvalidOperationException("The model has no SVF layers; inject them (SvfInjector.Inject) or build the pipeline with a decomposition cache.");

    /// <summary>Vector length of each target.</summary>
    public IReadOnlyDictionary<string, long> TargetLengths => Layers.ToDictionary(l => l.Key, l => l.Value.Rank, StringComparer.Ordinal);

    /// <summary>Renders and tokenises a conversation, ready for generation.</summary>
    public int[] EncodePrompt(IReadOnlyList<ChatMessage> messages) => Tokenizer.EncodePrompt(Template.Render(messages, addGenerationPrompt: true));
}
