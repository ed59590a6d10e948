using Transformer2.Adaptation.Experts;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Models.Chat;
using Transformer2.Models.Generation;

namespace Transformer2.Adaptation.Dispatch;

/// <summary>What a strategy may use: the registered experts, and greedy generation under any plan.</summary>
public sealed class DispatchContext
{
    readonly AdaptationBackbone _backbone;
    readonly ExpertApplier _applier;

    internal DispatchContext(AdaptationBackbone backbone, ExpertRegistry experts, ExpertApplier applier)
    {
        _backbone = backbone;
        Experts = experts;
        _applier = applier;
    }

    /// <summary>The registered experts.</summary>
    public ExpertRegistry Experts { get; }

    internal AdaptationBackbone Backbone => _backbone;

    internal ExpertApplier Applier => _applier;

    /// <summary>Generates greedily for <paramref name="conversations"/> (batched) with <paramref name="plan"/> in effect.</summary>
    public async Task<IReadOnlyList<(string Text, GenerationResult Result, int PromptTokens)>> GenerateAsync(
        AdaptationPlan plan, IReadOnlyList<IReadOnlyList<ChatMessage>> conversations, int maxNewTokens, IReadOnlyList<string>? stopStrings = null,
        CancellationToken cancellationToken = default, Core.Svf.SvfBlendCache? blend = null)
    {
        var prompts = conversations.Select(c => (IReadOnlyList<int>)_backbone.EncodePrompt(c)).ToList();
        var options = new GenerationOptions
        {
            MaxNewTokens = maxNewTokens,
            StopTokenIds = _backbone.Tokenizer.EosIds.ToList(),
            StopStrings = stopStrings ?? [],
        };
        using var lease = await _applier.AcquireAsync(plan, cancellationToken, blend).ConfigureAwait(false);
        IReadOnlyList<GenerationResult> results;
        using (lease.Enter())
        using (TorchSharp.torch.no_grad())
            results = new TextGenerator(_backbone.Model, Decode).GenerateBatch(prompts, options, cancellationToken);
        return results.Select((r, i) => (Decode(r.TokenIds), r, prompts[i].Count)).ToList();
    }

    string Decode(IReadOnlyList<int> ids) => _backbone.Tokenizer.Decode(ids, skipSpecialTokens: true);
}
