using Parquet.Serialization;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Transformer2.Models.Llava;
using Transformer2.Tests.Models.Llava;
using Transformer2.Training.Reinforce;
using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Vqa;

/// <summary>Hugging Face's Parquet exports of TextVQA/OKVQA: the image is a struct <c>{bytes, path}</c> embedded in the row.</summary>
public class VqaParquetTests
{
    string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "t2-vqa-parquet-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    // The HF layout (datasets' Image feature): image = struct<bytes: binary, path: string>, answers = list<string>.
    public sealed class HfImage
    {
        public byte[]? bytes { get; set; }
        public string? path { get; set; }
    }

    public sealed class HfVqaRow
    {
        public long question_id { get; set; }
        public string question { get; set; } = "";
        public List<string> answers { get; set; } = [];
        public HfImage image { get; set; } = new();
    }

    static byte[] Png(byte red, byte green, byte blue, int width = 13, int height = 21)
    {
        using var image = new Image<Rgb24>(width, height, new Rgb24(red, green, blue));
        image[3, 4] = new Rgb24(0, 0, 0);   // not uniform, so resizing has work to do
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }

    async Task<string> Write(string name, IEnumerable<HfVqaRow> rows)
    {
        string path = Path.Combine(_dir, name);
        await using var stream = File.Create(path);
        await ParquetSerializer.SerializeAsync(rows, stream);
        return path;
    }

    [Test]
    public async Task EmbeddedImageBytesBecomeTheItemsImage()
    {
        byte[] red = Png(220, 30, 30), blue = Png(30, 30, 220);
        File.WriteAllBytes(Path.Combine(_dir, "on-disk.png"), blue);
        var path = await Write("validation-00000-of-00001.parquet",
        [
            new() { question_id = 2971475, question = "What colour is the bus?", answers = ["red", "red", "dark red"], image = new HfImage { bytes = red, path = "COCO_val2014_000000297147.jpg" } },
            new() { question_id = 7, question = "And this one?", answers = ["blue"], image = new HfImage { bytes = null, path = "on-disk.png" } },
        ]);

        var items = VqaDatasets.LoadRecords(path);
        Assert.That(items, Has.Count.EqualTo(2));
        Assert.That(items[0].Id, Is.EqualTo("2971475"));
        Assert.That(items[0].Prompt, Is.EqualTo("What colour is the bus?"));
        Assert.That(items[0].References, Is.EqualTo(new[] { "red", "red", "dark red" }));
        Assert.That(items[0].ImageBytes, Is.EqualTo(red), "the embedded bytes, unchanged");
        Assert.That(items[0].ImagePath, Is.Null, "the stored path is only the original file name");
        Assert.That(items[0].Metadata["image_path"], Is.EqualTo("COCO_val2014_000000297147.jpg"));
        Assert.That(items[1].ImageBytes, Is.Null);
        Assert.That(items[1].ImagePath, Is.EqualTo(Path.Combine(_dir, "on-disk.png")), "no bytes: the path, relative to the file's folder");

        // The trainer's LLaVA inputs read both, and the embedded image equals the same picture read from a file.
        var config = TinyLlava.Config(next: false);
        using var llava = TinyLlava.Create(config);
        var processor = new LlavaImageProcessor(LlavaImageProcessorConfig.Llava15 with { ShortestEdge = 8, CropSize = 8 });
        var inputs = new LlavaItemInputs(llava, processor);
        File.WriteAllBytes(Path.Combine(_dir, "red.png"), red);
        Assert.That(inputs.Image(items[0]).Pixels.ToArray(), Is.EqualTo(processor.Process(Path.Combine(_dir, "red.png")).Pixels.ToArray()));
        Assert.That(inputs.Image(items[0]), Is.SameAs(inputs.Image(items[0])), "decoded once, then cached");
        Assert.That(inputs.Image(items[1]).Pixels.ToArray(), Is.EqualTo(processor.Process(Path.Combine(_dir, "on-disk.png")).Pixels.ToArray()));

        var task = VqaTask.OkVqa(new TaskSplits(items, [], [], []));
        Assert.That(task.Score(items[0], "Red").Correct, Is.False, "two of three humans: 2/3 credit");
        Assert.That(task.Score(items[0], "Red").Reward, Is.GreaterThan(task.Score(items[0], "blue").Reward));
    }

    [Test]
    public async Task ARowWhoseImageHasNeitherBytesNorPathIsRefused()
    {
        var path = await Write("broken.parquet",
        [
            new() { question_id = 1, question = "ok?", answers = ["yes"], image = new HfImage { bytes = Png(1, 2, 3), path = null } },
            new() { question_id = 2, question = "broken?", answers = ["no"], image = new HfImage { bytes = null, path = null } },
        ]);
        var e = Assert.Throws<InvalidDataException>(() => VqaDatasets.LoadRecords(path));
        Assert.That(e!.Message, Does.Contain("broken.parquet").And.Contain("row 1").And.Contain("neither bytes nor a path"));
    }

    [Test]
    public void JsonLinesMayCarryBase64ImageBytes()
    {
        byte[] png = Png(5, 6, 7);
        string path = Path.Combine(_dir, "vqa.jsonl");
        File.WriteAllLines(path,
        [
            "{\"question_id\": 1, \"question\": \"q?\", \"answers\": [\"a\"], \"image\": {\"bytes\": \"" + Convert.ToBase64String(png) + "\", \"path\": null}}",
        ]);
        Assert.That(VqaDatasets.LoadRecords(path)[0].ImageBytes, Is.EqualTo(png));
        File.WriteAllLines(path, ["""{"question_id": 1, "question": "q?", "answers": ["a"], "image": {"bytes": "not base64!", "path": null}}"""]);
        var e = Assert.Throws<InvalidDataException>(() => VqaDatasets.LoadRecords(path));
        Assert.That(e!.Message, Does.Contain("row 0").And.Contain("base64"));
    }

    [Test]
    public void UnreadableEmbeddedBytesNameTheItem()
    {
        using var llava = TinyLlava.Create(TinyLlava.Config(next: false));
        var inputs = new LlavaItemInputs(llava, new LlavaImageProcessor(LlavaImageProcessorConfig.Llava15 with { ShortestEdge = 8, CropSize = 8 }));
        var item = new TaskItem("q9", "what?") { ImageBytes = [1, 2, 3], Metadata = new Dictionary<string, string> { ["image_path"] = "COCO_9.jpg" } };
        var e = Assert.Throws<InvalidDataException>(() => inputs.Image(item));
        Assert.That(e!.Message, Does.Contain("q9").And.Contain("COCO_9.jpg"));
    }
}
