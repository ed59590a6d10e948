using static TorchSharp.torch;

namespace Transformer2.Training.Reinforce;

/// <summary>The pieces of the REINFORCE objective, as pure tensor functions.</summary>
public static class PolicyGradient
{
    /// <summary>
    /// Per-position log-probabilities of the next tokens: for logits [B, T, V] and ids [B, T], returns [B, T − 1] with
    /// entry t = log π(ids[t + 1] | ids[..t]).
    /// </summary>
    public static Tensor NextTokenLogProbs(Tensor logits, Tensor ids)
    {
        using var scope = NewDisposeScope();
        var logp = logits[.., ..^1, ..].to_type(ScalarType.Float32).log_softmax(-1);    // [B, T-1, V]
        var next = ids[.., 1..].unsqueeze(-1);                                            // [B, T-1, 1]
        return logp.gather(-1, next).squeeze(-1).MoveToOuterDisposeScope();               // [B, T-1]
    }

    /// <summary>Σₜ over masked positions of per-position values [B, T'] with mask [B, T'] → [B].</summary>
    public static Tensor MaskedSum(Tensor values, Tensor mask)
    {
        using var scope = NewDisposeScope();
        return (values * mask.to_type(values.dtype)).sum(dim: 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The KL divergence between two next-token distributions at each position, summed over the full vocabulary:
    /// logits [B, T, V] → [B, T − 1] aligned with <see cref="NextTokenLogProbs"/>.
    /// </summary>
    public static Tensor KlPerPosition(Tensor policyLogits, Tensor referenceLogits, KlDirection direction)
    {
        using var scope = NewDisposeScope();
        var p = policyLogits[.., ..^1, ..].to_type(ScalarType.Float32).log_softmax(-1);
        var q = referenceLogits[.., ..^1, ..].to_type(ScalarType.Float32).log_softmax(-1);
        var kl = direction == KlDirection.PolicyToReference
            ? (p.exp() * (p - q)).sum(dim: -1)
            : (q.exp() * (q - p)).sum(dim: -1);
        return kl.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rewards after the optional batch normalisation (r − mean)/max(std, 1e-7) and clipping to [−clip, clip],
    /// in that order, as the authors' <c>rw_norm</c> and <c>rw_clip</c>.
    /// </summary>
    public static double[] ShapeRewards(IReadOnlyList<double> rewards, bool normalize, double? clip)
    {
        var r = rewards.ToArray();
        if (normalize && r.Length > 0)
        {
            double mean = r.Average();
            double std = Math.Sqrt(r.Sum(x => (x - mean) * (x - mean)) / r.Length);
            for (int i = 0; i < r.Length; i++) r[i] = (r[i] - mean) / Math.Max(std, 1e-7);
        }
        if (clip is > 0)
        {
            for (int i = 0; i < r.Length; i++) r[i] = Math.Clamp(r[i], -clip.Value, clip.Value);
        }
        return r;
    }
}
