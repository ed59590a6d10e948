using Transformer2.Core.IO;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

public class PretrainedLoadingTests
{
    string _folder = "";

    [SetUp]
    public void CreateFolder() => _folder = TinyModels.TempFolder();

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    sealed class SyncProgress(Action<LoadProgress> report) : IProgress<LoadProgress>
    {
        public void Report(LoadProgress value) => report(value);
    }

    static void AssertSameLogits(LlamaForCausalLM expected, LlamaForCausalLM actual, float tolerance = 0)
    {
        using var ids = TinyModels.RandomIds(expected.Config, 2, 9);
        using var a = expected.Forward(ids);
        using var b = actual.Forward(ids);
        Assert.That((a - b).abs().max().item<float>(), Is.LessThanOrEqualTo(tolerance));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void SaveThenLoadGivesIdenticalLogits(bool tied)
    {
        using var original = TinyModels.Create(TinyModels.Llama(tied));
        original.SavePretrained(_folder);
        Assert.That(File.Exists(Path.Combine(_folder, "config.json")) && File.Exists(Path.Combine(_folder, "model.safetensors")));
        var reports = new List<LoadProgress>();
        using var loaded = LlamaForCausalLM.FromPretrained(_folder, progress: new SyncProgress(reports.Add));
        AssertSameLogits(original, loaded);
        Assert.That(loaded.Config with { TorchDtype = null, EosTokenIds = [] }, Is.EqualTo(original.Config with { TorchDtype = null, EosTokenIds = [] }));
        int count = original.StateDictShapes().Count;
        Assert.That(reports, Has.Count.EqualTo(count));
        Assert.That(reports[^1].BytesLoaded, Is.EqualTo(reports[^1].TotalBytes));
    }

    [Test]
    public void ShardedMistralRoundTrips()
    {
        using var original = TinyModels.Create(TinyModels.Mistral());
        original.SavePretrained(_folder, maxShardBytes: 20_000);
        var shards = Directory.GetFiles(_folder, "model-*-of-*.safetensors");
        Assert.That(shards, Has.Length.GreaterThan(2));
        Assert.That(File.Exists(Path.Combine(_folder, "model.safetensors.index.json")));
        using var loaded = LlamaForCausalLM.FromPretrained(_folder);
        Assert.That(loaded.Config.SlidingWindow, Is.EqualTo(4));
        AssertSameLogits(original, loaded);
    }

    [TestCase(ScalarType.BFloat16, ScalarType.Float32)]
    [TestCase(ScalarType.Float16, ScalarType.Float32)]
    [TestCase(ScalarType.Float32, ScalarType.BFloat16)]
    public void ConvertsStoredDtypeToRequested(ScalarType stored, ScalarType requested)
    {
        using var original = TinyModels.Create(TinyModels.Llama());
        original.SavePretrained(_folder, dtype: stored);
        using (var file = SafetensorsFile.Open(Path.Combine(_folder, "model.safetensors")))
            Assert.That(file.GetInfo("model.norm.weight").DType, Is.EqualTo(stored == ScalarType.BFloat16 ? "BF16" : stored == ScalarType.Float16 ? "F16" : "F32"));
        using var loaded = LlamaForCausalLM.FromPretrained(_folder, requested);
        var expected = original.model.layers[1].self_attn.q_proj.parameters().Single();
        var actual = loaded.model.layers[1].self_attn.q_proj.parameters().Single();
        Assert.That(actual.dtype, Is.EqualTo(requested));
        using var rounded = expected.to_type(stored).to_type(requested).to_type(ScalarType.Float32);
        using var got = actual.to_type(ScalarType.Float32);
        Assert.That((got - rounded).abs().max().item<float>(), Is.EqualTo(0f));
    }

    void WriteCheckpoint(LlamaForCausalLM model, Func<IEnumerable<KeyValuePair<string, Tensor>>, IEnumerable<KeyValuePair<string, Tensor>>> edit)
    {
        File.WriteAllText(Path.Combine(_folder, "config.json"), model.Config.ToJson());
        var tensors = model.CheckpointParameters().Select(p => new KeyValuePair<string, Tensor>(p.Key, p.Value));
        SafetensorsWriter.Write(Path.Combine(_folder, "model.safetensors"), edit(tensors).ToList());
    }

    [Test]
    public void MissingTensorIsNamed()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        WriteCheckpoint(model, t => t.Where(p => p.Key != "model.layers.1.mlp.up_proj.weight"));
        var error = Assert.Throws<InvalidDataException>(() => LlamaForCausalLM.FromPretrained(_folder))!;
        Assert.That(error.Message, Does.Contain("model.layers.1.mlp.up_proj.weight").And.Contain(_folder));
    }

    [Test]
    public void UnexpectedTensorIsNamedWithItsFile()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        using var extra = zeros(3, 3);
        WriteCheckpoint(model, t => t.Append(new("model.layers.2.mlp.up_proj.weight", extra)));
        var error = Assert.Throws<InvalidDataException>(() => LlamaForCausalLM.FromPretrained(_folder))!;
        Assert.That(error.Message, Does.Contain("model.layers.2.mlp.up_proj.weight").And.Contain("model.safetensors"));
    }

    [Test]
    public void WrongShapeIsNamedWithBothShapes()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        using var wrong = zeros(33, 64);
        WriteCheckpoint(model, t => t.Select(p => p.Key == "model.layers.0.self_attn.k_proj.weight" ? new(p.Key, wrong) : p));
        var error = Assert.Throws<InvalidDataException>(() => LlamaForCausalLM.FromPretrained(_folder))!;
        Assert.That(error.Message, Does.Contain("model.layers.0.self_attn.k_proj.weight").And.Contain("model.safetensors")
            .And.Contain("[33, 64]").And.Contain("[32, 64]"));
    }

    [Test]
    public void UnsupportedStoredDtypeIsNamed()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        using var integers = zeros(64, ScalarType.Int32);
        WriteCheckpoint(model, t => t.Select(p => p.Key == "model.norm.weight" ? new(p.Key, integers) : p));
        var error = Assert.Throws<InvalidDataException>(() => LlamaForCausalLM.FromPretrained(_folder))!;
        Assert.That(error.Message, Does.Contain("model.norm.weight").And.Contain("I32"));
    }

    [Test]
    public void IndexPointingToMissingShardIsNamed()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        model.SavePretrained(_folder, maxShardBytes: 30_000);
        string shard = Directory.GetFiles(_folder, "model-*.safetensors").Order().Last();
        File.Delete(shard);
        var error = Assert.Throws<FileNotFoundException>(() => LlamaForCausalLM.FromPretrained(_folder))!;
        Assert.That(error.Message, Does.Contain(Path.GetFileName(shard)).And.Contain("model.safetensors.index.json"));
    }

    [Test]
    public void IndexEscapingTheFolderIsRejected()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        model.SavePretrained(_folder, maxShardBytes: 30_000);
        string index = Path.Combine(_folder, "model.safetensors.index.json");
        File.WriteAllText(index, File.ReadAllText(index).Replace("\"model-00001-of", "\"../model-00001-of"));
        var error = Assert.Throws<InvalidDataException>(() => LlamaForCausalLM.FromPretrained(_folder))!;
        Assert.That(error.Message, Does.Contain("../model-00001-of"));
    }

    [Test]
    public void IndexListingAKeyInTheWrongShardIsNamed()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        model.SavePretrained(_folder, maxShardBytes: 30_000);
        string index = Path.Combine(_folder, "model.safetensors.index.json");
        string text = File.ReadAllText(index);
        string last = Directory.GetFiles(_folder, "model-*.safetensors").Select(Path.GetFileName).Order().Last()!;
        File.WriteAllText(index, System.Text.RegularExpressions.Regex.Replace(text, "(\"model\\.norm\\.weight\": \")[^\"]+\"", $"$1{(text.Contains($"\"model.norm.weight\": \"{last}\"") ? "model-00001-of-" + last[^17..] : last)}\""));
        var error = Assert.Throws<InvalidDataException>(() => LlamaForCausalLM.FromPretrained(_folder))!;
        Assert.That(error.Message, Does.Contain("model.norm.weight"));
    }

    [Test]
    public void MissingFilesAreReported()
    {
        Assert.Throws<DirectoryNotFoundException>(() => LlamaForCausalLM.FromPretrained(Path.Combine(_folder, "nope")));
        Assert.Throws<FileNotFoundException>(() => LlamaForCausalLM.FromPretrained(_folder));
        File.WriteAllText(Path.Combine(_folder, "config.json"), TinyModels.Llama().ToJson());
        var error = Assert.Throws<FileNotFoundException>(() => LlamaForCausalLM.FromPretrained(_folder))!;
        Assert.That(error.Message, Does.Contain("model.safetensors"));
    }

    [Test]
    public void CancellationStopsBetweenTensors()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        model.SavePretrained(_folder);
        using var cancel = new CancellationTokenSource();
        int reports = 0;
        var progress = new SyncProgress(_ => { if (++reports == 3) cancel.Cancel(); });
        Assert.Throws<OperationCanceledException>(() => LlamaForCausalLM.FromPretrained(_folder, progress: progress, cancellationToken: cancel.Token));
        Assert.That(reports, Is.EqualTo(3));
    }
}
