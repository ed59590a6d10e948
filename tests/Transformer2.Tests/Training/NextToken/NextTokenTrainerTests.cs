using TorchSharp;
using Transformer2.Tests.Training.Lora;
using Transformer2.Tests.Training.Reinforce;
using Transformer2.Training.Lora;
using Transformer2.Training.NextToken;
using Transformer2.Training.Reinforce;
using Transformer2.Training.Tasks;
using static TorchSharp.torch;

namespace Transformer2.Tests.Training.NextToken;

public class NextTokenTrainerTests
{
    static readonly CharTokenizer Tokenizer = new(TrainerFixture.Alphabet);
    static readonly PlainTemplate Template = new();

    /// <summary>
    /// Prompt: two letters; solution: the letter after the first, three times (a learnable mapping), or 1–5 times when
    /// <paramref name="varyingLengths"/> (so sequences differ in length).
    /// </summary>
    static DelegateTask SolutionTask(int trainItems = 24, int validItems = 8, bool withReferences = true, bool varyingLengths = false)
    {
        const string a = TrainerFixture.Alphabet;
        List<TaskItem> Items(string prefix, int n, int offset) => Enumerable.Range(offset, n).Select(i =>
        {
            char first = a[i % 7], second = a[(i / 7) % 8];
            var item = new TaskItem($"{prefix}{i}", $"{first}{second}");
            return withReferences ? item with { References = [new string(a[(i % 7) + 1], varyingLengths ? 1 + i % 5 : 3)] } : item;
        }).ToList();
        var splits = new TaskSplits(Items("t", trainItems, 0), Items("v", validItems, trainItems), [], []);
        return DelegateTask.WithReward("next-letter", splits, null, (_, _) => 0, new GenerationSettings(4, 64, []));
    }

    [Test]
    public void EpochOrderDependsOnTheSeedAloneSoEveryRunShufflesTheSame()
    {
        // Pinned ids: a seed derived per process (e.g. by HashCode.Combine) would shuffle differently in each test run.
        using var model = TrainerFixture.Model();
        using var trainer = new NextTokenTrainer(model, model.parameters(), Tokenizer, Template, SolutionTask(trainItems: 10), Options);
        Assert.That(trainer.Shuffled(1).Select(e => e.Id), Is.EqualTo(PinnedOrder));
    }

    static readonly string[] PinnedOrder = ["t8", "t6", "t7", "t1", "t9", "t0", "t2", "t4", "t5", "t3"];

    static NextTokenOptions Options => new()
    {
        BatchSize = 8,
        MicroBatchSize = 4,
        Epochs = 100,
        MaxSteps = 30,
        LearningRate = 1e-2,
        ValidationInterval = 10,
        Seed = 3,
    };

    [Test]
    public async Task LoraNextTokenTrainingLowersTheSolutionLossAndLeavesTheBaseAlone()
    {
        using var model = LoraFixture.PlainModel();
        var baseWeights = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        var lora = new LoraConfig { Rank = 4, Alpha = 8, TargetModules = LoraConfig.MlpAndAttentionTargets };
        LoraInjector.Inject(model, lora, seed: 1);
        using var trainer = new NextTokenTrainer(model, LoraInjector.Parameters(model).Select(p => p.Value), Tokenizer, Template, SolutionTask(), Options);
        double before = trainer.ValidationLoss();
        var result = await trainer.TrainAsync();
        double after = trainer.ValidationLoss();
        TestContext.Out.WriteLine($"validation loss per solution token: {before:F3} → {after:F3} (best step {result.BestStep})");
        Assert.That(after, Is.LessThan(0.5 * before));
        Assert.That(result.History.Where(h => h.Step > 0).TakeLast(5).Average(h => h.Loss), Is.LessThan(result.History.Where(h => h.Step > 0).Take(5).Average(h => h.Loss)));
        Assert.That(result.BestValidationLoss, Is.EqualTo(after).Within(1e-5), "the best parameters are restored");
        foreach (var (key, value) in model.state_dict().Where(kv => !kv.Key.Contains("lora_")))
            Assert.That(value.equal(baseWeights[key]).all().item<bool>(), Is.True, $"{key} is frozen");
        Assert.That(model.training, Is.False, "the model's eval mode is restored");
    }

    [Test]
    public async Task FullModelTrainingOfASmallModelLowersTheLoss()
    {
        using var model = LoraFixture.PlainModel();
        using var trainer = new NextTokenTrainer(model, model.parameters(), Tokenizer, Template, SolutionTask(),
            Options with { LearningRate = 3e-3, MaxSteps = 15, ValidationInterval = 0, WeightDecay = 0.01 });
        double before = trainer.ValidationLoss();
        var result = await trainer.TrainAsync();
        double after = trainer.ValidationLoss();
        TestContext.Out.WriteLine($"validation loss per solution token: {before:F3} → {after:F3}");
        Assert.That(after, Is.LessThan(0.7 * before));
        Assert.That(result.StepsRun, Is.EqualTo(15));
        Assert.That(result.BestValidationLoss, Is.Null);
    }

    [Test]
    public async Task SvfVectorsCanBeTrainedByNextTokenPrediction()
    {
        using var model = TrainerFixture.Model();   // SVF layers on the MLPs
        using var policy = new SvfPolicy(global::Transformer2.Core.Svf.SvfInjector.Find(model).Select(l => new KeyValuePair<string, long>(l.Key, l.Value.Rank)), global::Transformer2.Core.Svf.SvfParameterization.Default, seed: 1);
        var initial = policy.Snapshot();
        using var trainer = new NextTokenTrainer(model, policy, Tokenizer, Template, SolutionTask(), Options with { LearningRate = 0.1, MaxSteps = 20 });
        double before = trainer.ValidationLoss();
        await trainer.TrainAsync();
        double after = trainer.ValidationLoss();
        TestContext.Out.WriteLine($"SVF next-token validation loss per solution token: {before:F3} → {after:F3}");
        Assert.That(after, Is.LessThan(0.9 * before));
        Assert.That(policy.Parameters[0].detach().equal(initial[0].Value).all().item<bool>(), Is.False, "the vectors moved");
        Assert.That(model.parameters().All(p => !p.requires_grad), Is.True, "every model weight stays frozen");
    }

    [Test]
    public void TheLossCoversSolutionTokensOnly()
    {
        var examples = new List<NextTokenTrainer.Example> { new("x", [5, 6, 7], [8, 9]), new("y", [5], [8]) };
        var (ids, attention, mask) = NextTokenTrainer.Pack(examples, pad: 0);
        Assert.That(ids.data<long>().ToArray(), Is.EqualTo(new long[] { 5, 6, 7, 8, 9, 5, 8, 0, 0, 0 }));
        Assert.That(attention.data<long>().ToArray(), Is.EqualTo(new long[] { 1, 1, 1, 1, 1, 1, 1, 0, 0, 0 }));
        // Position t predicts token t + 1: only 8 and 9 (row 0) and 8 (row 1) are targets.
        Assert.That(mask.data<float>().ToArray(), Is.EqualTo(new float[] { 0, 0, 1, 1, 1, 0, 0, 0 }));
    }

    [Test]
    public void TokenBoundedMicroBatchesPackLengthSortedExamplesWithinBothBounds()
    {
        // Lengths 3, 10, 2, 9, 4, 3 (prompt + solution); budget 12 padded tokens, at most 3 sequences.
        int[] lengths = [3, 10, 2, 9, 4, 3];
        var examples = lengths.Select((n, i) => new NextTokenTrainer.Example($"e{i}", [1], Enumerable.Repeat(5, n - 1).ToArray())).ToList();
        var options = new NextTokenOptions { MicroBatchSize = 3, MicroBatchTokens = 12 };
        var chunks = NextTokenTrainer.MicroBatches(examples, options).Select(c => c.Select(e => e.Id).ToList()).ToList();
        // Sorted: e2(2) e0(3) e5(3) e4(4) e3(9) e1(10): [e2 e0 e5] hits the 3-sequence cap, 2 × 9 > 12 splits e4 from e3, e1 alone.
        Assert.That(chunks, Is.EqualTo(new[] { new[] { "e2", "e0", "e5" }, new[] { "e4" }, new[] { "e3" }, new[] { "e1" } }));
        Assert.That(NextTokenTrainer.MicroBatches(examples, options with { MicroBatchTokens = null }).Select(c => c.Count), Is.EqualTo(new[] { 3, 3 }),
            "without a token bound the order is kept and only the sequence count splits");
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => (Options with { MicroBatchTokens = 0 }).Validate())!.ParamName, Is.EqualTo("MicroBatchTokens"));
    }

    [Test]
    public void TokenBoundedMicroBatchesTrainTheSameModel()
    {
        // Solutions of 1–5 repeats: lengths vary, so the token bound regroups the batch; the loss is still summed over the
        // batch's solution tokens, so training matches fixed-size micro-batches up to float summation order.
        var task = SolutionTask(varyingLengths: true);
        var settings = Options with { MaxSteps = 6, ValidationInterval = 0, LearningRate = 3e-3 };
        float[] Train(NextTokenOptions options)
        {
            using var model = LoraFixture.PlainModel();
            using var trainer = new NextTokenTrainer(model, model.parameters(), Tokenizer, Template, task, options);
            trainer.TrainAsync().GetAwaiter().GetResult();
            return model.parameters().SelectMany(p => p.detach().flatten().data<float>().ToArray()).ToArray();
        }
        var fixedSize = Train(settings);
        var bounded = Train(settings with { MicroBatchSize = 8, MicroBatchTokens = 12 });
        double maxDifference = fixedSize.Zip(bounded, (a, b) => Math.Abs(a - b)).Max();
        TestContext.Out.WriteLine($"largest parameter difference after 6 steps: {maxDifference:G3}");
        Assert.That(maxDifference, Is.LessThan(1e-4));
        Assert.That(fixedSize.Zip(Train(settings with { MaxSteps = 1 }), (a, b) => Math.Abs(a - b)).Max(), Is.GreaterThan(1e-3), "the comparison can fail: training moves the weights");
    }

    [Test]
    public void SolutionsAreTheReferencePlusEos()
    {
        using var model = LoraFixture.PlainModel();
        using var trainer = new NextTokenTrainer(model, model.parameters(), Tokenizer, Template, SolutionTask(), Options);
        var first = trainer.TrainExamples[0];
        Assert.That(first.Prompt, Is.EqualTo(Tokenizer.Encode("aa", addBos: true)), "prompts carry exactly one BOS, as in the RL trainer");
        Assert.That(first.Solution, Is.EqualTo(Tokenizer.Encode("bbb").Append(2)));
        Assert.That(trainer.TotalSteps, Is.EqualTo(30));
        using var short1 = new NextTokenTrainer(model, model.parameters(), Tokenizer, Template, SolutionTask(), Options with { AppendEos = false, MaxSequenceLength = 5, MaxSteps = null, Epochs = 2 });
        Assert.That(short1.TrainExamples[0].Solution, Is.EqualTo(Tokenizer.Encode("bb")), "truncated to 5 tokens in all");
        Assert.That(short1.TotalSteps, Is.EqualTo(2 * 3));
    }

    [Test]
    public void BadInputIsRejectedWithTheReason()
    {
        using var model = LoraFixture.PlainModel();
        var ex = Assert.Throws<ArgumentException>(() => new NextTokenTrainer(model, [], Tokenizer, Template, SolutionTask(), Options));
        Assert.That(ex!.Message, Does.Contain("parameter list is empty"));
        ex = Assert.Throws<ArgumentException>(() => new NextTokenTrainer(model, model.parameters(), Tokenizer, Template, SolutionTask(withReferences: false), Options));
        Assert.That(ex!.Message, Does.Contain("reference solution"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => (Options with { Epochs = 0 }).Validate())!.ParamName, Is.EqualTo("Epochs"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => (Options with { WeightDecay = -1 }).Validate())!.ParamName, Is.EqualTo("WeightDecay"));
    }

    [Test]
    public void CancellationStopsTrainingAndLeavesTheCurveReadable()
    {
        string folder = TrainerFixture.TempFolder();
        using var model = LoraFixture.PlainModel();
        LoraInjector.Inject(model, new LoraConfig { Rank = 2 });
        using var cts = new CancellationTokenSource();
        using var trainer = new NextTokenTrainer(model, LoraInjector.Parameters(model).Select(p => p.Value), Tokenizer, Template, SolutionTask(), Options with { OutputFolder = folder, ValidationInterval = 0 });
        var progress = new SynchronousProgress(p => { if (p.Step == 2) cts.Cancel(); });
        Assert.That(async () => await trainer.TrainAsync(progress, cts.Token), Throws.InstanceOf<OperationCanceledException>());
        var lines = File.ReadAllLines(Path.Combine(folder, "learning_curve.csv"));
        Assert.That(lines[0], Does.StartWith("step,epoch,loss"));
        Assert.That(lines, Has.Length.EqualTo(3));
        Assert.That(model.training, Is.False);
    }

    sealed class SynchronousProgress(Action<NextTokenProgress> action) : IProgress<NextTokenProgress>
    {
        public void Report(NextTokenProgress value) => action(value);
    }
}
