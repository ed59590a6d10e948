using System.Text.Json;
using Transformer2.Adaptation.Export;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Adaptation.Experts;
using Transformer2.Core.Experts;
using Transformer2.Core.IO;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using Transformer2.Models.Gguf;
using Transformer2.Models.Llama;
using Transformer2.Tests.Models;
using Transformer2.Tests.Models.Oracle;
using Transformer2.Training.Lora;
using static TorchSharp.torch;

namespace Transformer2.Tests.Adaptation.Export;

/// <summary>Experts as LoRA adapters: the exact change at full rank, a shrinking error with rank, PEFT's layout, and llama.cpp's GGUF LoRA.</summary>
public class LoraExportTests : ExportTestBase
{
    // The bundled model's sizes, read from its config so that a regenerated bundle does not break the shape checks.
    int Hidden => checked((int)_fixture.Model.Config.HiddenSize);
    int Intermediate => checked((int)_fixture.Model.Config.IntermediateSize);

    [Test]
    public void FullRankReproducesTheMergedWeights()
    {
        using var adapter = _fixture.Exporter.ComputeLora(ExportFixture.ArithCodeMixture);
        Assert.That(adapter.Rank, Is.EqualTo(Hidden), "min(out, in) of the MLP matrices: the hidden size");
        var multipliers = PlanMultipliers.Compute(ExportFixture.ArithCodeMixture, _fixture.Experts, MixtureSemantics.Multipliers);
        Assert.That(adapter.Factors.Keys, Is.EquivalentTo(multipliers.Keys));
        foreach (var (target, (a, b)) in adapter.Factors)
        {
            using var scope = NewDisposeScope();
            var layer = _fixture.Layers[target];
            var merged = SvfComposer.Compose(layer.U, layer.S, layer.V, multipliers[target]);   // what SvfLinear.Merge writes
            var rebuilt = layer.weight! + b.matmul(a);
            float relative = ((rebuilt - merged).norm() / merged.norm()).item<float>();
            Assert.That(relative, Is.LessThan(1e-5f), target);
            Assert.That(((merged - layer.weight!).norm() / merged.norm()).item<float>(), Is.GreaterThan(100 * 1e-5f), $"{target}: the expert changes the weight");
        }
        foreach (var z in multipliers.Values) z.Dispose();
    }

    [Test]
    public void ErrorShrinksWithRank()
    {
        const string target = "model.layers.1.mlp.up_proj.weight";
        using var full = _fixture.Exporter.ComputeLora(ExportFixture.Arith);
        using var exact = full.Factors[target].B.matmul(full.Factors[target].A);
        var errors = new List<float>();
        foreach (int rank in (int[])[1, 4, 16, Hidden / 2, Hidden])
        {
            using var adapter = _fixture.Exporter.ComputeLora(ExportFixture.Arith, rank);
            var (a, b) = adapter.Factors[target];
            Assert.That(a.shape, Is.EqualTo(new long[] { rank, Hidden }));
            Assert.That(b.shape, Is.EqualTo(new long[] { Intermediate, rank }));
            using var scope = NewDisposeScope();
            errors.Add(((b.matmul(a) - exact).norm() / exact.norm()).item<float>());
        }
        TestContext.Out.WriteLine(string.Join(", ", errors.Select(e => e.ToString("E2"))));
        for (int i = 1; i < errors.Count; i++) Assert.That(errors[i], Is.LessThan(errors[i - 1]), $"rank step {i}");
        Assert.That(errors[^1], Is.LessThan(1e-5f));
        Assert.That(errors[0], Is.GreaterThan(0.05f), "rank 1 loses most of the change");
    }

    [Test]
    public void RankAboveTheSingularValuesIsRefused()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _fixture.Exporter.ComputeLora(ExportFixture.Arith, Hidden + 1).Dispose());
        Assert.That(error!.Message, Does.Contain($"{Hidden + 1}").And.Contain($"{Hidden}"));
        Assert.That(error.ParamName, Is.EqualTo("rank"));
        Assert.Throws<ArgumentException>(() => _fixture.Exporter.ComputeLora(AdaptationPlan.Base).Dispose());
    }

    [Test]
    public void PeftLayoutHasTheNamesVllmAndPeftExpect()
    {
        _fixture.Exporter.ExportLora(ExportFixture.Arith, _output, new LoraExportOptions { Rank = 8, BaseModelNameOrPath = "t2-tiny" });
        using (var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(_output, "adapter_config.json"))))
        {
            var root = document.RootElement;
            Assert.That(root.GetProperty("peft_type").GetString(), Is.EqualTo("LORA"));
            Assert.That(root.GetProperty("r").GetInt32(), Is.EqualTo(8));
            Assert.That(root.GetProperty("lora_alpha").GetDouble(), Is.EqualTo(8));
            Assert.That(root.GetProperty("base_model_name_or_path").GetString(), Is.EqualTo("t2-tiny"));
            Assert.That(root.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()), Is.EquivalentTo(new[] { "down_proj", "gate_proj", "up_proj" }));
        }
        using var file = SafetensorsFile.Open(Path.Combine(_output, "adapter_model.safetensors"));
        Assert.That(file.Names, Has.Count.EqualTo(4 * 3 * 2));
        Assert.That(file.Names, Does.Contain("base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight"));
        Assert.That(file.GetInfo("base_model.model.model.layers.3.mlp.down_proj.lora_B.weight").Shape, Is.EqualTo(new long[] { Hidden, 8 }));
        Assert.That(file.GetInfo("base_model.model.model.layers.3.mlp.down_proj.lora_A.weight").Shape, Is.EqualTo(new long[] { 8, Intermediate }));
    }

    [Test]
    public void OurLoraPathOnThePeftExportGivesTheMergedLogits()
    {
        _fixture.Exporter.ExportLora(ExportFixture.ArithCodeMixture, _output);
        int[] tokens = _fixture.PromptTokens();
        using var model = LlamaForCausalLM.FromPretrained(_fixture.Folder);
        var layers = LoraAdapterFile.Load(model, _output);
        Assert.That(layers, Has.Count.EqualTo(12));
        model.eval();
        using var lora = ExportFixture.Logits(model, tokens);
        using var merged = _fixture.MergedLogits(ExportFixture.ArithCodeMixture, tokens);
        float difference = (lora - merged).abs().max().item<float>();
        TestContext.Out.WriteLine($"max |LoRA - merged| = {difference:E2}");
        Assert.That(difference, Is.LessThanOrEqualTo(OracleTolerance));
    }

    [Test]
    public void LlamaCppWithTheGgufLoraGivesTheMergedLogits()
    {
        string baseGguf = Path.Combine(_output, "base.gguf"), loraGguf = Path.Combine(_output, "arith.gguf");
        LlamaGguf.ConvertFolder(_fixture.Folder, baseGguf);
        _fixture.Exporter.ExportLora(ExportFixture.Arith, Path.Combine(_output, "peft"), new LoraExportOptions { GgufPath = loraGguf });
        int[] tokens = _fixture.PromptTokens();
        using var llamaCpp = LlamaCpp.Load(baseGguf, tokens.Length, loraPath: loraGguf);
        using var theirs = LlamaCppOracleTests.ToTensor(llamaCpp.Decode(tokens));
        using var merged = _fixture.MergedLogits(ExportFixture.Arith, tokens);
        using var baseLogits = _fixture.MergedLogits(AdaptationPlan.Base, tokens);
        float difference = (theirs - merged).abs().max().item<float>();
        TestContext.Out.WriteLine($"max |llama.cpp + LoRA - merged| = {difference:E2}");
        Assert.That(difference, Is.LessThanOrEqualTo(OracleTolerance));
        Assert.That((baseLogits - merged).abs().max().item<float>(), Is.GreaterThan(10 * OracleTolerance), "the adapter matters");
    }

    [Test]
    public void LlamaCppAndOurLoraPathAgreeAtLowRank()
    {
        string baseGguf = Path.Combine(_output, "base.gguf"), loraGguf = Path.Combine(_output, "arith-r8.gguf"), peft = Path.Combine(_output, "peft");
        LlamaGguf.ConvertFolder(_fixture.Folder, baseGguf);
        _fixture.Exporter.ExportLora(ExportFixture.Arith, peft, new LoraExportOptions { Rank = 8, GgufPath = loraGguf });
        int[] tokens = _fixture.PromptTokens();
        using var model = LlamaForCausalLM.FromPretrained(_fixture.Folder);
        LoraAdapterFile.Load(model, peft);
        model.eval();
        using var ours = ExportFixture.Logits(model, tokens);
        using var llamaCpp = LlamaCpp.Load(baseGguf, tokens.Length, loraPath: loraGguf);
        using var theirs = LlamaCppOracleTests.ToTensor(llamaCpp.Decode(tokens));
        float difference = (ours - theirs).abs().max().item<float>();
        TestContext.Out.WriteLine($"rank 8: max |ours - llama.cpp| = {difference:E2}");
        Assert.That(difference, Is.LessThanOrEqualTo(OracleTolerance));
    }

    [Test]
    public void AttentionAdaptersGetTheRotaryPermutationInTheGgufLora()
    {
        // q/k adapters: B's rows must follow the base weights' permutation, or llama.cpp rotates the wrong pairs.
        var config = TinyModels.Llama() with { RopeScaling = null };
        string hf = Path.Combine(_output, "hf");
        using (var original = TinyModels.Create(config))
        {
            LlamaCppOracleTests.RandomizeWithUnitScale(original);
            original.SavePretrained(hf);
        }
        using var model = LlamaForCausalLM.FromPretrained(hf);
        var layers = SvfInjector.InjectDecomposed(model, TargetSelector.Attention);
        using var experts = new ExpertRegistry(layers.ToDictionary(l => l.Key, l => l.Value.Rank));
        var generator = new TorchSharp.torch.Generator(5);
        experts.Register(new Expert(new ExpertMetadata { Name = "attn" },
            layers.Select(l => new KeyValuePair<string, Tensor>(l.Key, randn([l.Value.Rank], generator: generator)))));
        var exporter = new AdaptedModelExporter(model, experts);
        var plan = AdaptationPlan.Single("attn");
        string baseGguf = Path.Combine(_output, "base.gguf"), loraGguf = Path.Combine(_output, "attn.gguf");
        LlamaGguf.ConvertFolder(hf, baseGguf);
        exporter.ExportLora(plan, Path.Combine(_output, "peft"), new LoraExportOptions { GgufPath = loraGguf });

        using var ids = TinyModels.RandomIds(config, 1, 12, seed: 11);
        int[] tokens = ids.data<long>().Select(t => (int)t).ToArray();
        var multipliers = PlanMultipliers.Compute(plan, experts, MixtureSemantics.Multipliers);
        foreach (var (target, z) in multipliers) layers[target].Merge(z);
        using var merged = ExportFixture.Logits(model, tokens);
        foreach (var (target, z) in multipliers)
        {
            layers[target].Unmerge();
            z.Dispose();
        }
        using var baseLogits = ExportFixture.Logits(model, tokens);
        using var llamaCpp = LlamaCpp.Load(baseGguf, tokens.Length, loraPath: loraGguf);
        using var theirs = LlamaCppOracleTests.ToTensor(llamaCpp.Decode(tokens));
        float difference = (theirs - merged).abs().max().item<float>();
        TestContext.Out.WriteLine($"q/k/v/o adapters: max |llama.cpp + LoRA - merged| = {difference:E2}");
        Assert.That(difference, Is.LessThanOrEqualTo(OracleTolerance));
        Assert.That((baseLogits - merged).abs().max().item<float>(), Is.GreaterThan(1e-2f), "the adapter matters");
    }
}
