using TorchSharp;
using TorchSharp.Modules;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Llava;

/// <summary>The bias-free patch convolution (<c>patch_embedding.weight</c> [D, 3, p, p]).</summary>
public sealed class ClipPatchEmbedding : nn.Module<Tensor, Tensor>
{
    readonly int _patch;

    /// <summary>Convolution kernel [D, 3, p, p].</summary>
    public Parameter weight;

    internal ClipPatchEmbedding(ClipVisionConfig config, ParameterFactory factory) : base(nameof(ClipPatchEmbedding))
    {
        _patch = config.PatchSize;
        weight = factory.Normal(config.HiddenSize, config.NumChannels, config.PatchSize, config.PatchSize);
        RegisterComponents();
    }

    /// <summary>[B, 3, H, W] → [B, D, H/p, W/p].</summary>
    public override Tensor forward(Tensor pixels) => nn.functional.conv2d(pixels, weight, null, strides: [_patch, _patch]);
}

/// <summary>CLIP's input embeddings: patches (row-major), a class token in front, learned positions added.</summary>
public sealed class ClipVisionEmbeddings : nn.Module<Tensor, Tensor>
{
    /// <summary>The class token [D].</summary>
    public Parameter class_embedding;

    /// <summary>The patch convolution.</summary>
    public ClipPatchEmbedding patch_embedding;

    /// <summary>Position embeddings [(n² + 1), D].</summary>
    public TokenEmbedding position_embedding;

    internal ClipVisionEmbeddings(ClipVisionConfig config, ParameterFactory factory) : base(nameof(ClipVisionEmbeddings))
    {
        class_embedding = factory.Normal(config.HiddenSize);
        patch_embedding = new ClipPatchEmbedding(config, factory);
        position_embedding = new TokenEmbedding(config.NumPatches + 1, config.HiddenSize, factory);
        RegisterComponents();
    }

    /// <summary>[B, 3, s, s] → [B, n² + 1, D].</summary>
    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        long batch = pixels.shape[0];
        var patches = patch_embedding.call(pixels.to_type(class_embedding.dtype)).flatten(2).transpose(1, 2); // [B, D, n, n] → [B, n², D]
        var cls = class_embedding.view(1, 1, -1).expand(batch, 1, class_embedding.shape[0]); // [B, 1, D]
        var tokens = cat([cls, patches], 1); // [B, n² + 1, D]
        return (tokens + position_embedding.weight.unsqueeze(0)).MoveToOuterDisposeScope();
    }
}
