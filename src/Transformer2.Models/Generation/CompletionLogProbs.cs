using static TorchSharp.torch;

namespace Transformer2.Models.Generation;

/// <summary>Per-token log-probabilities of a batch of completions; dispose to free both tensors.</summary>
/// <param name="LogProbs">float32 [B, C_max]; 0 where <paramref name="Mask"/> is false.</param>
/// <param name="Mask">bool [B, C_max]: true for real completion tokens.</param>
public sealed record CompletionLogProbs(Tensor LogProbs, Tensor Mask) : IDisposable
{
    /// <summary>Sum of each completion's log-probabilities, [B]: log π(completion | prompt).</summary>
    public Tensor SequenceLogProbs() => LogProbs.sum(1);

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        LogProbs.Dispose();
        Mask.Dispose();
    }
}
