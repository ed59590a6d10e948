using Transformer2.Models.Generation;
using Transformer2.Models.Llava;
using static TorchSharp.torch;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>
/// The image features of a fixed batch of prompts, computed once; <see cref="Embed"/> writes them into that batch's
/// embeddings as <see cref="LlavaForConditionalGeneration.ImageEmbedderPerRow"/> would, without running the vision tower again.
/// </summary>
internal sealed class PrecomputedImageEmbedder : IDisposable
{
    readonly LlavaForConditionalGeneration _llava;
    readonly Tensor _features;
    readonly int[] _counts;

    public PrecomputedImageEmbedder(LlavaForConditionalGeneration llava, IReadOnlyList<IReadOnlyList<LlavaImage>> rowImages)
    {
        _llava = llava;
        _counts = rowImages.Select(r => r.Sum(llava.ImageTokenCount)).ToArray();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        _features = llava.ImageFeatures(rowImages.SelectMany(r => r).ToList()).DetachFromDisposeScope();
    }

    /// <summary>Embeds ids [B, T] of the batch the features were computed for (same rows, same order).</summary>
    public PromptEmbedder Embed => ids => _llava.model.EmbedInputs(ids, _features, _counts);

    public void Dispose() => _features.Dispose();
}
