using Transformer2.Core.IO;
using Transformer2.Models.Llava;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Llava;

/// <summary>
/// Compares against files Hugging Face transformers wrote (a tiny random LLaVA saved with <c>save_pretrained</c>, a PNG,
/// and HF's pixel values and logits in <c>hf.safetensors</c>); see docs/llava.md for the script. Run by hand with
/// <c>T2_HF_REFERENCE=folder</c>.
/// </summary>
[Explicit("needs files written by Hugging Face transformers")]
public class HuggingFaceReferenceCheck
{
    [TestCase("llava")]
    [TestCase("next")]
    public void PixelsAndLogitsMatchHuggingFace(string variant)
    {
        string? root = Environment.GetEnvironmentVariable("T2_HF_REFERENCE");
        if (root is null) Assert.Inconclusive("T2_HF_REFERENCE is not set");
        string folder = Path.Combine(root!, variant);
        using var scope = NewDisposeScope();
        using var reference = SafetensorsFile.Open(Path.Combine(folder, "hf.safetensors"));
        var config = LlavaConfig.Load(Path.Combine(folder, "config.json"));
        var processorConfig = config.IsNext
            ? LlavaImageProcessorConfig.LlavaNext with { ShortestEdge = 8, CropSize = 8, ImageGridPinpoints = config.ImageGridPinpoints }
            : LlavaImageProcessorConfig.Llava15 with { ShortestEdge = 8, CropSize = 8 };
        var image = new LlavaImageProcessor(processorConfig).Process(Path.Combine(root, "image.png"));
        var hfPixels = reference.Read("pixel_values", ScalarType.Float32, CPU).reshape(image.Patches, 3, 8, 8);
        double pixelDifference = (image.ToTensor() - hfPixels).abs().max().item<float>();
        TestContext.Out.WriteLine($"{variant}: {image.Patches} patches, max |pixel difference| {pixelDifference}");
        for (int p = 0; p < image.Patches; p++)
        {
            var d = (image.ToTensor()[p] - hfPixels[p]).abs();
            TestContext.Out.WriteLine($"  patch {p}: max {d.max().item<float>()}, pixels off by > 1e-5: {d.gt(1e-5).sum().item<long>()} of {d.numel()}");
        }
        Assert.That(pixelDifference, Is.LessThan(0.02), "at most one grey level off (see docs/llava.md)");

        var ids = reference.Read("input_ids", ScalarType.Int64, CPU);
        Assert.That(ids.shape[1] - 5, Is.EqualTo(LlavaNextLayout.TokenCount(config, image.OriginalHeight, image.OriginalWidth)));
        if (!File.Exists(Path.Combine(folder, "model.safetensors"))) Assert.Inconclusive($"{variant}: no weights to compare logits with");
        using var model = LlavaForConditionalGeneration.FromPretrained(folder);
        var logits = model.Forward(ids, [image]);
        var hfLogits = reference.Read("logits", ScalarType.Float32, CPU);
        double difference = (logits - hfLogits).abs().max().item<float>();
        TestContext.Out.WriteLine($"{variant}: max |logit difference| {difference} (logits up to {hfLogits.abs().max().item<float>()})");
        Assert.That(difference, Is.LessThan(1e-3));
    }
}
