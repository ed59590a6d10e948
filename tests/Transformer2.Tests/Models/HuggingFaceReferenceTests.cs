using Transformer2.Core.IO;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

/// <summary>Logits of our LLaMA/Mistral against Hugging Face transformers on the same tiny checkpoints (see Data/hf-reference).</summary>
public class HuggingFaceReferenceTests
{
    static string Folder(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "hf-reference", name);

    [TestCase("llama-gqa")]
    [TestCase("llama3-rope")]
    [TestCase("llama-tied")]
    [TestCase("mistral-sliding")]
    public void LogitsMatchTransformers(string name)
    {
        using var scope = NewDisposeScope();
        using var model = LlamaForCausalLM.FromPretrained(Folder(name));
        using var reference = SafetensorsFile.Open(Path.Combine(Folder(name), "reference.safetensors"));
        var ids = reference.Read("input_ids", ScalarType.Int64);
        var expected = reference.Read("logits", ScalarType.Float32);
        Tensor actual;
        using (no_grad()) actual = model.Forward(ids);
        Assert.That(actual.shape, Is.EqualTo(expected.shape));
        double maxDiff = (actual - expected).abs().max().item<float>();
        TestContext.Out.WriteLine($"{name}: max |Δlogit| = {maxDiff:E2}");
        Assert.That(maxDiff, Is.LessThan(1e-4));
        Assert.That(actual.argmax(-1).equal(expected.argmax(-1)).all().item<bool>(), Is.True, "same argmax at every position");
    }
}
