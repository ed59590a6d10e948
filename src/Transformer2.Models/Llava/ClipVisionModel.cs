using TorchSharp;
using TorchSharp.Modules;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Llava;

/// <summary>The encoder stack (<c>encoder.layers.N</c>).</summary>
public sealed class ClipEncoder : nn.Module
{
    /// <summary>The encoder blocks.</summary>
    public ModuleList<ClipEncoderLayer> layers;

    internal ClipEncoder(ClipVisionConfig config, ParameterFactory factory) : base(nameof(ClipEncoder))
    {
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new ClipEncoderLayer(config, factory)).ToArray());
        RegisterComponents();
    }
}

/// <summary>HF <c>CLIPVisionTransformer</c> (checkpoint prefix <c>vision_model.</c>): embeddings, <c>pre_layrnorm</c>, encoder, <c>post_layernorm</c>.</summary>
public sealed class ClipVisionTransformer : nn.Module
{
    /// <summary>Patch, class and position embeddings.</summary>
    public ClipVisionEmbeddings embeddings;

    /// <summary>The norm before the encoder (HF's spelling).</summary>
    public ClipLayerNorm pre_layrnorm;

    /// <summary>The encoder blocks.</summary>
    public ClipEncoder encoder;

    /// <summary>The norm after the encoder; stored in checkpoints but never used by LLaVA.</summary>
    public ClipLayerNorm post_layernorm;

    internal ClipVisionTransformer(ClipVisionConfig config, ParameterFactory factory) : base(nameof(ClipVisionTransformer))
    {
        embeddings = new ClipVisionEmbeddings(config, factory);
        pre_layrnorm = new ClipLayerNorm(config.HiddenSize, config.LayerNormEps, factory);
        encoder = new ClipEncoder(config, factory);
        post_layernorm = new ClipLayerNorm(config.HiddenSize, config.LayerNormEps, factory);
        RegisterComponents();
    }
}

/// <summary>
/// The CLIP ViT vision tower (HF <c>CLIPVisionModel</c>). <see cref="HiddenStates"/> gives the states LLaVA selects from:
/// state 0 is the output of <c>pre_layrnorm</c>, state i the output of layer i.
/// </summary>
public sealed class ClipVisionModel : nn.Module
{
    /// <summary>The transformer.</summary>
    public ClipVisionTransformer vision_model;

    internal ClipVisionModel(ClipVisionConfig config, ParameterFactory factory) : base(nameof(ClipVisionModel))
    {
        config.Validate();
        Config = config;
        vision_model = new ClipVisionTransformer(config, factory);
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public ClipVisionConfig Config { get; }

    /// <summary>
    /// Hidden states 0 … <paramref name="lastIndex"/> ([B, n² + 1, D] each) for pixels [B, 3, s, s]. Layers past
    /// <paramref name="lastIndex"/> are not run: their output could not change the states returned.
    /// </summary>
    /// <exception cref="ArgumentException">The pixels are not [B, 3, image_size, image_size] floating point, or the index is out of range.</exception>
    public IReadOnlyList<Tensor> HiddenStates(Tensor pixels, int lastIndex)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        int side = Config.ImageSize;
        if (pixels.dim() != 4 || pixels.shape[1] != Config.NumChannels || pixels.shape[2] != side || pixels.shape[3] != side || !pixels.is_floating_point() || pixels.shape[0] == 0)
            throw new ArgumentException($"pixel values must be a float tensor [batch, {Config.NumChannels}, {side}, {side}]; got {pixels.dtype} [{string.Join(", ", pixels.shape)}].", nameof(pixels));
        if (lastIndex < 0 || lastIndex > Config.NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(lastIndex), lastIndex, $"must be in [0, {Config.NumHiddenLayers}].");
        using var scope = NewDisposeScope();
        var states = new List<Tensor>(lastIndex + 1);
        var hidden = vision_model.pre_layrnorm.call(vision_model.embeddings.call(pixels.to(vision_model.pre_layrnorm.weight.device)));
        states.Add(hidden);
        for (int i = 0; i < lastIndex; i++)
        {
            hidden = vision_model.encoder.layers[i].call(hidden);
            states.Add(hidden);
        }
        foreach (var s in states) s.MoveToOuterDisposeScope();
        return states;
    }
}
