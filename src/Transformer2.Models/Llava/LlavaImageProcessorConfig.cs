using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Transformer2.Models.Llava;

/// <summary>
/// A checkpoint's <c>preprocessor_config.json</c>: Hugging Face's <c>CLIPImageProcessor</c>, <c>LlavaImageProcessor</c>
/// (optional pad to square) or <c>LlavaNextImageProcessor</c> (any-resolution tiling).
/// </summary>
public sealed record LlavaImageProcessorConfig
{
    /// <summary>OpenAI CLIP's per-channel mean.</summary>
    public static IReadOnlyList<double> ClipMean { get; } = [0.48145466, 0.4578275, 0.40821073];

    /// <summary>OpenAI CLIP's per-channel standard deviation.</summary>
    public static IReadOnlyList<double> ClipStd { get; } = [0.26862954, 0.26130258, 0.27577711];

    /// <summary><c>image_processor_type</c>.</summary>
    public string ImageProcessorType { get; init; } = "CLIPImageProcessor";

    /// <summary><c>do_resize</c>: resize the shortest edge to <see cref="ShortestEdge"/>.</summary>
    public bool DoResize { get; init; } = true;

    /// <summary><c>size.shortest_edge</c>.</summary>
    public int ShortestEdge { get; init; } = 336;

    /// <summary><c>do_center_crop</c>.</summary>
    public bool DoCenterCrop { get; init; } = true;

    /// <summary><c>crop_size</c> (square: height = width).</summary>
    public int CropSize { get; init; } = 336;

    /// <summary><c>do_rescale</c>: multiply by <see cref="RescaleFactor"/>.</summary>
    public bool DoRescale { get; init; } = true;

    /// <summary><c>rescale_factor</c> (1/255).</summary>
    public double RescaleFactor { get; init; } = 1.0 / 255;

    /// <summary><c>do_normalize</c>: subtract <see cref="ImageMean"/>, divide by <see cref="ImageStd"/>.</summary>
    public bool DoNormalize { get; init; } = true;

    /// <summary><c>image_mean</c>, one value per channel.</summary>
    public IReadOnlyList<double> ImageMean { get; init; } = ClipMean;

    /// <summary><c>image_std</c>, one value per channel.</summary>
    public IReadOnlyList<double> ImageStd { get; init; } = ClipStd;

    /// <summary><c>do_pad</c> of <c>LlavaImageProcessor</c>: pad to a square with the mean colour first (ignored otherwise).</summary>
    public bool DoPad { get; init; }

    /// <summary><c>image_grid_pinpoints</c> (LLaVA-NeXT).</summary>
    public IReadOnlyList<(int Height, int Width)> ImageGridPinpoints { get; init; } = LlavaConfig.DefaultPinpoints;

    /// <summary>Whether this processor tiles (LLaVA-NeXT).</summary>
    public bool IsNext => ImageProcessorType == "LlavaNextImageProcessor";

    /// <summary>llava-hf/llava-1.5-7b-hf: shortest edge 336, centre crop 336, CLIP normalisation.</summary>
    public static LlavaImageProcessorConfig Llava15 => new();

    /// <summary>llava-hf/llama3-llava-next-8b-hf: tiles of 336 over the default pinpoints.</summary>
    public static LlavaImageProcessorConfig LlavaNext => new() { ImageProcessorType = "LlavaNextImageProcessor", DoPad = true };

    /// <summary>Reads <c>preprocessor_config.json</c>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not valid JSON or a value is unsupported; the message names the key.</exception>
    public static LlavaImageProcessorConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Preprocessor config '{path}' does not exist.", path);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"Preprocessor config '{path}' must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Preprocessor config '{path}' is not valid JSON: {e.Message}", e);
        }
        var reader = new JsonConfigReader(root, path);
        var defaults = new LlavaImageProcessorConfig();
        string type = reader.String("image_processor_type") ?? defaults.ImageProcessorType;
        if (type.EndsWith("Fast", StringComparison.Ordinal)) type = type[..^4];
        if (type is not ("CLIPImageProcessor" or "LlavaImageProcessor" or "LlavaNextImageProcessor"))
            throw new InvalidDataException($"Preprocessor config '{path}': 'image_processor_type' '{type}' is not supported (CLIPImageProcessor, LlavaImageProcessor, LlavaNextImageProcessor).");
        int? resample = reader.Int("resample");
        if (resample is not (null or 3))
            throw new InvalidDataException($"Preprocessor config '{path}': 'resample' must be 3 (bicubic); got {resample}.");
        var size = reader.Object("size");
        int shortest = defaults.ShortestEdge;
        if (size is not null)
        {
            var s = new JsonConfigReader(size, path, "size.");
            shortest = s.Int("shortest_edge") ?? Math.Min(s.Int("height") ?? throw Missing("size.shortest_edge"), s.Int("width") ?? throw Missing("size.width"));
        }
        var cropNode = reader.Object("crop_size");
        int crop = defaults.CropSize;
        if (cropNode is not null)
        {
            var c = new JsonConfigReader(cropNode, path, "crop_size.");
            int h = c.Int("height") ?? throw Missing("crop_size.height"), w = c.Int("width") ?? throw Missing("crop_size.width");
            if (h != w) throw new InvalidDataException($"Preprocessor config '{path}': 'crop_size' must be square (got {h}×{w}).");
            crop = h;
        }
        var config = new LlavaImageProcessorConfig
        {
            ImageProcessorType = type,
            DoResize = reader.Bool("do_resize") ?? true,
            ShortestEdge = shortest,
            DoCenterCrop = reader.Bool("do_center_crop") ?? true,
            CropSize = crop,
            DoRescale = reader.Bool("do_rescale") ?? true,
            RescaleFactor = reader.Double("rescale_factor") ?? defaults.RescaleFactor,
            DoNormalize = reader.Bool("do_normalize") ?? true,
            ImageMean = reader.Doubles("image_mean") ?? ClipMean,
            ImageStd = reader.Doubles("image_std") ?? ClipStd,
            DoPad = reader.Bool("do_pad") ?? (type == "LlavaNextImageProcessor"),
            ImageGridPinpoints = reader.Pairs("image_grid_pinpoints") ?? LlavaConfig.DefaultPinpoints,
        };
        config.Validate(path);
        return config;

        InvalidDataException Missing(string key) => new($"Preprocessor config '{path}' is missing '{key}'.");
    }

    /// <summary>Checks the values.</summary>
    /// <exception cref="InvalidDataException">A value is out of range; the message names the key.</exception>
    public void Validate(string source = "preprocessor_config.json")
    {
        void Fail(string key, object value, string rule) =>
            throw new InvalidDataException($"Preprocessor config '{source}': '{key}' {rule} (got {Convert.ToString(value, CultureInfo.InvariantCulture)}).");
        if (ShortestEdge <= 0) Fail("size.shortest_edge", ShortestEdge, "must be positive");
        if (CropSize <= 0) Fail("crop_size", CropSize, "must be positive");
        if (ImageMean.Count != 3) Fail("image_mean", ImageMean.Count, "must have 3 values");
        if (ImageStd.Count != 3 || ImageStd.Any(s => !(s > 0))) Fail("image_std", string.Join(",", ImageStd), "must have 3 positive values");
        if (!(RescaleFactor > 0)) Fail("rescale_factor", RescaleFactor, "must be positive");
        if (IsNext)
            foreach (var (h, w) in ImageGridPinpoints)
                if (h <= 0 || w <= 0 || h % CropSize != 0 || w % CropSize != 0)
                    Fail("image_grid_pinpoints", $"[{h}, {w}]", $"must hold positive multiples of crop_size = {CropSize}");
    }
}
