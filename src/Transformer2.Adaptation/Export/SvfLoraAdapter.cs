using static TorchSharp.torch;

namespace Transformer2.Adaptation.Export;

/// <summary>
/// An expert (or mixture) as LoRA factors: per adapted weight, A [r, in] and B [out, r] with B·A the rank-r truncation of
/// W' − W (see <see cref="Core.Svf.SvfDelta"/>). LoRA α equals r, so the update is B·A unscaled. Owns its tensors.
/// </summary>
public sealed class SvfLoraAdapter : IDisposable
{
    internal SvfLoraAdapter(int rank, IReadOnlyDictionary<string, (Tensor A, Tensor B)> factors, IReadOnlyList<string> targetModules)
    {
        Rank = rank;
        Factors = factors;
        TargetModules = targetModules;
    }

    /// <summary>The rank r of every factor pair.</summary>
    public int Rank { get; }

    /// <summary>LoRA α = r: PEFT's and llama.cpp's scaling α / r is 1.</summary>
    public double Alpha => Rank;

    /// <summary>A and B by weight key (<c>model.layers.0.mlp.up_proj.weight</c>).</summary>
    public IReadOnlyDictionary<string, (Tensor A, Tensor B)> Factors { get; }

    /// <summary>PEFT's <c>target_modules</c>: short names (<c>gate_proj</c>) when every layer of that name is adapted, full module paths otherwise.</summary>
    public IReadOnlyList<string> TargetModules { get; }

    /// <summary>Disposes the factors.</summary>
    public void Dispose()
    {
        foreach (var (a, b) in Factors.Values)
        {
            a.Dispose();
            b.Dispose();
        }
    }
}
