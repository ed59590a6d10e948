using TorchSharp;
using Transformer2.Core.Kernels;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>The SwiGLU feed-forward block: <c>down_proj(silu(gate_proj(x)) · up_proj(x))</c>.</summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    /// <summary>Gate projection [intermediate, hidden].</summary>
    public nn.Module<Tensor, Tensor> gate_proj;

    /// <summary>Up projection [intermediate, hidden].</summary>
    public nn.Module<Tensor, Tensor> up_proj;

    /// <summary>Down projection [hidden, intermediate].</summary>
    public nn.Module<Tensor, Tensor> down_proj;

    internal LlamaMlp(LlamaConfig config, ParameterFactory factory) : base(nameof(LlamaMlp))
    {
        gate_proj = factory.Linear(config.HiddenSize, config.IntermediateSize);
        up_proj = factory.Linear(config.HiddenSize, config.IntermediateSize);
        down_proj = factory.Linear(config.IntermediateSize, config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>[..., hidden] → [..., hidden].</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var gated = nn.functional.silu(DecodeGemv.Call(gate_proj, input)) * DecodeGemv.Call(up_proj, input);
        return DecodeGemv.Call(down_proj, gated).MoveToOuterDisposeScope();
    }
}
