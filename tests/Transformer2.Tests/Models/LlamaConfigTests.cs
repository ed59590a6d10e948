using Transformer2.Models.Llama;

namespace Transformer2.Tests.Models;

public class LlamaConfigTests
{
    // The text of meta-llama/Llama-3.1-8B-Instruct's config.json (fields this library reads, plus a few it ignores).
    const string Llama31Json = """
    {
      "architectures": ["LlamaForCausalLM"],
      "attention_bias": false,
      "bos_token_id": 128000,
      "eos_token_id": [128001, 128008, 128009],
      "hidden_act": "silu",
      "hidden_size": 4096,
      "initializer_range": 0.02,
      "intermediate_size": 14336,
      "max_position_embeddings": 131072,
      "model_type": "llama",
      "num_attention_heads": 32,
      "num_hidden_layers": 32,
      "num_key_value_heads": 8,
      "pretraining_tp": 1,
      "rms_norm_eps": 1e-05,
      "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
      "rope_theta": 500000.0,
      "tie_word_embeddings": false,
      "torch_dtype": "bfloat16",
      "transformers_version": "4.42.3",
      "use_cache": true,
      "vocab_size": 128256
    }
    """;

    const string MistralJson = """
    {
      "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 4096,
      "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
      "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "sliding_window": null,
      "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 32768
    }
    """;

    [Test]
    public void ParsesLlama31ConfigAndMatchesPreset()
    {
        var config = LlamaConfig.Parse(Llama31Json);
        Assert.That(config.HeadDim, Is.EqualTo(128));
        Assert.That(config.EosTokenIds, Is.EqualTo(new[] { 128001, 128008, 128009 }));
        Assert.That(config.RopeScaling, Is.EqualTo(RopeScaling.Llama3(8, 1, 4, 8192)));
        AssertSameConfig(config, LlamaPresets.Llama31_8BInstruct);
    }

    [Test]
    public void ParsesMistralConfigWithNullSlidingWindow()
    {
        var config = LlamaConfig.Parse(MistralJson);
        Assert.That(config.ModelType, Is.EqualTo("mistral"));
        Assert.That(config.SlidingWindow, Is.Null);
        Assert.That(config.EosTokenIds, Is.EqualTo(new[] { 2 }));
        AssertSameConfig(config, LlamaPresets.Mistral7B_v03);
    }

    [Test]
    public void ToJsonRoundTrips()
    {
        foreach (var (name, preset) in LlamaPresets.All)
        {
            var again = LlamaConfig.Parse(preset.ToJson(), name);
            AssertSameConfig(again, preset);
        }
        var linear = TinyModels.Llama(scaling: RopeScaling.Linear(2)) with { SlidingWindow = null };
        AssertSameConfig(LlamaConfig.Parse(linear.ToJson()), linear);
    }

    [TestCase("\"hidden_size\": 4096,", "", "hidden_size")]
    [TestCase("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 7", "num_key_value_heads")]
    [TestCase("\"vocab_size\": 128256", "\"vocab_size\": \"many\"", "vocab_size")]
    [TestCase("\"rope_type\": \"llama3\"", "\"rope_type\": \"yarn\"", "rope_scaling.rope_type")]
    [TestCase("\"high_freq_factor\": 4.0,", "", "rope_scaling.high_freq_factor")]
    [TestCase("\"eos_token_id\": [128001, 128008, 128009]", "\"eos_token_id\": [128001, 999999]", "eos_token_id")]
    [TestCase("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": -1", "rms_norm_eps")]
    [TestCase("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": 0", "tie_word_embeddings")]
    public void InvalidValuesNameTheKeyAndSource(string find, string replace, string key)
    {
        string json = Llama31Json.Replace(find, replace);
        Assert.That(json, Is.Not.EqualTo(Llama31Json), "test case must change the text");
        var error = Assert.Throws<InvalidDataException>(() => LlamaConfig.Parse(json, "/models/x/config.json"))!;
        Assert.That(error.Message, Does.Contain("/models/x/config.json").And.Contain($"'{key}'"));
    }

    [Test]
    public void LoadReportsMissingFileAndBadJson()
    {
        string folder = TinyModels.TempFolder();
        try
        {
            string path = Path.Combine(folder, "config.json");
            Assert.Throws<FileNotFoundException>(() => LlamaConfig.Load(path));
            File.WriteAllText(path, "{ not json");
            var error = Assert.Throws<InvalidDataException>(() => LlamaConfig.Load(path))!;
            Assert.That(error.Message, Does.Contain(path));
            File.WriteAllText(path, "[1, 2]");
            Assert.Throws<InvalidDataException>(() => LlamaConfig.Load(path));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Test]
    public void HeadDimDefaultsToHiddenOverHeads()
    {
        string json = Llama31Json.Replace("\"hidden_size\": 4096", "\"hidden_size\": 2048");
        Assert.That(LlamaConfig.Parse(json).HeadDim, Is.EqualTo(64));
        json = json.Replace("\"hidden_act\"", "\"head_dim\": 128, \"hidden_act\"");
        Assert.That(LlamaConfig.Parse(json).HeadDim, Is.EqualTo(128));
    }

    static void AssertSameConfig(LlamaConfig actual, LlamaConfig expected)
    {
        Assert.That(actual with { EosTokenIds = [] }, Is.EqualTo(expected with { EosTokenIds = [] }));
        Assert.That(actual.EosTokenIds, Is.EqualTo(expected.EosTokenIds));
    }
}
