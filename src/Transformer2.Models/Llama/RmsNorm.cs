using TorchSharp;
using TorchSharp.Modules;
using Transformer2.Core;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>Root-mean-square layer norm, computed in float32 and cast back, as Hugging Face's <c>LlamaRMSNorm</c>.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    // One Scalar for the module's life: an implicit double → Scalar per call leaves a finalizable native handle behind
    // on every forward (18 per decoded token in a 4-layer model), which the finalizer thread then frees on a busy core.
    readonly Scalar _eps;

    /// <summary>The per-channel gain (checkpoint key <c>…norm.weight</c>), shape [hidden].</summary>
    public Parameter weight;

    internal RmsNorm(long hiddenSize, double eps, ParameterFactory factory) : base(nameof(RmsNorm))
    {
        _eps = eps.ToScalar();
        weight = factory.Ones(hiddenSize);
        RegisterComponents();
    }

    /// <summary>Normalises the last dimension of <paramref name="input"/>.</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.to_type(ScalarType.Float32);
        var variance = x.square().mean([-1], keepdim: true);   // x², as x.pow(2)
        var normed = (x * KeptScalars.Add(variance, _eps).rsqrt()).to_type(input.dtype);
        return (weight * normed).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) _eps.Dispose();
        base.Dispose(disposing);
    }
}
