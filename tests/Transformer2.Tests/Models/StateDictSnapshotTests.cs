using Transformer2.Models.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

/// <summary>
/// The full-size architectures, built on the meta device (no weight memory), must have exactly the keys and shapes of the
/// published checkpoints. The committed snapshots list every key and shape; the totals are the published parameter counts.
/// </summary>
public class StateDictSnapshotTests
{
    static readonly Device Meta = new(DeviceType.META);

    static IEnumerable<TestCaseData> Checkpoints()
    {
        yield return new TestCaseData(LlamaPresets.Llama3_8B, "llama3-8b", 291, 8_030_261_248L).SetName("Llama3_8B");
        yield return new TestCaseData(LlamaPresets.Llama3_70B, "llama3-70b", 723, 70_553_706_496L).SetName("Llama3_70B");
        yield return new TestCaseData(LlamaPresets.Mistral7B_v03, "mistral-7b-v0.3", 291, 7_248_023_552L).SetName("Mistral7B_v03");
        yield return new TestCaseData(LlamaPresets.Llama32_1B, "llama3.2-1b", 146, 1_235_814_400L).SetName("Llama32_1B_Tied");
    }

    [TestCaseSource(nameof(Checkpoints))]
    public void MatchesCommittedSnapshot(LlamaConfig config, string name, int tensorCount, long parameterCount)
    {
        using var model = new LlamaForCausalLM(config, ScalarType.BFloat16, Meta);
        Assert.That(model.model.embed_tokens.weight.device_type, Is.EqualTo(DeviceType.META));
        StateDictSnapshot.AssertMatches(model.StateDictShapes(), name, tensorCount, parameterCount);
    }

    [Test]
    public void Llama3_8BHasPublishedShapes()
    {
        using var model = new LlamaForCausalLM(LlamaPresets.Llama3_8B, ScalarType.BFloat16, Meta);
        var shapes = model.StateDictShapes().ToDictionary(s => s.Key, s => s.Shape);
        Assert.That(shapes["model.embed_tokens.weight"], Is.EqualTo(new long[] { 128256, 4096 }));
        Assert.That(shapes["model.layers.31.self_attn.q_proj.weight"], Is.EqualTo(new long[] { 4096, 4096 }));
        Assert.That(shapes["model.layers.31.self_attn.k_proj.weight"], Is.EqualTo(new long[] { 1024, 4096 }));
        Assert.That(shapes["model.layers.0.mlp.gate_proj.weight"], Is.EqualTo(new long[] { 14336, 4096 }));
        Assert.That(shapes["model.layers.0.mlp.down_proj.weight"], Is.EqualTo(new long[] { 4096, 14336 }));
        Assert.That(shapes["model.norm.weight"], Is.EqualTo(new long[] { 4096 }));
        Assert.That(shapes["lm_head.weight"], Is.EqualTo(new long[] { 128256, 4096 }));
    }
}
