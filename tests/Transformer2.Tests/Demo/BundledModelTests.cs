using Transformer2.Adaptation.Pipeline;
using Transformer2.Demo.Tasks;
using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Demo;

/// <summary>
/// What the bundled model and experts are for, checked on the files in the repository: the base model is unreliable on
/// the training families and each family's expert fixes it; pass 1 routes every unseen family to its related expert. A
/// change to the library that silently breaks the bundle (loading, dispatch, SVF scaling) fails here.
/// </summary>
public class BundledModelTests
{
    /// <summary>Held-out items per family checked here (the first of each test split; the main job shows 16).</summary>
    const int Items = 20;

    static TransformerSquared BundledPipeline(DemoSuite suite, bool int8 = false)
    {
        string model = BundledModel.Folder();
        return DemoPipeline.Build(model, Path.Combine(model, "experts"), DispatchMode.Prompt, suite, int8: int8);
    }

    // int8: the frozen attention projections and LM head as int8 blocks, the adapted MLP matrices in F32; the experts
    // must still do their work on that base.
    [Test]
    [Category("Slow")]
    public async Task EachExpertBeatsTheBaseModelOnItsTrainingFamily([Values(false, true)] bool int8)
    {
        var suite = new DemoSuite();
        await using var t2 = BundledPipeline(suite, int8);
        foreach (var task in suite.Training)
        {
            var items = task.GetItems(TaskSplit.Test).Take(Items).ToList();
            var plain = await DemoPipeline.EvaluateAsync(t2, task, items, "base", new AnswerOptions { Plan = AdaptationPlan.Base });
            var adapted = await DemoPipeline.EvaluateAsync(t2, task, items, "svf", new AnswerOptions { Plan = AdaptationPlan.Single(task.Name) });
            Assert.That(plain.Accuracy, Is.LessThan(0.7), $"{task.Name}: the base model should be unreliable, not already right");
            Assert.That(adapted.Correct - plain.Correct, Is.GreaterThanOrEqualTo(Items * 15 / 100), // at least +15 points, as issue 11 asks of every seed
                 $"{task.Name}: base {plain.Correct}/{Items}, SVF {adapted.Correct}/{Items}");
        }
    }

    [Test]
    [Category("Slow")]
    public async Task PassOneRoutesEveryUnseenFamilyToItsRelatedExpert()
    {
        var suite = new DemoSuite();
        await using var t2 = BundledPipeline(suite);
        foreach (var task in suite.Unseen)
        {
            int right = 0;
            foreach (var item in task.GetItems(TaskSplit.Test).Take(Items))
                if ((await t2.DecideAsync(task.BuildMessages(item))).Label == task.Family.Label) right++;
            Assert.That(right, Is.GreaterThanOrEqualTo(Items * 9 / 10), $"{task.Name}: {right}/{Items} labelled {task.Family.Label}");
        }
    }
}
