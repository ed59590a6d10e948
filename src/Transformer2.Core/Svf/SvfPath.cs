namespace Transformer2.Core.Svf;

/// <summary>How an <see cref="SvfLinear"/> applies its multiplier during a forward.</summary>
public enum SvfPath
{
    /// <summary>
    /// y = ((x·V) ⊙ s)·Uᵀ with s = S⊙z·c. Never touches the shared weight, so each row of a batch can carry its own
    /// expert, and concurrent requests can run different experts on one model.
    /// </summary>
    Factored,

    /// <summary>y = x·W'ᵀ with W' composed from U, S, V and z for this forward (differentiable through z).</summary>
    Composed,
}
