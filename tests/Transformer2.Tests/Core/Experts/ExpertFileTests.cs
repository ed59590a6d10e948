using TorchSharp;
using Transformer2.Core.Experts;
using Transformer2.Core.IO;
using Transformer2.Core.Svf;
using Transformer2.Tests.Core.IO;
using static TorchSharp.torch;

namespace Transformer2.Tests.Core.Experts;

public class ExpertFileTests
{
    static ExpertMetadata SampleMetadata() => new()
    {
        Name = "math",
        BaseModelIdentity = "meta-llama/Meta-Llama-3-8B-Instruct@abc123",
        WeightsFingerprint = "sha256:0123",
        Parameterization = new SvfParameterization { Kind = SvfMultiplierKind.Raw, MaxMultiplier = 2.0, InitMean = 0.2, InitStd = 0.03 },
        Provenance = new Dictionary<string, string> { ["task"] = "gsm8k", ["iterations"] = "200", ["seed"] = "42", ["date"] = "2026-11-27" },
        Scores = new Dictionary<string, double> { ["gsm8k.test"] = 0.7933, ["arc.test"] = 0.5 },
    };

    [Test]
    public void SaveThenLoad_RoundTripsVectorsOrderAndMetadata()
    {
        using var folder = new TempFolder();
        string path = folder.File("math.safetensors");
        using var original = new Expert(SampleMetadata(),
        [
            new("model.layers.1.mlp.up_proj.weight", randn(8)),
            new("model.layers.0.mlp.gate_proj.weight", randn(8).to_type(ScalarType.BFloat16)),
            new("model.layers.0.mlp.down_proj.weight", randn(4)),
        ]);
        ExpertFile.Save(original, path);
        Assert.That(Directory.GetFiles(folder.Path), Is.EqualTo(new[] { path }), "one file, no leftovers");

        using var loaded = ExpertFile.Load(path);
        Assert.That(loaded.Targets, Is.EqualTo(original.Targets), "vector order preserved");
        foreach (var (name, vector) in original.Vectors)
            Assert.That(SafetensorsTests.SameValues(loaded[name], vector), Is.True, name);
        var m = loaded.Metadata;
        Assert.That(m.Name, Is.EqualTo("math"));
        Assert.That(m.BaseModelIdentity, Is.EqualTo(original.Metadata.BaseModelIdentity));
        Assert.That(m.WeightsFingerprint, Is.EqualTo("sha256:0123"));
        Assert.That(m.Parameterization, Is.EqualTo(original.Metadata.Parameterization));
        Assert.That(m.Provenance, Is.EquivalentTo(original.Metadata.Provenance));
        Assert.That(m.Scores, Is.EquivalentTo(original.Metadata.Scores));
        Assert.That(m.Targets, Is.EqualTo(original.Targets));
    }

    [Test]
    public void Load_ConvertsDTypeOnRequest()
    {
        using var folder = new TempFolder();
        string path = folder.File("e.safetensors");
        using (var e = new Expert(new ExpertMetadata { Name = "e" }, [new("w", ones(3, dtype: ScalarType.BFloat16))])) ExpertFile.Save(e, path);
        using var loaded = ExpertFile.Load(path, ScalarType.Float32);
        Assert.That(loaded["w"].dtype, Is.EqualTo(ScalarType.Float32));
    }

    static string WriteRaw(TempFolder folder, IEnumerable<KeyValuePair<string, Tensor>> tensors, string? json)
    {
        string path = folder.File("raw.safetensors");
        var metadata = json is null ? null : new Dictionary<string, string> { [ExpertFile.MetadataKey] = json };
        SafetensorsWriter.Write(path, tensors, metadata);
        return path;
    }

    const string GoodJson = """{"format":"transformer2.expert/1","name":"e","targets":["w"]}""";

    [Test]
    public void Load_RejectsNaNAndInf()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string path = WriteRaw(folder, [new("w", tensor(new[] { 1f, float.NaN }))], GoodJson);
        Assert.That(() => ExpertFile.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("'w'").And.Message.Contains("NaN"));
        path = WriteRaw(folder, [new("w", tensor(new[] { 1f, float.PositiveInfinity }).to_type(ScalarType.BFloat16))], GoodJson);
        Assert.That(() => ExpertFile.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("'w'"));
    }

    [Test]
    public void Load_RejectsNonVectorAndNonFloatTensors()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string path = WriteRaw(folder, [new("w", ones(2, 2))], GoodJson);
        Assert.That(() => ExpertFile.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("'w'").And.Message.Contains("1-D"));
        path = WriteRaw(folder, [new("w", ones(2, dtype: ScalarType.Int64))], GoodJson);
        Assert.That(() => ExpertFile.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("'w'"));
    }

    [Test]
    public void Load_RejectsMissingOrMalformedMetadata()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string path = WriteRaw(folder, [new("w", ones(2))], null);
        Assert.That(() => ExpertFile.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains(ExpertFile.MetadataKey).And.Message.Contains(path));
        path = WriteRaw(folder, [new("w", ones(2))], "{not json");
        Assert.That(() => ExpertFile.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("JSON"));
        path = WriteRaw(folder, [new("w", ones(2))], """{"format":"transformer2.expert/1","name":"e","targets":[]}""");
        Assert.That(() => ExpertFile.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("targets"));
    }

    [Test]
    public void Load_RejectsMissingAndExtraVectors()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string path = WriteRaw(folder, [new("w", ones(2)), new("stray", ones(2))], GoodJson);
        Assert.That(() => ExpertFile.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("'stray'"));
        path = WriteRaw(folder, [new("w", ones(2))], """{"format":"transformer2.expert/1","name":"e","targets":["w","v"]}""");
        Assert.That(() => ExpertFile.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("'v'"));
    }

    [Test]
    public void Constructor_RejectsBadVectors()
    {
        using var scope = NewDisposeScope();
        var meta = new ExpertMetadata { Name = "e" };
        Assert.That(() => new Expert(meta, [new("w", ones(2, 2))]), Throws.ArgumentException.With.Message.Contains("'w'"));
        Assert.That(() => new Expert(meta, [new("w", ones(2)), new("w", ones(2))]), Throws.ArgumentException.With.Message.Contains("'w'"));
        Assert.That(() => new Expert(meta, [new("w", ones(2, dtype: ScalarType.Int32))]), Throws.ArgumentException);
        Assert.That(() => new Expert(meta with { Targets = ["v"] }, [new("w", ones(2))]), Throws.ArgumentException.With.Message.Contains("'v'"));
    }

    [Test]
    public void ValidateAgainst_NamesTheMismatch()
    {
        using var expert = new Expert(new ExpertMetadata { Name = "e", BaseModelIdentity = "model-a" }, [new("a", zeros(4)), new("b", zeros(6))]);
        var ok = new Dictionary<string, long> { ["a"] = 4, ["b"] = 6 };
        Assert.DoesNotThrow(() => expert.ValidateAgainst(ok, "model-a"));
        Assert.DoesNotThrow(() => expert.ValidateAgainst(ok, null));

        var e = Assert.Throws<ExpertMismatchException>(() => expert.ValidateAgainst(ok, "model-b"));
        Assert.That(e!.Message, Does.Contain("model-a").And.Contain("model-b"));

        e = Assert.Throws<ExpertMismatchException>(() => expert.ValidateAgainst(new Dictionary<string, long> { ["a"] = 4, ["b"] = 6, ["c"] = 2 }, null));
        Assert.That(e!.Key, Is.EqualTo("c"));
        e = Assert.Throws<ExpertMismatchException>(() => expert.ValidateAgainst(new Dictionary<string, long> { ["a"] = 4 }, null));
        Assert.That(e!.Key, Is.EqualTo("b"));
        e = Assert.Throws<ExpertMismatchException>(() => expert.ValidateAgainst(new Dictionary<string, long> { ["a"] = 4, ["b"] = 7 }, null));
        Assert.That(e!.Key, Is.EqualTo("b"));
        Assert.That(e.Message, Does.Contain("6").And.Contain("7"));
    }
}
