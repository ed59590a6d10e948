using Transformer2.Adaptation.Dispatch;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Adaptation.Search;
using Transformer2.Training.Tasks;
using static Transformer2.Tests.Adaptation.Vision.VisionFixture;

namespace Transformer2.Tests.Adaptation.Vision;

/// <summary>Few-shot CEM on a VQA task whose items carry embedded images, compared with the same steps done by hand.</summary>
public class LlavaFewShotTests
{
    const int AnswerTokens = 1;   // one token, "even" or "odd": a fair share of mixtures answer right

    [Test]
    public async Task FewShotSearchOnAVqaTaskWithImagesScoresWhatTheModelSaysAboutEachImage()
    {
        using var llava = Model();
        var experts = new[] { Expert(llava, "e1", seed: 5), Expert(llava, "e2", seed: 6) };
        var generation = new GenerationSettings(AnswerTokens, 4096, []);
        var pngs = new[] { Solid(0, 0, 0), Solid(255, 255, 255), Solid(255, 0, 0), Solid(0, 255, 0) };
        string rendered = "user: <image>\nwhat?\nassistant: ";

        // References: what the equal mixture answers about each shot's image.
        using var start = new DisposableMultipliers(Mix(experts, [0.5, 0.5]));
        var shots = pngs.Select((png, i) => new TaskItem($"q{i}", "what?")
        {
            ImageBytes = png,
            References = Enumerable.Repeat(Decode(Generate(llava, rendered, [Pixels(png)], start.Value, AnswerTokens).Tokens, WordTokenizer), 10).ToList(),
        }).ToList();
        Assert.That(shots.Select(s => s.References[0]).Distinct().Count(), Is.GreaterThan(1), "the images give different answers, so the fitness depends on them");
        var task = new VqaTask("synthetic-vqa", new TaskSplits(shots, [], [], []), instruction: "", generation);

        var strategy = new FewShotStrategy(["e1", "e2"], new SearchOptions { PopulationSize = 5, Generations = 2, Seed = 3 }).AddTask("vqa", task, shots);
        await using var t2 = new TransformerSquaredBuilder()
            .UseLlava(llava, Processor, WordTokenizer, Template)
            .AddExpert(experts[0]).AddExpert(experts[1])
            .UseStrategy(strategy)
            .ConfigureGeneration(g => g with { MaxNewTokens = AnswerTokens })
            .Build();
        var result = await t2.AdaptToTaskAsync("vqa");
        Assert.That(result, Is.Not.Null);
        var plan = strategy.AdaptedPlan("vqa")!;
        double[] alpha = plan.Weights!.For(plan.Weights.Targets?[0] ?? "*");

        // By hand: the found mixture, each shot with its own image, scored by the task.
        using var found = new DisposableMultipliers(Mix(experts, alpha));
        var byHand = pngs.Select(png => Generate(llava, rendered, [Pixels(png)], found.Value, AnswerTokens)).ToList();
        var answers = byHand.Select(g => Decode(g.Tokens, WordTokenizer)).ToList();
        var correct = shots.Select((s, i) => task.Score(s, answers[i]).Correct).ToList();
        double accuracy = correct.Average(c => c ? 1.0 : 0.0);
        double logLikelihood = byHand.Where((_, i) => correct[i]).Select(g => g.LogProbs.Average(x => (double)x)).DefaultIfEmpty(0).Average();
        Assert.That(result!.BestFitness.Score, Is.EqualTo(accuracy));
        Assert.That(result.BestFitness.MeanLogLikelihood, Is.EqualTo(logLikelihood).Within(1e-4), "tie-break log-probs come from generation with the images");
        Assert.That(result.BestFitness.Score, Is.GreaterThan(0), "the search found a mixture that answers about the images");

        // A request of that task answers with the mixture and its image.
        var request = TaskItemImages.Attach(task.BuildMessages(shots[1]), shots[1]);
        var answer = await t2.AnswerAsync(request, new AnswerOptions { TaskKey = "vqa" });
        Assert.That(answer.Decision.Plan, Is.EqualTo(plan));
        Assert.That(answer.Answer, Is.EqualTo(answers[1]));
    }

    [Test]
    public void TaskItemImagesAttachTheItemImageToThePlaceholderMessage()
    {
        var item = new TaskItem("q", "what?") { ImageBytes = [1, 2, 3], Metadata = new Dictionary<string, string> { ["image_path"] = "COCO_1.jpg" } };
        var task = new VqaTask("v", TaskSplits.Empty);
        var messages = TaskItemImages.Attach(task.BuildMessages(item), item);
        Assert.That(messages[^1].Images, Has.Count.EqualTo(1));
        Assert.That(messages[^1].Images[0].Name, Does.Contain("COCO_1.jpg").And.Contain("'q'"));
        var plain = new TaskItem("p", "2+2?");
        Assert.That(TaskItemImages.Attach(task.BuildMessages(plain), plain)[^1].Images, Is.Empty);
        var onDisk = new TaskItem("f", "x") { ImagePath = "/data/x.png" };
        Assert.That(TaskItemImages.Image(onDisk)!.Name, Is.EqualTo("/data/x.png"));
    }

    static byte[] Solid(byte red, byte green, byte blue)
    {
        using var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(12, 12, new SixLabors.ImageSharp.PixelFormats.Rgb24(red, green, blue));
        using var stream = new MemoryStream();
        SixLabors.ImageSharp.ImageExtensions.SaveAsPng(image, stream);
        return stream.ToArray();
    }

    /// <summary>Multipliers disposed at the end of a test.</summary>
    sealed class DisposableMultipliers(Dictionary<string, TorchSharp.torch.Tensor> value) : IDisposable
    {
        public Dictionary<string, TorchSharp.torch.Tensor> Value { get; } = value;

        public void Dispose()
        {
            foreach (var t in Value.Values) t.Dispose();
        }
    }
}
