using System.Text.Json;
using Transformer2.Adaptation.Export;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Models.Gguf;
using Transformer2.Tests.Core.Svf;
using Transformer2.Models.Llama;
using Transformer2.Tests.Models;
using Transformer2.Tests.Models.Oracle;
using static TorchSharp.torch;

namespace Transformer2.Tests.Adaptation.Export;

/// <summary>Merged exports of the bundled model's experts: the HF folder reloads bit for bit, llama.cpp runs the GGUF like our merged model.</summary>
public class MergedExportTests : ExportTestBase
{
    static IEnumerable<TestCaseData> Plans()
    {
        yield return new TestCaseData(ExportFixture.Arith).SetName("SingleExpert");
        yield return new TestCaseData(ExportFixture.ArithCodeMixture).SetName("Mixture");
    }

    [TestCaseSource(nameof(Plans))]
    public void HuggingFaceExportReloadsBitForBit(AdaptationPlan plan)
    {
        var progress = new List<ExportProgress>();
        _fixture.Exporter.ExportHuggingFace(plan, _output, progress: new SynchronousProgress<ExportProgress>(progress.Add));
        int[] tokens = _fixture.PromptTokens();

        using var reloaded = LlamaForCausalLM.FromPretrained(_output);
        _fixture.WithMerged(plan, () =>
        {
            var ours = _fixture.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, parameter) in reloaded.named_parameters())
                Assert.That(SvfTestData.SameBits(parameter, ours[name]), Is.True, $"'{name}' differs from our merged weight");
            return 0;
        });
        using var expected = _fixture.MergedLogits(plan, tokens);
        using var actual = ExportFixture.Logits(reloaded, tokens);
        Assert.That(SvfTestData.SameBits(actual, expected), Is.True, "logits of the reloaded export equal our merged model's bit for bit");

        using var baseLogits = _fixture.MergedLogits(AdaptationPlan.Base, tokens);
        Assert.That((baseLogits - expected).abs().max().item<float>(), Is.GreaterThan(1e-3f), "the expert changes the logits (the test can fail)");
        foreach (string file in (string[])["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
            Assert.That(File.Exists(Path.Combine(_output, file)), Is.True, file);
        Assert.That(progress, Is.Not.Empty);
    }

    [Test]
    public void ExportRestoresTheBaseWeights()
    {
        var before = _fixture.Layers.ToDictionary(l => l.Key, l => l.Value.weight!.clone());
        _fixture.Exporter.ExportHuggingFace(ExportFixture.Arith, _output);
        foreach (var (target, weight) in before)
        {
            Assert.That(SvfTestData.SameBits(_fixture.Layers[target].weight!, weight), Is.True, target);
            Assert.That(_fixture.Layers[target].IsMerged, Is.False, target);
            weight.Dispose();
        }
    }

    [Test]
    public void ShardedExportWritesAnIndexAndReloads()
    {
        _fixture.Exporter.ExportHuggingFace(ExportFixture.Arith, _output, new HuggingFaceExportOptions { MaxShardBytes = 400_000 });
        string index = Path.Combine(_output, "model.safetensors.index.json");
        Assert.That(File.Exists(index), Is.True);
        Assert.That(File.Exists(Path.Combine(_output, "model.safetensors")), Is.False);
        var shards = Directory.GetFiles(_output, "model-*-of-*.safetensors");
        Assert.That(shards, Has.Length.GreaterThan(1));
        Assert.That(shards.All(s => new FileInfo(s).Length <= 400_000 + 16_384), Is.True, "each shard near the limit (a header on top)");
        using (var document = JsonDocument.Parse(File.ReadAllText(index)))
        {
            var map = document.RootElement.GetProperty("weight_map");
            Assert.That(map.EnumerateObject().Select(e => e.Value.GetString()).Distinct().Count(), Is.EqualTo(shards.Length));
            Assert.That(map.TryGetProperty("model.layers.0.mlp.up_proj.weight", out _), Is.True);
        }

        int[] tokens = _fixture.PromptTokens();
        using var reloaded = LlamaForCausalLM.FromPretrained(_output);
        using var expected = _fixture.MergedLogits(ExportFixture.Arith, tokens);
        using var actual = ExportFixture.Logits(reloaded, tokens);
        Assert.That(SvfTestData.SameBits(actual, expected), Is.True);
    }

    [Test]
    public void HuggingFaceExportStoresTheRequestedDtype()
    {
        _fixture.Exporter.ExportHuggingFace(ExportFixture.Arith, _output, new HuggingFaceExportOptions { DType = ScalarType.BFloat16 });
        using var file = Transformer2.Core.IO.SafetensorsFile.Open(Path.Combine(_output, "model.safetensors"));
        Assert.That(file.Names.Select(n => file.GetInfo(n).DType).Distinct(), Is.EqualTo(new[] { "BF16" }));
        Assert.That(File.ReadAllText(Path.Combine(_output, "config.json")), Does.Contain("\"bfloat16\""));
    }

    [Test]
    public void BadOptionsAreRefusedWithTheSettingNamed()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _fixture.Exporter.ExportHuggingFace(ExportFixture.Arith, _output, new HuggingFaceExportOptions { MaxShardBytes = 0 }));
        Assert.That(error!.ParamName, Is.EqualTo("MaxShardBytes"));
        Assert.Throws<KeyNotFoundException>(() => _fixture.Exporter.ExportHuggingFace(AdaptationPlan.Single("no-such-expert"), _output));
    }

    [TestCaseSource(nameof(Plans))]
    public void LlamaCppRunsTheGgufExportLikeOurMergedModel(AdaptationPlan plan)
    {
        string gguf = Path.Combine(_output, "model.gguf");
        _fixture.Exporter.ExportGguf(plan, gguf);
        int[] tokens = _fixture.PromptTokens();
        using var llamaCpp = LlamaCpp.Load(gguf, tokens.Length);
        using var theirs = LlamaCppOracleTests.ToTensor(llamaCpp.Decode(tokens));
        using var ours = _fixture.MergedLogits(plan, tokens);
        float difference = (ours - theirs).abs().max().item<float>();
        TestContext.Out.WriteLine($"max |ours - llama.cpp| = {difference:E2}, logit scale {theirs.abs().max().item<float>():F2}");
        Assert.That(difference, Is.LessThanOrEqualTo(OracleTolerance));
        Assert.That(theirs.abs().max().item<float>(), Is.GreaterThan(0.5f), "logits are O(1), so the tolerance means something");
    }

    [Test]
    public void LlamaCppTokenizesLikeOurTokenizerFromTheGgufMetadata()
    {
        string gguf = Path.Combine(_output, "model.gguf");
        _fixture.Exporter.ExportGguf(ExportFixture.Arith, gguf);
        using var llamaCpp = LlamaCpp.Load(gguf, 64);
        foreach (string text in (string[])["<|begin_of_text|>What is 12 + 7?", "def add(a, b):\n    return a+b", "Answer: (B) 42."])
            Assert.That(llamaCpp.Tokenize(text), Is.EqualTo(_fixture.Tokenizer.Encode(text)), text);
    }

    [TestCase(GgufTensorType.F16, ScalarType.Float16)]
    [TestCase(GgufTensorType.BF16, ScalarType.BFloat16)]
    public void HalfPrecisionGgufMatchesOurModelAtThatPrecision(GgufTensorType type, ScalarType dtype)
    {
        string gguf = Path.Combine(_output, "model.gguf");
        _fixture.Exporter.ExportGguf(ExportFixture.Arith, gguf, new GgufExportOptions { Type = type });
        // Ours: the same merged weights rounded to that dtype, computed in F32. llama.cpp also rounds activations for its
        // half-precision dot products, hence the looser bound.
        _fixture.Exporter.ExportHuggingFace(ExportFixture.Arith, Path.Combine(_output, "hf"), new HuggingFaceExportOptions { DType = dtype });
        using var rounded = LlamaForCausalLM.FromPretrained(Path.Combine(_output, "hf"), ScalarType.Float32);
        int[] tokens = _fixture.PromptTokens();
        using var ours = ExportFixture.Logits(rounded, tokens);
        using var llamaCpp = LlamaCpp.Load(gguf, tokens.Length);
        using var theirs = LlamaCppOracleTests.ToTensor(llamaCpp.Decode(tokens));
        float difference = (ours - theirs).abs().max().item<float>();
        TestContext.Out.WriteLine($"{type}: max |ours - llama.cpp| = {difference:E2}");
        Assert.That(difference, Is.LessThan(type == GgufTensorType.F16 ? 2e-2f : 1e-1f));
        Assert.That(new FileInfo(gguf).Length, Is.LessThan(new FileInfo(Path.Combine(_fixture.Folder, "model.safetensors")).Length * 0.6), "2-byte weights");
    }
}
