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
                    var result = await DemoStages.TrainExpertAsync(llama, tokenizer, task, name, experts, Path.Combine(root, "work-" + name), options);
                    Assert.That(result.IterationsRun, Is.EqualTo(1));
                    Assert.That(File.Exists(Path.Combine(experts, name + ".safetensors")), name);
                }
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
                var adapted = await DemoPipeline.EvaluateAsync(t2, task, items, mode.ToString(), answer);
                Assert.That(adapted.Total, Is.EqualTo(2));
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
