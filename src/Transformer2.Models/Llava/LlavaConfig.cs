using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Transformer2.Models.Llama;

namespace Transformer2.Models.Llava;

/// <summary>
/// The architecture of a LLaVA checkpoint as Hugging Face's <c>config.json</c> describes it: LLaVA-1.5
/// (<c>model_type: llava</c>, <c>LlavaForConditionalGeneration</c>) or LLaVA-NeXT (<c>llava_next</c>,
/// <c>LlavaNextForConditionalGeneration</c>, any-resolution tiling).
/// </summary>
/// <remarks>Keys the file leaves out take Hugging Face's defaults (those of <c>LlamaConfig</c> and <c>CLIPVisionConfig</c> inside).</remarks>
public sealed record LlavaConfig
{
    /// <summary>The <c>model_type</c> of LLaVA-1.5 checkpoints.</summary>
    public const string LlavaModelType = "llava";

    /// <summary>The <c>model_type</c> of LLaVA-NeXT checkpoints.</summary>
    public const string LlavaNextModelType = "llava_next";

    /// <summary><c>vision_feature_select_strategy</c> that drops the class token.</summary>
    public const string DefaultSelectStrategy = "default";

    /// <summary><c>vision_feature_select_strategy</c> that keeps the class token.</summary>
    public const string FullSelectStrategy = "full";

    /// <summary><c>model_type</c>: <see cref="LlavaModelType"/> or <see cref="LlavaNextModelType"/>.</summary>
    public string ModelType { get; init; } = LlavaModelType;

    /// <summary><c>text_config</c>: the language model.</summary>
    public required LlamaConfig TextConfig { get; init; }

    /// <summary><c>vision_config</c>: the CLIP vision tower.</summary>
    public required ClipVisionConfig VisionConfig { get; init; }

    /// <summary><c>image_token_index</c>: the id each image position holds in the expanded text.</summary>
    public int ImageTokenIndex { get; init; } = 32000;

    /// <summary><c>projector_hidden_act</c> between the projector's two linear layers (only <c>gelu</c> is supported).</summary>
    public string ProjectorHiddenAct { get; init; } = "gelu";

    /// <summary><c>multimodal_projector_bias</c>: whether the projector's linear layers have biases.</summary>
    public bool MultimodalProjectorBias { get; init; } = true;

    /// <summary><c>vision_feature_select_strategy</c>: <see cref="DefaultSelectStrategy"/> or <see cref="FullSelectStrategy"/>.</summary>
    public string VisionFeatureSelectStrategy { get; init; } = DefaultSelectStrategy;

    /// <summary><c>vision_feature_layer</c>: one index into the tower's hidden states (L+1 of them), or several concatenated.</summary>
    public IReadOnlyList<int> VisionFeatureLayers { get; init; } = [-2];

    /// <summary><c>image_grid_pinpoints</c> (LLaVA-NeXT): the [height, width] resolutions an image may be tiled at.</summary>
    public IReadOnlyList<(int Height, int Width)> ImageGridPinpoints { get; init; } = DefaultPinpoints;

    /// <summary><c>pad_token_id</c> at the top level, if any.</summary>
    public int? PadTokenId { get; init; }

    /// <summary><c>torch_dtype</c> as written, or <see langword="null"/>.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>Whether this is LLaVA-NeXT (any-resolution tiling and <c>image_newline</c>).</summary>
    public bool IsNext => ModelType == LlavaNextModelType;

    /// <summary>Image tokens per tile: <c>(image_size/patch_size)²</c>, plus one when the class token is kept.</summary>
    public int TokensPerTile => VisionConfig.NumPatches + (VisionFeatureSelectStrategy == FullSelectStrategy ? 1 : 0);

    /// <summary>Width of the projector's input: the tower width times the number of selected layers.</summary>
    public int ProjectorInputSize => VisionConfig.HiddenSize * VisionFeatureLayers.Count;

    /// <summary>Hugging Face's default pinpoints for LLaVA-NeXT.</summary>
    public static IReadOnlyList<(int Height, int Width)> DefaultPinpoints { get; } = [(336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008)];

    /// <summary>Reads and validates a <c>config.json</c> file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not valid JSON or a key is missing or out of range; the message names the file and the key.</exception>
    public static LlavaConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Model config '{path}' does not exist.", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses and validates the text of a <c>config.json</c>; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="InvalidDataException">The text is not valid JSON or a key is missing or out of range.</exception>
    public static LlavaConfig Parse(string json, string source = "config.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }) as JsonObject
                ?? throw new InvalidDataException($"Model config '{source}' must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Model config '{source}' is not valid JSON: {e.Message}", e);
        }
        var reader = new JsonConfigReader(root, source);
        string modelType = reader.String("model_type") ?? throw new InvalidDataException($"Model config '{source}' is missing the required key 'model_type'.");
        if (modelType is not (LlavaModelType or LlavaNextModelType))
            throw new InvalidDataException($"Model config '{source}': 'model_type' must be 'llava' or 'llava_next' (got '{modelType}').");
        var text = ParseText(reader.Object("text_config"), reader.Bool("tie_word_embeddings"), source);
        var config = new LlavaConfig
        {
            ModelType = modelType,
            TextConfig = text,
            VisionConfig = reader.Object("vision_config") is { } vision ? ClipVisionConfig.Parse(vision, source) : LlavaPresets.ClipVitLarge336,
            ImageTokenIndex = reader.Int("image_token_index") ?? reader.Int("image_token_id") ?? 32000,
            ProjectorHiddenAct = reader.String("projector_hidden_act") ?? "gelu",
            MultimodalProjectorBias = reader.Bool("multimodal_projector_bias") ?? true,
            VisionFeatureSelectStrategy = reader.String("vision_feature_select_strategy") ?? DefaultSelectStrategy,
            VisionFeatureLayers = reader.IntOrIntList("vision_feature_layer") ?? [-2],
            ImageGridPinpoints = reader.Pairs("image_grid_pinpoints") ?? DefaultPinpoints,
            PadTokenId = reader.Int("pad_token_id"),
            TorchDtype = reader.String("torch_dtype"),
        };
        config.Validate(source);
        return config;
    }

    /// <summary>The text config with Hugging Face's <c>LlamaConfig</c> defaults filled in (LLaVA files list only what differs).</summary>
    static LlamaConfig ParseText(JsonObject? node, bool? topLevelTie, string source)
    {
        var text = node is null ? new JsonObject() : (JsonObject)node.DeepClone();
        void Default(string key, JsonNode value)
        {
            if (!text.TryGetPropertyValue(key, out var existing) || existing is null) text[key] = value;
        }
        // transformers 5 writes the rotary settings as rope_parameters {rope_theta, rope_type, ...}.
        if (text["rope_parameters"] is JsonObject rope)
        {
            if (rope["rope_theta"] is { } theta) Default("rope_theta", theta.DeepClone());
            if (rope["rope_type"] is JsonValue type && type.GetValueKind() == JsonValueKind.String && type.GetValue<string>() != "default")
                Default("rope_scaling", rope.DeepClone());
        }
        Default("model_type", "llama");
        Default("vocab_size", 32000);
        Default("hidden_size", 4096);
        Default("intermediate_size", 11008);
        Default("num_hidden_layers", 32);
        Default("num_attention_heads", 32);
        Default("max_position_embeddings", 2048);
        Default("rms_norm_eps", 1e-6);
        Default("bos_token_id", 1);
        Default("eos_token_id", 2);
        if (topLevelTie is { } tie) Default("tie_word_embeddings", tie);
        try
        {
            return LlamaConfig.Parse(text.ToJsonString(), source + " (text_config)");
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"Model config '{source}': text_config is invalid: {e.Message}", e);
        }
    }

    /// <summary>Checks every value and their consistency.</summary>
    /// <exception cref="InvalidDataException">A value is out of range; the message names the key.</exception>
    public void Validate(string source = "config.json")
    {
        void Fail(string key, object? value, string rule) =>
            throw new InvalidDataException($"Model config '{source}': '{key}' {rule} (got {Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null"}).");

        if (ModelType is not (LlavaModelType or LlavaNextModelType)) Fail("model_type", ModelType, "must be 'llava' or 'llava_next'");
        ArgumentNullException.ThrowIfNull(TextConfig);
        ArgumentNullException.ThrowIfNull(VisionConfig);
        TextConfig.Validate(source + " (text_config)");
        VisionConfig.Validate(source);
        if (ImageTokenIndex < 0 || ImageTokenIndex >= TextConfig.VocabSize)
            Fail("image_token_index", ImageTokenIndex, $"must be in [0, text_config.vocab_size = {TextConfig.VocabSize})");
        if (ProjectorHiddenAct != "gelu") Fail("projector_hidden_act", ProjectorHiddenAct, "must be 'gelu'");
        if (VisionFeatureSelectStrategy is not (DefaultSelectStrategy or FullSelectStrategy))
            Fail("vision_feature_select_strategy", VisionFeatureSelectStrategy, "must be 'default' or 'full'");
        if (IsNext && VisionFeatureSelectStrategy == FullSelectStrategy)
            Fail("vision_feature_select_strategy", VisionFeatureSelectStrategy, "must be 'default' for llava_next (Hugging Face cannot tile with the class token either)");
        if (VisionFeatureLayers.Count == 0) Fail("vision_feature_layer", "[]", "must name at least one layer");
        int states = VisionConfig.NumHiddenLayers + 1;
        foreach (int layer in VisionFeatureLayers)
            if (layer < -states || layer >= states) Fail("vision_feature_layer", layer, $"must index the {states} hidden states of the vision tower");
        if (IsNext)
        {
            if (ImageGridPinpoints.Count == 0) Fail("image_grid_pinpoints", "[]", "must list at least one resolution");
            int side = VisionConfig.ImageSize;
            foreach (var (h, w) in ImageGridPinpoints)
                if (h <= 0 || w <= 0 || h % side != 0 || w % side != 0)
                    Fail("image_grid_pinpoints", $"[{h}, {w}]", $"must hold positive multiples of vision_config.image_size = {side}");
        }
    }

    /// <summary>The hidden-state index (0 = output of <c>pre_layrnorm</c>, i = output of layer i) a feature layer refers to.</summary>
    internal int HiddenStateIndex(int layer) => layer < 0 ? VisionConfig.NumHiddenLayers + 1 + layer : layer;

    /// <summary>Writes this config in Hugging Face's <c>config.json</c> form.</summary>
    public string ToJson()
    {
        var text = JsonNode.Parse(TextConfig.ToJson())!.AsObject();
        var root = new JsonObject
        {
            ["architectures"] = new JsonArray(IsNext ? "LlavaNextForConditionalGeneration" : "LlavaForConditionalGeneration"),
            ["model_type"] = ModelType,
            ["image_token_index"] = ImageTokenIndex,
            ["projector_hidden_act"] = ProjectorHiddenAct,
            ["multimodal_projector_bias"] = MultimodalProjectorBias,
            ["vision_feature_select_strategy"] = VisionFeatureSelectStrategy,
            ["vision_feature_layer"] = VisionFeatureLayers.Count == 1 ? VisionFeatureLayers[0] : new JsonArray(VisionFeatureLayers.Select(l => (JsonNode)l).ToArray()),
            ["text_config"] = text,
            ["vision_config"] = VisionConfig.ToJsonObject(),
            ["tie_word_embeddings"] = TextConfig.TieWordEmbeddings,
        };
        if (IsNext)
        {
            root["image_grid_pinpoints"] = new JsonArray(ImageGridPinpoints.Select(p => (JsonNode)new JsonArray(p.Height, p.Width)).ToArray());
            root["use_image_newline_parameter"] = true;
        }
        if (PadTokenId is { } pad) root["pad_token_id"] = pad;
        if (TorchDtype is not null) root["torch_dtype"] = TorchDtype;
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
