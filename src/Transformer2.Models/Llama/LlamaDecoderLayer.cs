using TorchSharp;
using Transformer2.Core;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>One pre-norm transformer block: <c>h = x + attn(norm(x)); out = h + mlp(norm(h))</c>.</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    /// <summary>Self-attention.</summary>
    public LlamaAttention self_attn;

    /// <summary>Feed-forward block.</summary>
    public LlamaMlp mlp;

    /// <summary>Norm before attention.</summary>
    public RmsNorm input_layernorm;

    /// <summary>Norm before the feed-forward block.</summary>
    public RmsNorm post_attention_layernorm;

    internal LlamaDecoderLayer(LlamaConfig config, int layerIndex, ParameterFactory factory) : base(nameof(LlamaDecoderLayer))
    {
        self_attn = new LlamaAttention(config, layerIndex, factory);
        mlp = new LlamaMlp(config, factory);
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, factory);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, factory);
        RegisterComponents();
    }

    internal Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, Tensor? mask, bool causal, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var attended = KeptScalars.Add(hidden, self_attn.Forward(input_layernorm.call(hidden), cos, sin, mask, causal, cache));
        return KeptScalars.Add(attended, mlp.call(post_attention_layernorm.call(attended))).MoveToOuterDisposeScope();
    }
}
