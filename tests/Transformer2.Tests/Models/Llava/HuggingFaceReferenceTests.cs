using Transformer2.Core.IO;
using Transformer2.Models.Llava;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Llava;

/// <summary>
/// Our LLaVA-1.5 and LLaVA-NeXT against transformers 5.17 on tiny checkpoints it wrote (Data/hf-reference, made by
/// tools/reference/make_references.py): preprocessing of the same PNG, image-token count, and logits.
/// </summary>
public class HuggingFaceReferenceTests
{
    [TestCase("llava-1.5")]
    [TestCase("llava-next")]
    public void PreprocessingAndLogitsMatchTransformers(string name)
    {
        string folder = Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "hf-reference", name);
        using var scope = NewDisposeScope();
        using var reference = SafetensorsFile.Open(Path.Combine(folder, "reference.safetensors"));
        var config = LlavaConfig.Load(Path.Combine(folder, "config.json"));
        // The script's processors: shortest edge 30, centre crop 30, bicubic, CLIP mean/std (NeXT: pinpoints from the config).
        var processorConfig = config.IsNext
            ? LlavaImageProcessorConfig.LlavaNext with { ShortestEdge = 30, CropSize = 30, ImageGridPinpoints = config.ImageGridPinpoints }
            : LlavaImageProcessorConfig.Llava15 with { ShortestEdge = 30, CropSize = 30 };
        var image = new LlavaImageProcessor(processorConfig).Process(Path.Combine(folder, "image.png"));
        var hfPixels = reference.Read("pixel_values", ScalarType.Float32).reshape(image.Patches, 3, 30, 30);
        double pixelDifference = (image.ToTensor() - hfPixels).abs().max().item<float>();
        TestContext.Out.WriteLine($"{name}: {image.Patches} patches, max |pixel difference| {pixelDifference:E2}");
        Assert.That(pixelDifference, Is.LessThan(0.02), "at most one grey level apart (Pillow builds differ by one level; docs/llava.md)");

        var ids = reference.Read("input_ids", ScalarType.Int64);
        Assert.That(ids.shape[1] - 6, Is.EqualTo(LlavaNextLayout.TokenCount(config, image.OriginalHeight, image.OriginalWidth)), "same number of image tokens as transformers");

        // The model on transformers' own pixel values, so that the comparison is of the model alone.
        var hfImage = new LlavaImage(hfPixels.contiguous().data<float>().ToArray(), image.Patches, 30, image.OriginalHeight, image.OriginalWidth);
        using var model = LlavaForConditionalGeneration.FromPretrained(folder);
        Tensor logits;
        using (no_grad()) logits = model.Forward(ids, [hfImage]);
        var hfLogits = reference.Read("logits", ScalarType.Float32);
        double difference = (logits - hfLogits).abs().max().item<float>();
        TestContext.Out.WriteLine($"{name}: max |logit difference| {difference:E2} (logits up to {hfLogits.abs().max().item<float>():F2})");
        Assert.That(difference, Is.LessThan(1e-4));
        Assert.That(logits.argmax(-1).equal(hfLogits.argmax(-1)).all().item<bool>(), Is.True);
    }
}
