using TorchSharp;
using TorchSharp.PyBridge;
using Transformer2.Core.Experts;
using static TorchSharp.torch;

namespace Transformer2.Tests.Core.Experts;

public class AuthorsCheckpointImporterTests
{
    [Test]
    public void MlpTargetOrder_IsGateUpDownPerLayer()
    {
        Assert.That(AuthorsCheckpointImporter.MlpTargetOrder(2), Is.EqualTo(new[]
        {
            "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
            "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.down_proj.weight",
        }));
    }

    [Test]
    public void ImportPolicyParams_MapsIndexToTargetInOrder()
    {
        using var folder = new TempFolder();
        string path = folder.File("policy_params.pt");
        var order = AuthorsCheckpointImporter.MlpTargetOrder(4); // 12 vectors: indices 10 and 11 test numeric, not string, order
        using (var scope = NewDisposeScope())
        {
            var stateDict = new Dictionary<string, Tensor>();
            for (int i = 0; i < order.Count; i++) stateDict[$"learnable_params_module_list.{i}"] = full(5, (float)i, dtype: ScalarType.BFloat16);
            PyTorchPickler.PickleStateDict(path, stateDict);
        }

        using var expert = AuthorsCheckpointImporter.ImportPolicyParams(path, order, new ExpertMetadata { Name = "math", BaseModelIdentity = "llama3i8b" });
        Assert.That(expert.Targets, Is.EqualTo(order));
        for (int i = 0; i < order.Count; i++)
        {
            Assert.That(expert[order[i]].dtype, Is.EqualTo(ScalarType.BFloat16));
            Assert.That(expert[order[i]].to_type(ScalarType.Float32).data<float>().ToArray(), Is.All.EqualTo((float)i), order[i]);
        }
        Assert.That(expert.Metadata.Provenance["source_format"], Is.EqualTo("policy_params"));
        Assert.That(expert.Metadata.BaseModelIdentity, Is.EqualTo("llama3i8b"));
    }

    [Test]
    public void ImportPolicyParams_RejectsCountMismatchAndMixturePolicies()
    {
        using var folder = new TempFolder();
        string path = folder.File("policy_params.pt");
        using (var scope = NewDisposeScope())
            PyTorchPickler.PickleStateDict(path, new Dictionary<string, Tensor> { ["learnable_params_module_list.0"] = ones(3) });
        Assert.That(() => AuthorsCheckpointImporter.ImportPolicyParams(path, AuthorsCheckpointImporter.MlpTargetOrder(1), new ExpertMetadata { Name = "x" }),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("3 target"));

        using (var scope = NewDisposeScope())
            PyTorchPickler.PickleStateDict(path, new Dictionary<string, Tensor> { ["adaptive_weights"] = ones(3, 2) });
        Assert.That(() => AuthorsCheckpointImporter.ImportPolicyParams(path, ["a"], new ExpertMetadata { Name = "x" }),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("weighted-combination"));

        using (var scope = NewDisposeScope())
            PyTorchPickler.PickleStateDict(path, new Dictionary<string, Tensor> { ["learnable_params_module_list.1"] = ones(3) });
        Assert.That(() => AuthorsCheckpointImporter.ImportPolicyParams(path, ["a"], new ExpertMetadata { Name = "x" }),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("learnable_params_module_list.0"));
    }

    [Test]
    public void ImportLearnableParams_KeepsNamesAndOrdersLayersNumerically()
    {
        using var folder = new TempFolder();
        string path = folder.File("learnable_params.pt");
        using (var scope = NewDisposeScope())
            PyTorchPickler.PickleStateDict(path, new Dictionary<string, Tensor>
            {
                ["model.layers.10.mlp.up_proj.weight"] = full(3, 10f),
                ["model.layers.2.mlp.up_proj.weight"] = full(3, 2f),
            });
        using var expert = AuthorsCheckpointImporter.ImportLearnableParams(path, new ExpertMetadata { Name = "code" });
        Assert.That(expert.Targets, Is.EqualTo(new[] { "model.layers.2.mlp.up_proj.weight", "model.layers.10.mlp.up_proj.weight" }));
        Assert.That(expert["model.layers.10.mlp.up_proj.weight"].data<float>().ToArray(), Is.All.EqualTo(10f));
    }

    [Test]
    public void ImportLearnableParams_RejectsNaNAndMatrices()
    {
        using var folder = new TempFolder();
        string path = folder.File("learnable_params.pt");
        using (var scope = NewDisposeScope())
            PyTorchPickler.PickleStateDict(path, new Dictionary<string, Tensor> { ["w"] = tensor(new[] { float.NaN }) });
        Assert.That(() => AuthorsCheckpointImporter.ImportLearnableParams(path, new ExpertMetadata { Name = "x" }),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("'w'"));
        using (var scope = NewDisposeScope())
            PyTorchPickler.PickleStateDict(path, new Dictionary<string, Tensor> { ["w"] = ones(2, 2) });
        Assert.That(() => AuthorsCheckpointImporter.ImportLearnableParams(path, new ExpertMetadata { Name = "x" }),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("1-D"));
    }

    [TestCase(new byte[] { 1, 2, 3, 4, 5 }, TestName = "BadPickle_Garbage")]
    [TestCase(new byte[] { 0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0 }, TestName = "BadPickle_TruncatedZip")]
    [TestCase(new byte[] { 0x80, 0x02, 0x7d, 0x71 }, TestName = "BadPickle_TruncatedLegacyPickle")]
    public void BadPickle_ThrowsInvalidDataNamingFile(byte[] content)
    {
        using var folder = new TempFolder();
        string path = folder.File("policy_params.pt");
        File.WriteAllBytes(path, content);
        Assert.That(() => AuthorsCheckpointImporter.ImportPolicyParams(path, ["a"], new ExpertMetadata { Name = "x" }),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains(path));
        Assert.That(() => AuthorsCheckpointImporter.ImportLearnableParams(path, new ExpertMetadata { Name = "x" }),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains(path));
    }

    [Test]
    public void MissingFile_ThrowsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => AuthorsCheckpointImporter.ImportLearnableParams("/nonexistent/learnable_params.pt", new ExpertMetadata { Name = "x" }));
    }
}
