using System.Globalization;
using System.Text.Json.Nodes;

namespace Transformer2.Models.Llava;

/// <summary>The CLIP ViT vision tower of a LLaVA checkpoint (Hugging Face's <c>vision_config</c>, <c>model_type: clip_vision_model</c>).</summary>
/// <remarks>Defaults are Hugging Face's <c>CLIPVisionConfig</c> defaults, used for keys a config file leaves out.</remarks>
public sealed record ClipVisionConfig
{
    /// <summary>The activation <c>x·σ(1.702x)</c> that OpenAI's CLIP uses.</summary>
    public const string QuickGelu = "quick_gelu";

    /// <summary>The exact (erf) GELU.</summary>
    public const string Gelu = "gelu";

    /// <summary><c>hidden_size</c>: width of the vision transformer.</summary>
    public int HiddenSize { get; init; } = 768;

    /// <summary><c>intermediate_size</c>: width of the MLP.</summary>
    public int IntermediateSize { get; init; } = 3072;

    /// <summary><c>num_hidden_layers</c>.</summary>
    public int NumHiddenLayers { get; init; } = 12;

    /// <summary><c>num_attention_heads</c>.</summary>
    public int NumAttentionHeads { get; init; } = 12;

    /// <summary><c>num_channels</c> of the input image (3).</summary>
    public int NumChannels { get; init; } = 3;

    /// <summary><c>image_size</c>: side of the square input in pixels.</summary>
    public int ImageSize { get; init; } = 224;

    /// <summary><c>patch_size</c>: side of one patch in pixels.</summary>
    public int PatchSize { get; init; } = 32;

    /// <summary><c>hidden_act</c>: <see cref="QuickGelu"/> or <see cref="Gelu"/>.</summary>
    public string HiddenAct { get; init; } = QuickGelu;

    /// <summary><c>layer_norm_eps</c>.</summary>
    public double LayerNormEps { get; init; } = 1e-5;

    /// <summary><c>projection_dim</c> (kept for round trips; LLaVA does not use CLIP's projection).</summary>
    public int ProjectionDim { get; init; } = 512;

    /// <summary>Patches per side: <c>image_size / patch_size</c>.</summary>
    public int PatchesPerSide => ImageSize / PatchSize;

    /// <summary>Patches per image: <c>(image_size / patch_size)²</c> (the class token not counted).</summary>
    public int NumPatches => PatchesPerSide * PatchesPerSide;

    /// <summary>Width of one attention head.</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Checks every value; <paramref name="source"/> names the config in the message.</summary>
    /// <exception cref="InvalidDataException">A value is out of range; the message names the key.</exception>
    public void Validate(string source = "config.json")
    {
        void Fail(string key, object value, string rule) =>
            throw new InvalidDataException($"Model config '{source}': 'vision_config.{key}' {rule} (got {Convert.ToString(value, CultureInfo.InvariantCulture)}).");

        if (HiddenSize <= 0) Fail("hidden_size", HiddenSize, "must be positive");
        if (IntermediateSize <= 0) Fail("intermediate_size", IntermediateSize, "must be positive");
        if (NumHiddenLayers <= 0) Fail("num_hidden_layers", NumHiddenLayers, "must be positive");
        if (NumAttentionHeads <= 0 || HiddenSize % NumAttentionHeads != 0)
            Fail("num_attention_heads", NumAttentionHeads, $"must be positive and divide hidden_size = {HiddenSize}");
        if (NumChannels != 3) Fail("num_channels", NumChannels, "must be 3 (RGB)");
        if (PatchSize <= 0) Fail("patch_size", PatchSize, "must be positive");
        if (ImageSize <= 0 || ImageSize % PatchSize != 0) Fail("image_size", ImageSize, $"must be a positive multiple of patch_size = {PatchSize}");
        if (HiddenAct is not (QuickGelu or Gelu)) Fail("hidden_act", HiddenAct, "must be 'quick_gelu' or 'gelu'");
        if (!(LayerNormEps > 0) || !double.IsFinite(LayerNormEps)) Fail("layer_norm_eps", LayerNormEps, "must be a positive number");
    }

    internal static ClipVisionConfig Parse(JsonObject? node, string source)
    {
        var defaults = new ClipVisionConfig();
        if (node is null) return defaults;
        var reader = new JsonConfigReader(node, source, "vision_config.");
        string? modelType = reader.String("model_type");
        if (modelType is not null and not "clip_vision_model")
            throw new InvalidDataException($"Model config '{source}': 'vision_config.model_type' must be 'clip_vision_model' (got '{modelType}'); other vision towers are not supported.");
        return new ClipVisionConfig
        {
            HiddenSize = reader.Int("hidden_size") ?? defaults.HiddenSize,
            IntermediateSize = reader.Int("intermediate_size") ?? defaults.IntermediateSize,
            NumHiddenLayers = reader.Int("num_hidden_layers") ?? defaults.NumHiddenLayers,
            NumAttentionHeads = reader.Int("num_attention_heads") ?? defaults.NumAttentionHeads,
            NumChannels = reader.Int("num_channels") ?? defaults.NumChannels,
            ImageSize = reader.Int("image_size") ?? defaults.ImageSize,
            PatchSize = reader.Int("patch_size") ?? defaults.PatchSize,
            HiddenAct = reader.String("hidden_act") ?? defaults.HiddenAct,
            LayerNormEps = reader.Double("layer_norm_eps") ?? defaults.LayerNormEps,
            ProjectionDim = reader.Int("projection_dim") ?? defaults.ProjectionDim,
        };
    }

    internal JsonObject ToJsonObject() => new()
    {
        ["model_type"] = "clip_vision_model",
        ["hidden_size"] = HiddenSize,
        ["intermediate_size"] = IntermediateSize,
        ["num_hidden_layers"] = NumHiddenLayers,
        ["num_attention_heads"] = NumAttentionHeads,
        ["num_channels"] = NumChannels,
        ["image_size"] = ImageSize,
        ["patch_size"] = PatchSize,
        ["hidden_act"] = HiddenAct,
        ["layer_norm_eps"] = LayerNormEps,
        ["projection_dim"] = ProjectionDim,
    };
}
