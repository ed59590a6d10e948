using Transformer2.Models.Llama;
using Transformer2.Models.Llava;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Llava;

/// <summary>Small random LLaVA configurations that run every code path of the real ones in milliseconds.</summary>
internal static class TinyLlava
{
    public const int ImageToken = 100;

    public static ClipVisionConfig Vision(int layers = 3) => new()
    {
        HiddenSize = 32,
        IntermediateSize = 48,
        NumHiddenLayers = layers,
        NumAttentionHeads = 4,
        ImageSize = 8,
        PatchSize = 2,
        ProjectionDim = 16,
        LayerNormEps = 1e-5,
    };

    public static LlavaConfig Config(bool next, IReadOnlyList<int>? featureLayers = null, string strategy = LlavaConfig.DefaultSelectStrategy) => new()
    {
        ModelType = next ? LlavaConfig.LlavaNextModelType : LlavaConfig.LlavaModelType,
        TextConfig = TinyModels.Llama(),
        VisionConfig = Vision(),
        ImageTokenIndex = ImageToken,
        VisionFeatureLayers = featureLayers ?? [-2],
        VisionFeatureSelectStrategy = strategy,
        ImageGridPinpoints = [(8, 16), (16, 8), (16, 16)],
    };

    public static LlavaForConditionalGeneration Create(LlavaConfig config, long seed = 99)
    {
        manual_seed(seed);
        var model = new LlavaForConditionalGeneration(config);
        model.eval();
        // Random weights of std 0.02 give the image almost no say; larger projector weights make it matter in tests.
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
                if (name.Contains("multi_modal_projector") || name.Contains("vision_tower") || name.EndsWith("image_newline", StringComparison.Ordinal))
                    if (p.dim() >= 1 && !name.Contains("layer_norm") && !name.Contains("layrnorm")) p.mul_(10);
        }
        return model;
    }

    /// <summary>An image of random normalised pixels with <paramref name="patches"/> patches.</summary>
    public static LlavaImage RandomImage(LlavaConfig config, int originalHeight, int originalWidth, int seed = 5)
    {
        int patches = config.IsNext
            ? 1 + LlavaNextLayout.TileGrid(config, originalHeight, originalWidth).Rows * LlavaNextLayout.TileGrid(config, originalHeight, originalWidth).Columns
            : 1;
        int side = config.VisionConfig.ImageSize;
        var random = new Random(seed);
        var pixels = new float[patches * 3 * side * side];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)(random.NextDouble() * 4 - 2);
        return new LlavaImage(pixels, patches, side, originalHeight, originalWidth);
    }
}
