using Transformer2.Models.Llava;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Llava;

/// <summary>
/// The real LLaVA architectures, built on the meta device, have exactly the keys and shapes of the published checkpoints
/// (current Hugging Face layout); the totals are the published parameter counts (7.06B and 8.36B).
/// </summary>
public class LlavaStateDictSnapshotTests
{
    static readonly Device Meta = new(DeviceType.META);

    static IEnumerable<TestCaseData> Checkpoints()
    {
        yield return new TestCaseData(LlavaPresets.Llava15_7B, "llava-1.5-7b", 686, 7_063_427_072L).SetName("Llava15_7B");
        yield return new TestCaseData(LlavaPresets.Llama3LlavaNext8B, "llama3-llava-next-8b", 687, 8_355_276_800L).SetName("Llama3LlavaNext8B");
    }

    [TestCaseSource(nameof(Checkpoints))]
    public void MatchesCommittedSnapshot(LlavaConfig config, string name, int tensorCount, long parameterCount)
    {
        using var model = new LlavaForConditionalGeneration(config, ScalarType.BFloat16, Meta);
        StateDictSnapshot.AssertMatches(model.StateDictShapes(), name, tensorCount, parameterCount);
    }

    [Test]
    public void Llama3LlavaNext8BHasPublishedShapes()
    {
        using var model = new LlavaForConditionalGeneration(LlavaPresets.Llama3LlavaNext8B, ScalarType.BFloat16, Meta);
        var shapes = model.StateDictShapes().ToDictionary(s => s.Key, s => s.Shape);
        Assert.That(shapes["model.language_model.embed_tokens.weight"], Is.EqualTo(new long[] { 128320, 4096 }));
        Assert.That(shapes["lm_head.weight"], Is.EqualTo(new long[] { 128320, 4096 }));
        Assert.That(shapes["model.language_model.layers.31.self_attn.k_proj.weight"], Is.EqualTo(new long[] { 1024, 4096 }));
        Assert.That(shapes["model.vision_tower.vision_model.embeddings.patch_embedding.weight"], Is.EqualTo(new long[] { 1024, 3, 14, 14 }));
        Assert.That(shapes["model.vision_tower.vision_model.embeddings.position_embedding.weight"], Is.EqualTo(new long[] { 577, 1024 }));
        Assert.That(shapes["model.vision_tower.vision_model.encoder.layers.23.mlp.fc1.bias"], Is.EqualTo(new long[] { 4096 }));
        Assert.That(shapes["model.multi_modal_projector.linear_1.weight"], Is.EqualTo(new long[] { 4096, 1024 }));
        Assert.That(shapes["model.image_newline"], Is.EqualTo(new long[] { 4096 }));
    }
}
