using TorchSharp;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Llava;

/// <summary>Bidirectional multi-head self-attention with biased q/k/v/out projections (HF <c>CLIPAttention</c>).</summary>
public sealed class ClipAttention : nn.Module<Tensor, Tensor>
{
    readonly int _heads;
    readonly int _headDim;

    /// <summary>Query projection [D, D] with bias.</summary>
    public nn.Module<Tensor, Tensor> q_proj;

    /// <summary>Key projection [D, D] with bias.</summary>
    public nn.Module<Tensor, Tensor> k_proj;

    /// <summary>Value projection [D, D] with bias.</summary>
    public nn.Module<Tensor, Tensor> v_proj;

    /// <summary>Output projection [D, D] with bias.</summary>
    public nn.Module<Tensor, Tensor> out_proj;

    internal ClipAttention(ClipVisionConfig config, ParameterFactory factory) : base(nameof(ClipAttention))
    {
        _heads = config.NumAttentionHeads;
        _headDim = config.HeadDim;
        q_proj = factory.LinearWithBias(config.HiddenSize, config.HiddenSize);
        k_proj = factory.LinearWithBias(config.HiddenSize, config.HiddenSize);
        v_proj = factory.LinearWithBias(config.HiddenSize, config.HiddenSize);
        out_proj = factory.LinearWithBias(config.HiddenSize, config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>[B, T, D] → [B, T, D]; scale head_dim^-0.5, no mask.</summary>
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        // [B, T, D] → [B, T, H, d] → [B, H, T, d]
        var query = q_proj.call(hidden).view(batch, length, _heads, _headDim).transpose(1, 2);
        var key = k_proj.call(hidden).view(batch, length, _heads, _headDim).transpose(1, 2);
        var value = v_proj.call(hidden).view(batch, length, _heads, _headDim).transpose(1, 2);
        var attended = nn.functional.scaled_dot_product_attention(query, key, value); // [B, H, T, d]
        return out_proj.call(attended.transpose(1, 2).reshape(batch, length, _heads * _headDim)).MoveToOuterDisposeScope();
    }
}

/// <summary>CLIP's MLP: <c>fc2(act(fc1(x)))</c> with quick-GELU (or GELU).</summary>
public sealed class ClipMlp : nn.Module<Tensor, Tensor>
{
    readonly bool _quickGelu;

    /// <summary>First projection [I, D] with bias.</summary>
    public nn.Module<Tensor, Tensor> fc1;

    /// <summary>Second projection [D, I] with bias.</summary>
    public nn.Module<Tensor, Tensor> fc2;

    internal ClipMlp(ClipVisionConfig config, ParameterFactory factory) : base(nameof(ClipMlp))
    {
        _quickGelu = config.HiddenAct == ClipVisionConfig.QuickGelu;
        fc1 = factory.LinearWithBias(config.HiddenSize, config.IntermediateSize);
        fc2 = factory.LinearWithBias(config.IntermediateSize, config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>[..., D] → [..., D].</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = fc1.call(input);
        h = _quickGelu ? h * sigmoid(h * 1.702) : nn.functional.gelu(h);
        return fc2.call(h).MoveToOuterDisposeScope();
    }
}

/// <summary>One pre-LN encoder block: <c>x += attn(LN1(x)); x += mlp(LN2(x))</c>.</summary>
public sealed class ClipEncoderLayer : nn.Module<Tensor, Tensor>
{
    /// <summary>Self-attention.</summary>
    public ClipAttention self_attn;

    /// <summary>Norm before attention.</summary>
    public ClipLayerNorm layer_norm1;

    /// <summary>Feed-forward block.</summary>
    public ClipMlp mlp;

    /// <summary>Norm before the feed-forward block.</summary>
    public ClipLayerNorm layer_norm2;

    internal ClipEncoderLayer(ClipVisionConfig config, ParameterFactory factory) : base(nameof(ClipEncoderLayer))
    {
        self_attn = new ClipAttention(config, factory);
        layer_norm1 = new ClipLayerNorm(config.HiddenSize, config.LayerNormEps, factory);
        mlp = new ClipMlp(config, factory);
        layer_norm2 = new ClipLayerNorm(config.HiddenSize, config.LayerNormEps, factory);
        RegisterComponents();
    }

    /// <summary>[B, T, D] → [B, T, D].</summary>
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var attended = hidden + self_attn.call(layer_norm1.call(hidden));
        return (attended + mlp.call(layer_norm2.call(attended))).MoveToOuterDisposeScope();
    }
}
