using Transformer2.Core.IO;
using Transformer2.Models.Llava;
using Transformer2.Tests.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Llava;

public class LlavaModelTests
{
    static long[] PromptWithImage(int imageTokens, params long[] after)
    {
        var ids = new List<long> { 1, 5, 6 };
        ids.AddRange(Enumerable.Repeat((long)TinyLlava.ImageToken, imageTokens));
        ids.AddRange(after);
        return ids.ToArray();
    }

    [Test]
    public void Llava15ImagePlusTextGivesLogitsThatDependOnTheImage()
    {
        var config = TinyLlava.Config(next: false);
        using var model = TinyLlava.Create(config);
        using var scope = NewDisposeScope();
        var image = TinyLlava.RandomImage(config, 20, 30);
        Assert.That(model.ImageTokenCount(image), Is.EqualTo(16));
        var ids = tensor(PromptWithImage(16, 7, 8, 9), [1, 22]);
        var logits = model.Forward(ids, [image]);
        Assert.That(logits.shape, Is.EqualTo(new long[] { 1, 22, 101 }));

        // The same as writing the features into the embeddings by hand and running the language model.
        var features = model.ImageFeatures([image]);
        Assert.That(features.shape, Is.EqualTo(new long[] { 16, 64 }));
        var embeds = model.model.language_model.embed_tokens.call(ids).clone();
        embeds[0, TensorIndex.Slice(3, 19)] = features;
        var expected = model.LanguageModel.ForwardFromEmbeddings(embeds);
        Assert.That((logits - expected).abs().max().item<float>(), Is.LessThan(1e-5));

        var other = model.Forward(ids, [TinyLlava.RandomImage(config, 20, 30, seed: 6)]);
        Assert.That((logits[0, -1] - other[0, -1]).abs().max().item<float>(), Is.GreaterThan(1e-4), "the image must reach the last position");
        Assert.That((logits[0, 2] - other[0, 2]).abs().max().item<float>(), Is.LessThan(1e-6), "positions before the image cannot see it");
    }

    [Test]
    public void FeatureLayerListAndFullStrategyWidenAndLengthenTheFeatures()
    {
        var config = TinyLlava.Config(next: false, featureLayers: [-2, 1], strategy: LlavaConfig.FullSelectStrategy);
        using var model = TinyLlava.Create(config);
        Assert.That(((TorchSharp.Modules.Linear)model.model.multi_modal_projector.linear_1).weight!.shape, Is.EqualTo(new long[] { 64, 64 }));
        var image = TinyLlava.RandomImage(config, 8, 8);
        Assert.That(model.ImageTokenCount(image), Is.EqualTo(17));
        using var features = model.ImageFeatures([image]);
        Assert.That(features.shape, Is.EqualTo(new long[] { 17, 64 }));
    }

    [TestCase(8, 8, 16 + 64 + 8)] // tiled 1×2 (8×16 pinpoint wins the tie-break by order)... unpadded rows
    [TestCase(10, 30, 0)]
    [TestCase(30, 10, 0)]
    [TestCase(16, 16, 0)]
    public void NextPacksBaseThenUnpaddedGridWithNewlines(int height, int width, int _)
    {
        var config = TinyLlava.Config(next: true);
        using var model = TinyLlava.Create(config);
        using var scope = NewDisposeScope();
        var image = TinyLlava.RandomImage(config, height, width);
        var features = model.model.ImageFeatures(image);
        Assert.That(features.shape[0], Is.EqualTo(model.ImageTokenCount(image)));

        // Independent packing: project every patch, then walk the grid row by row.
        var pixels = image.ToTensor();
        var states = model.model.vision_tower.HiddenStates(pixels, 2);
        var projected = model.model.multi_modal_projector.call(states[2].narrow(1, 1, 16)); // [P, 16, 64]
        var (tileRows, tileColumns) = LlavaNextLayout.TileGrid(config, height, width);
        int n = 4, rows = tileRows * n, columns = tileColumns * n;
        var (firstRow, keptRows, firstColumn, keptColumns) = LlavaNextLayout.Unpad(height, width, rows, columns);
        var expected = new List<Tensor>();
        for (int i = 0; i < 16; i++) expected.Add(projected[0, i]);
        for (int r = firstRow; r < firstRow + keptRows; r++)
        {
            for (int c = firstColumn; c < firstColumn + keptColumns; c++)
                expected.Add(projected[1 + (r / n) * tileColumns + c / n, (r % n) * n + c % n]);
            expected.Add(model.model.image_newline!);
        }
        var reference = stack(expected);
        Assert.That(features.shape, Is.EqualTo(reference.shape));
        Assert.That((features - reference).abs().max().item<float>(), Is.LessThan(1e-5));
    }

    [Test]
    public void NextTokenCountsOfTheRealConfigMatchHuggingFace()
    {
        var config = LlavaPresets.Llama3LlavaNext8B;
        Assert.That(LlavaNextLayout.TokenCount(config, 336, 336), Is.EqualTo(1176));
        Assert.That(LlavaNextLayout.TokenCount(config, 672, 672), Is.EqualTo(2928));
        Assert.That(LlavaNextLayout.TokenCount(LlavaPresets.Llava15_7B, 480, 640), Is.EqualTo(576));
        Assert.That(LlavaNextLayout.SelectBestResolution(480, 640, config.ImageGridPinpoints), Is.EqualTo((672, 672)));
        Assert.That(LlavaNextLayout.SelectBestResolution(300, 1000, config.ImageGridPinpoints), Is.EqualTo((336, 1008)));
    }

    [Test]
    public void MismatchedImageTokenCountIsAClearError()
    {
        var config = TinyLlava.Config(next: false);
        using var model = TinyLlava.Create(config);
        using var ids = tensor(PromptWithImage(15, 7), [1, 19]);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(ids, [TinyLlava.RandomImage(config, 8, 8)]));
        Assert.That(e!.Message, Does.Contain("15 image tokens").And.Contain("16 features"));
        var wrong = new LlavaImage(new float[2 * 3 * 8 * 8], 2, 8, 8, 8);
        Assert.Throws<ArgumentException>(() => model.ImageFeatures([wrong]));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void SaveLoadRoundTripAndLegacyLayoutGiveTheSameLogits(bool next)
    {
        var config = TinyLlava.Config(next);
        using var model = TinyLlava.Create(config);
        using var folder = new TempFolder();
        model.SavePretrained(folder.Path);
        using var scope = NewDisposeScope();
        var image = TinyLlava.RandomImage(config, 12, 20);
        int count = model.ImageTokenCount(image);
        var ids = tensor(PromptWithImage(count, 7, 8), [1, 3 + count + 2]);
        var expected = model.Forward(ids, [image]);
        using (var loaded = LlavaForConditionalGeneration.FromPretrained(folder.Path))
        {
            Assert.That(loaded.Config.IsNext, Is.EqualTo(next));
            Assert.That((loaded.Forward(ids, [image]) - expected).abs().max().item<float>(), Is.EqualTo(0));
        }

        // The llava-hf files on the Hub use the legacy names; they load into the same parameters.
        using var legacy = new TempFolder();
        File.Copy(folder.File("config.json"), legacy.File("config.json"));
        var tensors = model.StateDictShapes().Select(s => s.Key).Zip(model.named_parameters().Select(p => p.parameter))
            .Select(kv => new KeyValuePair<string, Tensor>(LegacyName(kv.First), kv.Second.detach()))
            .Append(new("vision_tower.vision_model.embeddings.position_ids", arange(17).unsqueeze(0)))
            .ToList();
        SafetensorsWriter.Write(legacy.File("model.safetensors"), tensors);
        using (var loaded = LlavaForConditionalGeneration.FromPretrained(legacy.Path))
            Assert.That((loaded.Forward(ids, [image]) - expected).abs().max().item<float>(), Is.EqualTo(0));

        // A stray tensor is named in the error.
        SafetensorsWriter.Write(legacy.File("model.safetensors"), tensors.Append(new("vision_tower.extra.weight", zeros(2))).ToList());
        var e = Assert.Throws<InvalidDataException>(() => LlavaForConditionalGeneration.FromPretrained(legacy.Path));
        Assert.That(e!.Message, Does.Contain("vision_tower.extra.weight"));
    }

    [Test]
    public void KeyLayoutsOfEveryTransformersVersionMapToTheModel()
    {
        var config = TinyLlava.Config(next: true);
        Assert.That(LlavaLoader.MapKey("model.language_model.layers.0.mlp.up_proj.weight", config), Is.EqualTo("model.language_model.layers.0.mlp.up_proj.weight"));
        Assert.That(LlavaLoader.MapKey("language_model.model.layers.0.mlp.up_proj.weight", config), Is.EqualTo("model.language_model.layers.0.mlp.up_proj.weight"));
        Assert.That(LlavaLoader.MapKey("language_model.lm_head.weight", config), Is.EqualTo("lm_head.weight"));
        Assert.That(LlavaLoader.MapKey("vision_tower.vision_model.pre_layrnorm.bias", config), Is.EqualTo("model.vision_tower.vision_model.pre_layrnorm.bias"));
        // transformers 5 drops the tower's "vision_model." level when saving.
        Assert.That(LlavaLoader.MapKey("vision_tower.encoder.layers.1.mlp.fc1.weight", config), Is.EqualTo("model.vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight"));
        Assert.That(LlavaLoader.MapKey("image_newline", config), Is.EqualTo("model.image_newline"));
        Assert.That(LlavaLoader.MapKey("vision_tower.vision_model.embeddings.position_ids", config), Is.Null);
    }

    [Test]
    public void TransformersFiveRopeParametersAreRead()
    {
        const string json = """
            { "model_type": "llava", "image_token_index": 100,
              "text_config": { "model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": 2, "vocab_size": 101, "rope_parameters": { "rope_theta": 500000.0, "rope_type": "default" } },
              "vision_config": { "model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 3,
                "num_attention_heads": 4, "image_size": 8, "patch_size": 2 } }
            """;
        var config = LlavaConfig.Parse(json);
        Assert.That(config.TextConfig.RopeTheta, Is.EqualTo(500000));
        Assert.That(config.TextConfig.RopeScaling, Is.Null);
    }

    static string LegacyName(string key) => key switch
    {
        _ when key.StartsWith("model.language_model.", StringComparison.Ordinal) => "language_model.model." + key["model.language_model.".Length..],
        _ when key.StartsWith("lm_head.", StringComparison.Ordinal) => "language_model." + key,
        _ when key.StartsWith("model.", StringComparison.Ordinal) => key["model.".Length..],
        _ => key,
    };

    [Test]
    public void ConfigParsesSparseHubFilesWithHuggingFaceDefaults()
    {
        const string json = """
            {
              "architectures": ["LlavaForConditionalGeneration"], "image_token_index": 32000, "model_type": "llava", "pad_token_id": 32001,
              "projector_hidden_act": "gelu",
              "text_config": { "max_position_embeddings": 4096, "model_type": "llama", "rms_norm_eps": 1e-05, "torch_dtype": "float16", "vocab_size": 32064 },
              "tie_word_embeddings": false, "torch_dtype": "float16",
              "vision_config": { "hidden_size": 1024, "image_size": 336, "intermediate_size": 4096, "model_type": "clip_vision_model",
                "num_attention_heads": 16, "num_hidden_layers": 24, "patch_size": 14, "projection_dim": 768, "vocab_size": 32000 },
              "vision_feature_layer": -2, "vision_feature_select_strategy": "default", "vocab_size": 32064
            }
            """;
        var config = LlavaConfig.Parse(json);
        Assert.That(config with { TorchDtype = null, PadTokenId = null }, Is.EqualTo(LlavaPresets.Llava15_7B with { TorchDtype = null, PadTokenId = null }).Using<LlavaConfig>(SameArchitecture));
        Assert.That(config.TextConfig.HiddenSize, Is.EqualTo(4096));
        Assert.That(config.TextConfig.IntermediateSize, Is.EqualTo(11008));
        Assert.That(config.TokensPerTile, Is.EqualTo(576));
        var roundTrip = LlavaConfig.Parse(config.ToJson());
        Assert.That(SameArchitecture(roundTrip, config));

        Assert.That(() => LlavaConfig.Parse(json.Replace("\"image_token_index\": 32000", "\"image_token_index\": 40000")),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("image_token_index"));
        Assert.That(() => LlavaConfig.Parse(json.Replace("clip_vision_model", "siglip_vision_model")),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("vision_config.model_type"));
        Assert.That(() => LlavaConfig.Parse(json.Replace("\"vision_feature_layer\": -2", "\"vision_feature_layer\": 30")),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("vision_feature_layer"));
    }

    static bool SameArchitecture(LlavaConfig a, LlavaConfig b) =>
        a.ModelType == b.ModelType && a.ImageTokenIndex == b.ImageTokenIndex && a.VisionConfig == b.VisionConfig
        && a.VisionFeatureLayers.SequenceEqual(b.VisionFeatureLayers) && a.VisionFeatureSelectStrategy == b.VisionFeatureSelectStrategy
        && a.ImageGridPinpoints.SequenceEqual(b.ImageGridPinpoints)
        && (a.TextConfig with { TorchDtype = null, EosTokenIds = [] }) == (b.TextConfig with { TorchDtype = null, EosTokenIds = [] })
        && a.TextConfig.EosTokenIds.SequenceEqual(b.TextConfig.EosTokenIds);
}
