namespace Transformer2.Training.Reinforce;

/// <summary>Which KL divergence between the adapted policy π_θ and the base model π_ref the penalty uses.</summary>
public enum KlDirection
{
    /// <summary>KL(π_θ ‖ π_ref), as the paper writes it. Our default.</summary>
    PolicyToReference,

    /// <summary>
    /// KL(π_ref ‖ π_θ): what the authors' code computes (<c>F.kl_div(logp_cur, logp_ref, log_target=True)</c>, t2-reference §2).
    /// </summary>
    ReferenceToPolicy,
}
