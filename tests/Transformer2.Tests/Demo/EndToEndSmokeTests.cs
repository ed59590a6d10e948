using Transformer2.Adaptation.Pipeline;
using Transformer2.Demo.Tasks;
using Transformer2.Models.Llama;
using Transformer2.Training.NextToken;
using Transformer2.Training.Reinforce;
using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Demo;

/// <summary>Every stage of the demo at toy scale, so the end-to-end pipeline cannot rot: base → experts → two-pass answers.</summary>
public class EndToEndSmokeTests
{
    [Test]
    [Category("Slow")]
    public async Task EveryStageRunsAtToyScale()
    {
        string root = Path.Combine(Path.GetTempPath(), "t2-e2e-" + Guid.NewGuid().ToString("N"));
        string model = Path.Combine(root, "toy");
        string experts = Path.Combine(model, "experts");
        try
        {
            var suite = new DemoSuite(5, DemoScale.Smoke);
            var lines = new List<string>();
            var baseResult = await DemoStages.TrainBaseAsync(model, suite, BaseModelShape.Smoke,
                new NextTokenOptions { BatchSize = 16, MicroBatchSize = 16, MaxSteps = 3, LearningRate = 3e-3, ValidationInterval = 0, Seed = 1 },
                new Progress<string>(lines.Add));
            Assert.That(baseResult.StepsRun, Is.EqualTo(3));
            foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json" })
                Assert.That(File.Exists(Path.Combine(model, file)), file);
            Assert.That(LlamaConfig.Load(Path.Combine(model, "config.json")).HiddenSize, Is.EqualTo(BaseModelShape.Smoke.Hidden));

            var (llama, tokenizer) = DemoStages.LoadWithSvf(model);
            using (llama)
            {
                var options = new ReinforceOptions
                {
                    BatchSize = 4, MicroBatchSize = 4, Iterations = 1, MaxNewTokens = 4, ValidationInterval = 1, MaxValidationItems = 2,
                    Seed = 1, BaseModelIdentity = "toy", MaxGradNorm = null,
                };
                foreach (var (task, name) in suite.Training.Select(t => ((ITask)t, t.Name)).Append((suite.Classification, DemoStages.ClassificationExpert)))
                {
                    var iterations = new List<TrainingProgress>();
                    var result = await DemoStages.TrainExpertAsync(llama, tokenizer, task, name, experts, Path.Combine(root, "work-" + name), options,
                        iterations: new StepProgress<TrainingProgress>(iterations.Add));
                    Assert.That(result.IterationsRun, Is.EqualTo(1));
                    Assert.That(iterations.Select(p => p.Iteration), Is.EqualTo(new[] { 0, 1 }), "every iteration reaches the bar, in order");
                    Assert.That(File.Exists(Path.Combine(experts, name + ".safetensors")), name);
                }

                // Table 4's "SVF, next-token" row: a fresh policy trained on reference answers, saved as an ordinary expert.
                string ablation = Path.Combine(root, "next-token");
                var steps = new List<NextTokenProgress>();
                var nextToken = await DemoStages.TrainSvfNextTokenAsync(llama, tokenizer, suite.Training[0], "arith", ablation, options,
                    new NextTokenOptions { BatchSize = 4, MicroBatchSize = 4, MaxSteps = 2, LearningRate = 3e-2, ValidationInterval = 1, Seed = 1 },
                    new StepProgress<NextTokenProgress>(steps.Add));
                Assert.That(nextToken.StepsRun, Is.EqualTo(2));
                Assert.That(steps.Last().Step, Is.EqualTo(2));
                using var expert = Transformer2.Core.Experts.ExpertFile.Load(Path.Combine(ablation, "arith.safetensors"));
                Assert.That(expert.Metadata.Provenance["trainer"], Is.EqualTo("next-token"));
                Assert.That(expert.Metadata.Targets, Is.EquivalentTo(Transformer2.Core.Svf.SvfInjector.Find(llama).Keys));
            }

            // Table 1's LoRA baselines, by next-token prediction and by the same policy gradient as SVF; both come back merged.
            var lora = new Transformer2.Training.Lora.LoraConfig { Rank = 2, Alpha = 4, TargetModules = Transformer2.Training.Lora.LoraConfig.MlpAndAttentionTargets };
            var (sftModel, _, sftCount) = await DemoStages.TrainLoraAsync(model, suite.Training[0], lora,
                new NextTokenOptions { BatchSize = 4, MicroBatchSize = 4, MaxSteps = 1, ValidationInterval = 0, Seed = 1 });
            using (sftModel)
            {
                Assert.That(sftCount, Is.GreaterThan(0));
                Assert.That(Transformer2.Training.Lora.LoraInjector.Find(sftModel), Is.Empty, "adapters merged");
            }
            var rlIterations = new List<TrainingProgress>();
            var (rlModel, _, rlCount) = await DemoStages.TrainLoraReinforceAsync(model, suite.Training[0], lora,
                new ReinforceOptions { BatchSize = 4, MicroBatchSize = 4, Iterations = 1, MaxNewTokens = 4, ValidationInterval = 1, MaxValidationItems = 2, Seed = 1, MaxGradNorm = null },
                new StepProgress<TrainingProgress>(rlIterations.Add));
            using (rlModel)
            {
                Assert.That(rlCount, Is.EqualTo(sftCount), "same adapters, other objective");
                Assert.That(Transformer2.Training.Lora.LoraInjector.Find(rlModel), Is.Empty, "adapters merged");
                Assert.That(rlIterations.Select(p => p.Iteration), Is.EqualTo(new[] { 0, 1 }));
            }

            foreach (var mode in new[] { DispatchMode.Prompt, DispatchMode.ClassificationExpert, DispatchMode.FewShot })
            {
                await using var t2 = DemoPipeline.Build(model, experts, mode, suite, new Transformer2.Adaptation.Search.SearchOptions { PopulationSize = 5, Generations = 1, Seed = 1 });
                Assert.That(t2.Experts.Names, Is.EquivalentTo(new[] { "arith", "code", "choice", "cls" }));
                var task = suite.Unseen[0];
                var items = task.GetItems(TaskSplit.Test).Take(2).ToList();
                AnswerOptions? answer = null;
                if (mode == DispatchMode.FewShot)
                {
                    Assert.That(await t2.AdaptToTaskAsync(task.Name), Is.Not.Null);
                    answer = new AnswerOptions { TaskKey = task.Name };
                }
                var answered = new List<int>();
                var adapted = await DemoPipeline.EvaluateAsync(t2, task, items, mode.ToString(), answer, default, new StepProgress<int>(answered.Add));
                Assert.That(adapted.Total, Is.EqualTo(2));
                Assert.That(answered, Is.EqualTo(new[] { 1, 2 }));
                Assert.That(adapted.SecondPass, Is.GreaterThan(TimeSpan.Zero));
                if (mode != DispatchMode.FewShot) Assert.That(adapted.FirstPass, Is.GreaterThan(TimeSpan.Zero), "pass 1 ran");
            }
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, true);
        }
    }
}
