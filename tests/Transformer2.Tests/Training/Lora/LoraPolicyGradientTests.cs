using TorchSharp;
using Transformer2.Tests.Training.Reinforce;
using Transformer2.Training.Lora;
using Transformer2.Training.Reinforce;
using static TorchSharp.torch;
using static Transformer2.Tests.Training.Reinforce.TrainerFixture;

namespace Transformer2.Tests.Training.Lora;

public class LoraPolicyGradientTests
{
    static readonly CharTokenizer Tokenizer = new(Alphabet);
    static readonly PlainTemplate Template = new();
    static readonly LoraConfig Lora = new() { Rank = 4, Alpha = 8, TargetModules = LoraConfig.MlpAndAttentionTargets };

    static Transformer2.Models.Llama.LlamaForCausalLM LoraModel()
    {
        var model = LoraFixture.PlainModel();
        LoraInjector.Inject(model, Lora, seed: 5);
        return model;
    }

    [Test]
    public async Task PolicyGradientOnLoraRaisesTheMeanReward()
    {
        using var model = LoraModel();
        var baseWeights = model.state_dict().Where(kv => !kv.Key.Contains("lora_")).ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        using var policy = new LoraPolicy(model, Lora);
        using var trainer = new ReinforceTrainer(model, policy, Tokenizer, Template, TrainerFixture.Task(), Options() with { Iterations = 40, LearningRate = 0.02, NormalizeRewards = true });
        var result = await trainer.TrainAsync();
        var rewards = result.History.Where(h => h.Iteration > 0).Select(h => h.RewardMean).ToList();
        double first = rewards.Take(5).Average(), last = rewards.TakeLast(5).Average();
        TestContext.Out.WriteLine($"LoRA-PG mean reward first 5: {first:F3}, last 5: {last:F3}; {policy.ParameterCount} trainable scalars");
        Assert.That(last, Is.GreaterThan(first + 0.3), "REINFORCE on LoRA should make 'a' more likely");
        foreach (var (key, value) in model.state_dict().Where(kv => !kv.Key.Contains("lora_")))
            Assert.That(value.equal(baseWeights[key]).all().item<bool>(), Is.True, $"{key} is frozen");
        Assert.That(model.parameters().Where(p => p.requires_grad).Sum(p => p.numel()), Is.EqualTo(policy.ParameterCount));
        Assert.That(trainer.Policy.Names[0], Is.EqualTo("model.layers.0.self_attn.q_proj.lora_A.weight"));
    }

    [Test]
    public async Task KlToTheBaseIsZeroAtInitialisationAndTheBestAdapterIsSavedInPeftLayout()
    {
        string folder = TempFolder();
        using var model = LoraModel();
        using var policy = new LoraPolicy(model, Lora);
        var options = Options() with { Iterations = 2, ValidationInterval = 1, KlCoefficient = 0.5, Temperature = 0, OutputFolder = folder, BaseModelIdentity = "tiny-test" };
        using var trainer = new ReinforceTrainer(model, policy, Tokenizer, Template, TrainerFixture.Task(), options);
        var result = await trainer.TrainAsync();
        Assert.That(result.History.First(h => h.Iteration == 1).Kl, Is.EqualTo(0).Within(1e-6), "B = 0: the adapted model is the base");
        Assert.That(LoraInjector.Find(model).Values.All(l => l.Enabled), Is.True, "the base-model scope switches the adapters back on");

        var info = LoraAdapterFile.ReadConfig(folder);
        Assert.That((info.Config.Rank, info.BaseModelNameOrPath), Is.EqualTo((4, "tiny-test")));
        using var fresh = LoraFixture.PlainModel();
        LoraAdapterFile.Load(fresh, folder);
        var saved = LoraInjector.Parameters(fresh).ToDictionary(p => p.Key, p => p.Value);
        foreach (var (name, tensor) in result.BestVectors)
            Assert.That(saved[name].equal(tensor).all().item<bool>(), Is.True, $"{name} saved as the best adapter");
        Assert.That(File.Exists(Path.Combine(folder, "state.safetensors")), Is.True);
        Assert.That(File.Exists(Path.Combine(folder, "expert.safetensors")), Is.False, "no SVF expert for a LoRA run");
    }

    [Test]
    public async Task ResumingALoraRunGivesTheSameAdapter()
    {
        string straight = TempFolder(), split = TempFolder();
        var options = Options() with { Iterations = 4, LearningRate = 0.02 };
        Tensor[] expected;
        using (var model = LoraModel())
        using (var policy = new LoraPolicy(model, Lora))
        using (var trainer = new ReinforceTrainer(model, policy, Tokenizer, Template, TrainerFixture.Task(), options with { OutputFolder = straight }))
        {
            await trainer.TrainAsync();
            expected = policy.Parameters.Select(p => p.detach().clone()).ToArray();
        }
        using (var model = LoraModel())
        using (var policy = new LoraPolicy(model, Lora))
        using (var trainer = new ReinforceTrainer(model, policy, Tokenizer, Template, TrainerFixture.Task(), options with { OutputFolder = split, Iterations = 2 }))
            await trainer.TrainAsync();
        using (var model = LoraModel())
        using (var policy = new LoraPolicy(model, Lora))
        using (var trainer = new ReinforceTrainer(model, policy, Tokenizer, Template, TrainerFixture.Task(), options with { OutputFolder = split }))
        {
            await trainer.TrainAsync();
            for (int i = 0; i < expected.Length; i++)
                Assert.That(policy.Parameters[i].detach().equal(expected[i]).all().item<bool>(), Is.True, $"{policy.Names[i]} equals the uninterrupted run's");
        }
    }

    [Test]
    public void APolicyNeedsInjectedLayersThatMatchItsConfig()
    {
        using var plain = LoraFixture.PlainModel();
        Assert.That(Assert.Throws<ArgumentException>(() => new LoraPolicy(plain, Lora))!.Message, Does.Contain("LoraInjector.Inject"));
        using var model = LoraModel();
        Assert.That(Assert.Throws<ArgumentException>(() => new LoraPolicy(model, Lora with { Rank = 8 }))!.Message, Does.Contain("r = 4"));
        using var policy = new LoraPolicy(model, Lora);
        LoraInjector.Find(model).Values.First().Merge();
        Assert.Throws<InvalidOperationException>(() => policy.Activate(withGradient: true));
    }
}
