using Transformer2.Models.Llava;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>A prompt ready for generation: token ids (image tokens expanded) and the images whose features fill them, in order.</summary>
internal sealed record PreparedPrompt(int[] Ids, IReadOnlyList<LlavaImage> Images);
