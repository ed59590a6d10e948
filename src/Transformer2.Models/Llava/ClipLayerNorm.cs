using TorchSharp;
using TorchSharp.Modules;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Llava;

/// <summary>LayerNorm with a weight and a bias (keys <c>*.weight</c>, <c>*.bias</c>).</summary>
public sealed class ClipLayerNorm : nn.Module<Tensor, Tensor>
{
    readonly double _eps;

    /// <summary>Scale [D].</summary>
    public Parameter weight;

    /// <summary>Shift [D].</summary>
    public Parameter bias;

    internal ClipLayerNorm(long size, double eps, ParameterFactory factory) : base(nameof(ClipLayerNorm))
    {
        _eps = eps;
        weight = factory.Ones(size);
        bias = factory.Zeros(size);
        RegisterComponents();
    }

    /// <summary>Normalises the last dimension.</summary>
    public override Tensor forward(Tensor input) => nn.functional.layer_norm(input, [weight.shape[0]], weight, bias, _eps);
}
