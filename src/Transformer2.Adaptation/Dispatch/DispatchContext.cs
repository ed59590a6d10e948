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

    /// <summary>
    /// Generates greedily for <paramref name="conversations"/> (batched) with <paramref name="plan"/> in effect. Images on
    /// the messages reach the model on a LLaVA backbone (and are refused by a text backbone).
    /// </summary>
    public Task<IReadOnlyList<(string Text, GenerationResult Result, int PromptTokens)>> GenerateAsync(
        AdaptationPlan plan, IReadOnlyList<IReadOnlyList<ChatMessage>> conversations, int maxNewTokens, IReadOnlyList<string>? stopStrings = null,
        CancellationToken cancellationToken = default, Core.Svf.SvfBlendCache? blend = null)
    {
        ArgumentNullException.ThrowIfNull(conversations);
        var prompts = conversations.Select(_backbone.Prepare).ToList();
        return GenerateAsync(plan, prompts, null, maxNewTokens, stopStrings, cancellationToken, blend);
    }

    /// <summary>Generates for prompts already prepared; <paramref name="embedder"/> (for these rows) defaults to running the vision tower.</summary>
    internal async Task<IReadOnlyList<(string Text, GenerationResult Result, int PromptTokens)>> GenerateAsync(
        AdaptationPlan plan, IReadOnlyList<PreparedPrompt> prompts, PromptEmbedder? embedder, int maxNewTokens, IReadOnlyList<string>? stopStrings,
        CancellationToken cancellationToken, Core.Svf.SvfBlendCache? blend, bool cacheComposition = true)
    {
        embedder ??= _backbone.Embedder(prompts);
        var ids = prompts.Select(p => (IReadOnlyList<int>)p.Ids).ToList();
        var options = new GenerationOptions
        {
            MaxNewTokens = maxNewTokens,
            StopTokenIds = _backbone.Tokenizer.EosIds.ToList(),
            StopStrings = stopStrings ?? [],
        };
        using var lease = await _applier.AcquireAsync(plan, cancellationToken, blend, cacheComposition).ConfigureAwait(false);
        IReadOnlyList<GenerationResult> results;
        using (lease.Enter())
        using (TorchSharp.torch.no_grad())
        {
            var generator = new TextGenerator(_backbone.Model, Decode);
            results = embedder is null
                ? generator.GenerateBatch(ids, options, cancellationToken)
                : generator.GenerateBatch(ids, options, embedder, cancellationToken);
        }
        return results.Select((r, i) => (Decode(r.TokenIds), r, ids[i].Count)).ToList();
    }

    string Decode(IReadOnlyList<int> ids) => _backbone.Tokenizer.Decode(ids, skipSpecialTokens: true);
}
