using static TorchSharp.torch;

namespace Transformer2.Models.Generation;

/// <summary>
/// Turns a batch of (left- or right-padded) token ids [B, T] into input embeddings [B, T, hidden] for the prefill or
/// scoring pass: how inputs that are not text, such as LLaVA's images, reach generation and log-probabilities.
/// </summary>
/// <param name="inputIds">Token ids, int64 [B, T].</param>
/// <returns>Input embeddings [B, T, hidden] in the model's dtype.</returns>
public delegate Tensor PromptEmbedder(Tensor inputIds);
