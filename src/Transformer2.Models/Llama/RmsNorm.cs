using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>Root-mean-square layer norm, computed in float32 and cast back, as Hugging Face's <c>LlamaRMSNorm</c>.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly double _eps;

    /// <summary>The per-channel gain (checkpoint key <c>…norm.weight</c>), shape [hidden].</summary>
    public Parameter weight;

    internal RmsNorm(long hiddenSize, double eps, ParameterFactory factory) : base(nameof(RmsNorm))
    {
        _eps = eps;
        weight = factory.Ones(hiddenSize);
        RegisterComponents();
    }

    /// <summary>Normalises the last dimension of <paramref name="input"/>.</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.to_type(ScalarType.Float32);
        var variance = x.pow(2).mean([-1], keepdim: true);
        var normed = (x * (variance + _eps).rsqrt()).to_type(input.dtype);
        return (weight * normed).MoveToOuterDisposeScope();
    }
}
