using Transformer2.Models.Llama;

namespace Transformer2.Models.Llava;

/// <summary>The published <c>config.json</c> values of the LLaVA checkpoints the paper and Hugging Face use.</summary>
public static class LlavaPresets
{
    /// <summary>openai/clip-vit-large-patch14-336, the vision tower of both LLaVA-1.5 and LLaVA-NeXT.</summary>
    public static ClipVisionConfig ClipVitLarge336 => new()
    {
        HiddenSize = 1024,
        IntermediateSize = 4096,
        NumHiddenLayers = 24,
        NumAttentionHeads = 16,
        ImageSize = 336,
        PatchSize = 14,
        ProjectionDim = 768,
        HiddenAct = ClipVisionConfig.QuickGelu,
        LayerNormEps = 1e-5,
    };

    /// <summary>llava-hf/llava-1.5-7b-hf (Vicuna-7B v1.5 with 64 extra token rows, image token 32000).</summary>
    public static LlavaConfig Llava15_7B => new()
    {
        ModelType = LlavaConfig.LlavaModelType,
        TextConfig = new LlamaConfig
        {
            ModelType = LlamaConfig.LlamaModelType,
            HiddenSize = 4096,
            IntermediateSize = 11008,
            NumHiddenLayers = 32,
            NumAttentionHeads = 32,
            NumKeyValueHeads = 32,
            HeadDim = 128,
            RmsNormEps = 1e-5,
            RopeTheta = 10000,
            MaxPositionEmbeddings = 4096,
            VocabSize = 32064,
            BosTokenId = 1,
            EosTokenIds = [2],
            TorchDtype = "float16",
        },
        VisionConfig = ClipVitLarge336,
        ImageTokenIndex = 32000,
        PadTokenId = 32001,
        TorchDtype = "float16",
    };

    /// <summary>llava-hf/llama3-llava-next-8b-hf, the paper's vision-language backbone (Llama-3-8B-Instruct, image token 128256).</summary>
    public static LlavaConfig Llama3LlavaNext8B => new()
    {
        ModelType = LlavaConfig.LlavaNextModelType,
        // Llama-3-8B-Instruct with 64 extra embedding rows for the image and padding tokens.
        TextConfig = LlamaPresets.Llama3_8BInstruct with { VocabSize = 128320 },
        VisionConfig = ClipVitLarge336,
        ImageTokenIndex = 128256,
        ImageGridPinpoints = LlavaConfig.DefaultPinpoints,
        TorchDtype = "bfloat16",
    };

    /// <summary>Every preset by its Hugging Face repository name.</summary>
    public static IReadOnlyDictionary<string, LlavaConfig> All => new Dictionary<string, LlavaConfig>
    {
        ["llava-hf/llava-1.5-7b-hf"] = Llava15_7B,
        ["llava-hf/llama3-llava-next-8b-hf"] = Llama3LlavaNext8B,
    };
}
