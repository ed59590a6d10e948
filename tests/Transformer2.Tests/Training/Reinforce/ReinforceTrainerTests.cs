using TorchSharp;
using Transformer2.Core.Experts;
using Transformer2.Core.IO;
using Transformer2.Core.Svf;
using Transformer2.Training.Reinforce;
using static TorchSharp.torch;
using static Transformer2.Tests.Training.Reinforce.TrainerFixture;

namespace Transformer2.Tests.Training.Reinforce;

public class ReinforceTrainerTests
{
    static readonly CharTokenizer Tokenizer = new(Alphabet);
    static readonly PlainTemplate Template = new();

    [Test]
    public async Task PolicyGradientRaisesTheMeanRewardOnALearnableTask()
    {
        using var model = Model();
        using var trainer = new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(), Options() with { Iterations = 40, LearningRate = 0.1, NormalizeRewards = true });
        var result = await trainer.TrainAsync();
        var rewards = result.History.Where(h => h.Iteration > 0).Select(h => h.RewardMean).ToList();
        double first = rewards.Take(5).Average(), last = rewards.TakeLast(5).Average();
        TestContext.Out.WriteLine($"mean reward first 5: {first:F3}, last 5: {last:F3}");
        Assert.That(last, Is.GreaterThan(first + 0.3), "REINFORCE should make 'a' more likely");
        Assert.That(model.parameters().All(p => p.grad is null || p.grad.abs().sum().item<float>() == 0), Is.True, "base weights receive no gradient");
        Assert.That(model.parameters().All(p => !p.requires_grad), Is.True, "the trainer freezes every base weight");
    }

    [Test]
    public async Task KlIsZeroWhileTheAdaptedModelEqualsTheBase()
    {
        using var model = Model();
        var constant = SvfInjector.Find(model).ToDictionary(l => l.Key, l => full(new[] { l.Value.Rank }, 0.3f));
        var options = Options() with { Iterations = 1, KlCoefficient = 0.5, Temperature = 0 };
        using var trainer = new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(), options, initialVectors: constant);
        var result = await trainer.TrainAsync();
        Assert.That(result.History[^1].Kl, Is.EqualTo(0).Within(1e-5), "a constant multiplier gives back W, so the KL to the base is zero");

        // After a real update the vectors differ and so does the KL.
        using var model2 = Model();
        using var trainer2 = new ReinforceTrainer(model2, Tokenizer, Template, TrainerFixture.Task(), Options() with { Iterations = 3, KlCoefficient = 0.5, LearningRate = 0.5 });
        var result2 = await trainer2.TrainAsync();
        Assert.That(result2.History[^1].Kl, Is.GreaterThan(1e-4));
    }

    [Test]
    public async Task ResumingGivesTheSameTrajectoryAsNotStopping()
    {
        string straight = TempFolder(), split = TempFolder();
        var options = Options() with { Iterations = 6, ValidationInterval = 3 };
        Tensor[] expected;
        using (var model = Model())
        using (var trainer = new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(), options with { OutputFolder = straight }))
        {
            await trainer.TrainAsync();
            expected = trainer.Policy.Parameters.Select(p => p.detach().clone()).ToArray();
        }
        using (var model = Model())
        using (var trainer = new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(), options with { OutputFolder = split, Iterations = 4 }))
            await trainer.TrainAsync();
        using (var model = Model())
        using (var trainer = new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(), options with { OutputFolder = split }))
        {
            var result = await trainer.TrainAsync();
            Assert.That(result.History.Select(h => h.Iteration), Is.EqualTo(new[] { 0, 1, 2, 3, 4, 5, 6 }), "history continues across the restart");
            for (int i = 0; i < expected.Length; i++)
                Assert.That(trainer.Policy.Parameters[i].detach().equal(expected[i]).all().item<bool>(), Is.True, $"vector {i} equals the uninterrupted run's");
        }
        // Columns: iteration, reward, train accuracy, [validation: the shorter run validates at its own last iteration], loss, KL, grad norm, lr.
        static IEnumerable<string> WithoutTimings(string path) => File.ReadAllLines(path).Select(l => string.Join(',', l.Split(',').Take(8).Where((_, i) => i != 3)));
        Assert.That(WithoutTimings(Path.Combine(split, "learning_curve.csv")), Is.EqualTo(WithoutTimings(Path.Combine(straight, "learning_curve.csv"))), "same curve apart from timings");
    }

    [Test]
    public async Task AStateIsNotResumedOnAnotherBaseModel()
    {
        // The same folder, targets and options, but a base model with other weights (as after retraining it in place,
        // which keeps its name): resuming would continue another model's vectors and Adam moments.
        string folder = TempFolder();
        var options = Options(folder) with { Iterations = 2 };
        using (var model = Model(seed: 3))
        using (var trainer = new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(), options))
            await trainer.TrainAsync();
        string statePath = Path.Combine(folder, "state.safetensors");
        byte[] before = File.ReadAllBytes(statePath);

        using (var other = Model(seed: 4))
        using (var trainer = new ReinforceTrainer(other, Tokenizer, Template, TrainerFixture.Task(), options with { Iterations = 4 }))
        {
            var error = Assert.ThrowsAsync<InvalidDataException>(async () => await trainer.TrainAsync());
            Assert.That(error!.Message, Does.Contain(statePath).And.Contain("another base model"));
        }
        Assert.That(File.ReadAllBytes(statePath), Is.EqualTo(before), "the state is left as it was");

        // The model it was saved with resumes it.
        using var same = Model(seed: 3);
        using var resumed = new ReinforceTrainer(same, Tokenizer, Template, TrainerFixture.Task(), options with { Iterations = 4 });
        var result = await resumed.TrainAsync();
        Assert.That(result.History.Select(h => h.Iteration), Is.EqualTo(new[] { 1, 2, 3, 4 }), "iterations 1-2 come from the saved state");
    }

    [Test]
    public async Task SavesTheBestExpertTheStateAndTheLearningCurve()
    {
        string folder = TempFolder();
        using var model = Model();
        var options = Options() with { Iterations = 4, ValidationInterval = 2, OutputFolder = folder, ExpertName = "more-a", BaseModelIdentity = "tiny-test" };
        using var trainer = new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(), options);
        var result = await trainer.TrainAsync();

        using var expert = ExpertFile.Load(Path.Combine(folder, "expert.safetensors"));
        Assert.That(expert.Name, Is.EqualTo("more-a"));
        Assert.That(expert.Metadata.BaseModelIdentity, Is.EqualTo("tiny-test"));
        Assert.That(expert.Targets, Is.EqualTo(trainer.Policy.Names));
        Assert.That(expert.Metadata.Scores["validation_accuracy"], Is.EqualTo(result.BestValidationAccuracy));
        Assert.That(File.ReadAllLines(Path.Combine(folder, "learning_curve.csv")), Has.Length.EqualTo(1 + result.History.Count));
        var png = File.ReadAllBytes(Path.Combine(folder, "learning_curve.png"));
        Assert.That(png.Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }));
        using var state = SafetensorsFile.Open(Path.Combine(folder, "state.safetensors"));
        Assert.That(state.Names, Does.Contain("adam_m.0"));
        Assert.That(Directory.GetFiles(folder).Where(f => f.Contains(".tmp", StringComparison.OrdinalIgnoreCase)), Is.Empty, "no temporary files left");
    }

    [Test]
    public async Task AnyResultOfTheRunCanBeSavedAsAnExpertAnywhere()
    {
        string folder = TempFolder();
        using var model = Model();
        var options = Options() with { Iterations = 2, ValidationInterval = 2, OutputFolder = null, ExpertName = "mine", BaseModelIdentity = "tiny-test" };
        using var trainer = new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(), options);
        var result = await trainer.TrainAsync();
        var policy = (SvfPolicy)trainer.Policy;
        string path = Path.Combine(folder, "nested", "my-expert.safetensors");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        policy.SaveExpert(path, result, options, "tiny-task");

        using var expert = ExpertFile.Load(path);
        Assert.That(expert.Name, Is.EqualTo("mine"));
        Assert.That(expert.Metadata.Provenance["task"], Is.EqualTo("tiny-task"));
        Assert.That(expert.Metadata.Scores[SvfPolicy.ValidationAccuracyScore], Is.EqualTo(result.BestValidationAccuracy));
        for (int i = 0; i < result.BestVectors.Count; i++)
            Assert.That(expert[result.BestVectors[i].Key].equal(result.BestVectors[i].Value).all().item<bool>(), Is.True, result.BestVectors[i].Key);
        Assert.That(result.BestVectors[0].Value.numel(), Is.GreaterThan(0), "the result keeps its own tensors");

        var foreign = result with { BestVectors = [.. result.BestVectors.Skip(1)] };
        Assert.Throws<ArgumentException>(() => policy.SaveExpert(Path.Combine(folder, "bad.safetensors"), foreign, options, "tiny-task"));
        Assert.That(File.Exists(Path.Combine(folder, "bad.safetensors")), Is.False);
    }

    [Test]
    public void CancellationStopsTrainingAndLeavesLoadableFiles()
    {
        string folder = TempFolder();
        using var model = Model();
        using var cts = new CancellationTokenSource();
        using var trainer = new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(), Options(folder) with { Iterations = 50 });
        var progress = new SynchronousProgress(p => { if (p.Iteration == 2) cts.Cancel(); });
        Assert.That(async () => await trainer.TrainAsync(progress, cts.Token), Throws.InstanceOf<OperationCanceledException>());
        using var state = SafetensorsFile.Open(Path.Combine(folder, "state.safetensors"));
        Assert.That(state.Names, Does.Contain("p.0"));
    }

    [Test]
    public void AModelWithoutSvfLayersIsRejected()
    {
        torch.manual_seed(1);
        using var model = new Transformer2.Models.Llama.LlamaForCausalLM(Config);
        var ex = Assert.Throws<ArgumentException>(() => new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(), Options()));
        Assert.That(ex!.Message, Does.Contain("SvfInjector.Inject"));
    }

    [Test]
    public void BadOptionsNameTheSetting()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => (Options() with { MicroBatchSize = 0 }).Validate());
        Assert.That(ex!.ParamName, Is.EqualTo("MicroBatchSize"));
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => (Options() with { KlCoefficient = -1 }).Validate());
        Assert.That(ex!.ParamName, Is.EqualTo("KlCoefficient"));
    }

    [Test]
    public void BatchesAreReproducibleAndDrawnWithoutReplacement()
    {
        using var model = Model();
        using var trainer = new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(trainItems: 20), Options());
        var a = trainer.SampleBatch(5).Select(i => i.Id).ToList();
        Assert.That(a, Is.Unique);
        Assert.That(a, Has.Count.EqualTo(8));
        Assert.That(trainer.SampleBatch(5).Select(i => i.Id), Is.EqualTo(a));
        Assert.That(trainer.SampleBatch(6).Select(i => i.Id), Is.Not.EqualTo(a));
    }

    [Test]
    public void BatchesDependOnTheSeedAloneSoEveryRunDrawsTheSame()
    {
        // Pinned ids: a seed derived per process (e.g. by HashCode.Combine) would draw other batches in each test run.
        using var model = Model();
        using var trainer = new ReinforceTrainer(model, Tokenizer, Template, TrainerFixture.Task(trainItems: 20), Options());
        Assert.That(trainer.SampleBatch(1).Select(i => i.Id), Is.EqualTo(PinnedBatch));
    }

    static readonly string[] PinnedBatch = ["t18", "t12", "t9", "t3", "t15", "t7", "t17", "t19"];

    sealed class SynchronousProgress(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }
}

public class KlCoefficientSelectionTests
{
    [Test]
    public async Task TrainsOneRunPerCoefficientAndKeepsTheBestOnValidation()
    {
        string folder = TrainerFixture.TempFolder();
        var options = TrainerFixture.Options(folder) with { Iterations = 2, ValidationInterval = 1 };
        var models = new List<Transformer2.Models.Llama.LlamaForCausalLM>();
        var seen = new HashSet<double>();
        var result = await KlCoefficientSelection.SelectAsync(o =>
        {
            var model = TrainerFixture.Model();
            models.Add(model);
            return new ReinforceTrainer(model, new CharTokenizer(TrainerFixture.Alphabet), new PlainTemplate(), TrainerFixture.Task(), o);
        }, options, [0.0, 0.3], new SynchronousProgress<(double, TrainingProgress)>(p => seen.Add(p.Item1)));

        Assert.That(result.Runs.Select(r => r.Key), Is.EqualTo(new[] { 0.0, 0.3 }));
        Assert.That(seen, Is.EquivalentTo(new[] { 0.0, 0.3 }));
        double best = result.Runs.Max(r => r.Value.BestValidationAccuracy!.Value);
        Assert.That(result.Best.BestValidationAccuracy, Is.EqualTo(best));
        Assert.That(result.BestCoefficient, Is.EqualTo(result.Runs.First(r => r.Value.BestValidationAccuracy == best).Key), "ties go to the smallest λ");
        Assert.That(File.Exists(Path.Combine(folder, "kl-0", "expert.safetensors")), Is.True);
        Assert.That(File.Exists(Path.Combine(folder, "kl-0.3", "expert.safetensors")), Is.True);
        foreach (var m in models) m.Dispose();
    }

    [Test]
    public void SelectionWithoutValidationIsRefused() =>
        Assert.That(async () => await KlCoefficientSelection.SelectAsync(_ => throw new InvalidOperationException(), TrainerFixture.Options() with { ValidationInterval = 0 }),
            Throws.ArgumentException.With.Message.Contains("ValidationInterval"));
}
