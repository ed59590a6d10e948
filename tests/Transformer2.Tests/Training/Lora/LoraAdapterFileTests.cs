using System.Text.Json.Nodes;
using TorchSharp;
using Transformer2.Core.IO;
using Transformer2.Tests.Training.Reinforce;
using Transformer2.Training.Lora;
using static TorchSharp.torch;
using static Transformer2.Tests.Training.Lora.LoraFixture;

namespace Transformer2.Tests.Training.Lora;

public class LoraAdapterFileTests
{
    static readonly LoraConfig Config = new() { Rank = 4, Alpha = 8, TargetModules = ["q_proj", "v_proj", "down_proj"] };

    /// <summary>A model with trained-looking adapters saved to a fresh folder.</summary>
    static (string Folder, Tensor Logits) SavedAdapter()
    {
        using var model = PlainModel();
        var layers = LoraInjector.Inject(model, Config, seed: 7);
        using (no_grad()) foreach (var l in layers.Values) l.B.normal_(0, 0.2);
        string folder = TrainerFixture.TempFolder();
        LoraAdapterFile.Save(model, Config, folder, "tiny-llama");
        return (folder, Logits(model));
    }

    [Test]
    public void RoundTripInThePeftLayout()
    {
        var (folder, expected) = SavedAdapter();
        using (expected)
        {
            using (var file = SafetensorsFile.Open(Path.Combine(folder, "adapter_model.safetensors")))
            {
                Assert.That(file.Names, Has.Count.EqualTo(2 * 3 * 2));
                Assert.That(file.Names, Does.Contain("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
                Assert.That(file.GetInfo("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight").Shape, Is.EqualTo(new long[] { 32, 4 }));
                Assert.That(file.GetInfo("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight").Shape, Is.EqualTo(new long[] { 4, 64 }));
            }
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "adapter_config.json")))!.AsObject();
            Assert.That((string?)json["peft_type"], Is.EqualTo("LORA"));
            Assert.That((int?)json["r"], Is.EqualTo(4));
            Assert.That((int?)json["lora_alpha"], Is.EqualTo(8));
            Assert.That((double?)json["lora_dropout"], Is.EqualTo(0.05));
            Assert.That((string?)json["bias"], Is.EqualTo("none"));
            Assert.That((string?)json["task_type"], Is.EqualTo("CAUSAL_LM"));
            Assert.That((string?)json["base_model_name_or_path"], Is.EqualTo("tiny-llama"));
            Assert.That(json["target_modules"]!.AsArray().Select(n => (string?)n), Is.EqualTo(new[] { "q_proj", "v_proj", "down_proj" }));

            // Into a model without LoRA layers: injected from the config, then loaded.
            using var fresh = PlainModel();
            var loaded = LoraAdapterFile.Load(fresh, folder);
            Assert.That(loaded, Has.Count.EqualTo(6));
            using var logits = Logits(fresh);
            Assert.That(logits.equal(expected).all().item<bool>(), Is.True, "the loaded adapter reproduces the saved model's logits");

            // Into a model that already has matching LoRA layers.
            using var injected = PlainModel();
            LoraInjector.Inject(injected, Config, seed: 99);
            LoraAdapterFile.Load(injected, folder);
            using var logits2 = Logits(injected);
            Assert.That(logits2.equal(expected).all().item<bool>(), Is.True);

            var info = LoraAdapterFile.ReadConfig(folder);
            Assert.That(info.Config.TargetModules, Is.EqualTo(Config.TargetModules));
            Assert.That((info.Config.Rank, info.Config.Alpha, info.BaseModelNameOrPath, info.TaskType), Is.EqualTo((4, 8.0, "tiny-llama", "CAUSAL_LM")));
        }
        Assert.That(Directory.GetFiles(folder).Select(Path.GetFileName), Is.EquivalentTo(new[] { "adapter_model.safetensors", "adapter_config.json" }), "no temporary files left");
    }

    [Test]
    public void LoadErrorsNameTheFileAndTheKey()
    {
        var (folder, logits) = SavedAdapter();
        logits.Dispose();
        string weights = Path.Combine(folder, "adapter_model.safetensors");
        string configPath = Path.Combine(folder, "adapter_config.json");
        var original = ReadAll(weights);

        // A missing tensor.
        SafetensorsWriter.Write(weights, original.Where(kv => !kv.Key.Contains("layers.1.self_attn.v_proj.lora_B")));
        var ex = Assert.Throws<InvalidDataException>(() => LoraAdapterFile.Load(PlainModel(), folder));
        Assert.That(ex!.Message, Does.Contain(weights).And.Contain("missing tensor 'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight'"));

        // A wrong shape.
        SafetensorsWriter.Write(weights, original.Select(kv => kv.Key.EndsWith("layers.0.self_attn.q_proj.lora_A.weight") ? new KeyValuePair<string, Tensor>(kv.Key, zeros(5, 32)) : kv));
        ex = Assert.Throws<InvalidDataException>(() => LoraAdapterFile.Load(PlainModel(), folder));
        Assert.That(ex!.Message, Does.Contain(weights).And.Contain("'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' has shape [5, 32]").And.Contain("[4, 32]"));

        // An unexpected tensor.
        SafetensorsWriter.Write(weights, original.Append(new("base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight", zeros(4, 32))));
        ex = Assert.Throws<InvalidDataException>(() => LoraAdapterFile.Load(PlainModel(), folder));
        Assert.That(ex!.Message, Does.Contain(weights).And.Contain("unexpected tensor 'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight'"));

        // A model whose injected rank disagrees with the file.
        SafetensorsWriter.Write(weights, original);
        using (var other = PlainModel())
        {
            LoraInjector.Inject(other, Config with { Rank = 2 });
            ex = Assert.Throws<InvalidDataException>(() => LoraAdapterFile.Load(other, folder));
            Assert.That(ex!.Message, Does.Contain(configPath).And.Contain("r = 4"));
        }

        // Config problems.
        string goodConfig = File.ReadAllText(configPath);
        File.WriteAllText(configPath, goodConfig.Replace("\"LORA\"", "\"IA3\""));
        ex = Assert.Throws<InvalidDataException>(() => LoraAdapterFile.Load(PlainModel(), folder));
        Assert.That(ex!.Message, Does.Contain(configPath).And.Contain("peft_type is 'IA3'"));
        File.WriteAllText(configPath, goodConfig.Replace("\"r\": 4,", ""));
        ex = Assert.Throws<InvalidDataException>(() => LoraAdapterFile.Load(PlainModel(), folder));
        Assert.That(ex!.Message, Does.Contain(configPath).And.Contain("'r'"));
        var json = JsonNode.Parse(goodConfig)!.AsObject();
        json["target_modules"] = ".*proj";
        File.WriteAllText(configPath, json.ToJsonString());
        ex = Assert.Throws<InvalidDataException>(() => LoraAdapterFile.Load(PlainModel(), folder));
        Assert.That(ex!.Message, Does.Contain(configPath).And.Contain("target_modules").And.Contain("regular expression"));
        json = JsonNode.Parse(goodConfig)!.AsObject();
        json["use_dora"] = true;
        File.WriteAllText(configPath, json.ToJsonString());
        ex = Assert.Throws<InvalidDataException>(() => LoraAdapterFile.Load(PlainModel(), folder));
        Assert.That(ex!.Message, Does.Contain("use_dora"));
        File.WriteAllText(configPath, "{ not json");
        ex = Assert.Throws<InvalidDataException>(() => LoraAdapterFile.Load(PlainModel(), folder));
        Assert.That(ex!.Message, Does.Contain(configPath));

        // Missing files.
        File.Delete(configPath);
        var missing = Assert.Throws<FileNotFoundException>(() => LoraAdapterFile.Load(PlainModel(), folder));
        Assert.That(missing!.Message, Does.Contain(configPath));
    }

    [Test]
    public void AFailedLoadLeavesTheModelUntouched()
    {
        var (folder, logits) = SavedAdapter();
        logits.Dispose();
        string weights = Path.Combine(folder, "adapter_model.safetensors");
        SafetensorsWriter.Write(weights, ReadAll(weights).Where(kv => !kv.Key.Contains("layers.1.mlp.down_proj.lora_A")));
        using var model = PlainModel();
        Assert.Throws<InvalidDataException>(() => LoraAdapterFile.Load(model, folder));
        Assert.That(LoraInjector.Find(model), Is.Empty, "nothing injected when the file does not fit");
    }

    static List<KeyValuePair<string, Tensor>> ReadAll(string path)
    {
        using var file = SafetensorsFile.Open(path);
        return file.Names.Select(n => new KeyValuePair<string, Tensor>(n, file.Read(n))).ToList();
    }
}
