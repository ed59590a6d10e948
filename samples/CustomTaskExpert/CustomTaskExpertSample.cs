using System.Text.RegularExpressions;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Core.Experts;
using Transformer2.Training.Reinforce;
using Transformer2.Training.Tasks;

namespace Transformer2.Samples.CustomTaskExpert;

// Trains an SVF expert on a task of your own, scored by a reward of your own, then saves it, loads it back and uses it.
// Usage: CustomTaskExpert [MODEL_FOLDER] [WORK_FOLDER]
public static partial class CustomTaskExpertSample
{
    const string ExpertName = "list-length";

    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken = default)
    {
        string modelFolder = args.Length > 0 ? args[0] : BundledModel();
        // The trainer keeps its best expert and a resumable state here: stop with Ctrl+C, run again and it carries on
        // (delete the folder to start afresh, e.g. after changing the reward; a state saved for another base model is refused).
        string workFolder = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "t2-samples", ExpertName);

        // 1. The task: items carry whatever the reward needs (here the reference answer), the reward is any function.
        var task = DelegateTask.WithReward(ExpertName, MakeSplits(seed: 1), systemPrompt: null, Reward,
            new GenerationSettings(MaxNewTokens: 24, MaxContextTokens: 512, StopStrings: []));

        // 2. Train. The builder loads the model and puts SVF layers on its MLP matrices (an SVD of each), which is all
        //    the trainer needs; only the singular-value vectors learn, the weights stay frozen.
        TrainingResult result;
        await using (var t2 = await new TransformerSquaredBuilder().UseModelFolder(modelFolder).BuildAsync(cancellationToken: cancellationToken))
        {
            var backbone = t2.Backbone;
            var options = new ReinforceOptions
            {
                // A few seconds on the bundled model; a real run uses the defaults (batch 256, 200 iterations).
                Iterations = 8,
                BatchSize = 32,
                MicroBatchSize = 16,
                LearningRate = 1e-1,
                MaxGradNorm = null,
                NormalizeRewards = true,
                ValidationInterval = 2,   // the best expert on validation is the one kept
                MaxValidationItems = 32,
                Seed = 1,
                OutputFolder = workFolder,
                ExpertName = ExpertName,
                BaseModelIdentity = backbone.Identity,   // written into the expert; loading it onto another model fails
            };
            using var trainer = new ReinforceTrainer(backbone.Model, backbone.Tokenizer, backbone.Template, task, options);
            try
            {
                result = await trainer.TrainAsync(new InlineProgress<TrainingProgress>(p => output.WriteLine(
                    $"iteration {p.Iteration}/{p.Iterations}: reward {p.RewardMean:F2}, train accuracy {p.TrainAccuracy:P0}" +
                    (p.ValidationAccuracy is { } v ? $", validation accuracy {v:P0}{(p.IsBest ? " (best, saved)" : "")}" : ""))), cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                output.WriteLine($"stopped; the state after the last finished iteration is in {workFolder}: run again to resume");
                throw;
            }
        }
        output.WriteLine($"best validation accuracy {result.BestValidationAccuracy:P0} at iteration {result.BestIteration}");

        // 3. The expert file the trainer wrote is an ordinary safetensors file with metadata; load it back and check it.
        string expertFile = Path.Combine(workFolder, SvfPolicy.ExpertFileName);
        using (var expert = ExpertFile.Load(expertFile))
        {
            bool identical = result.BestVectors.All(v => v.Value.allclose(expert[v.Key], rtol: 0, atol: 0));
            output.WriteLine($"expert '{expert.Name}' in {expertFile}: {expert.Targets.Count} vectors, " +
                $"{expert.Vectors.Values.Sum(v => v.shape[0])} parameters, base model '{expert.Metadata.BaseModelIdentity}'");
            output.WriteLine($"reloaded vectors equal the trained ones: {identical}");
        }
        foreach (var (_, vector) in result.BestVectors) vector.Dispose();   // tensors hold native memory: free them when done

        // 4. Use it: any application loads the model and the expert file, and answers with the expert applied.
        await using var adapted = await new TransformerSquaredBuilder()
            .UseModelFolder(modelFolder)
            .AddExpert(expertFile)
            .UseFixedPlan(AdaptationPlan.Single(ExpertName))
            .ConfigureGeneration(g => g with { MaxNewTokens = 24 })
            .BuildAsync(cancellationToken: cancellationToken);
        int baseRight = 0, expertRight = 0;
        var test = task.GetItems(TaskSplit.Test);
        foreach (var item in test)
        {
            var messages = task.BuildMessages(item);
            var withExpert = await adapted.AnswerAsync(messages, cancellationToken: cancellationToken);
            // A per-request plan overrides the strategy: here, the same model without the expert.
            var withoutExpert = await adapted.AnswerAsync(messages, new AnswerOptions { Plan = AdaptationPlan.Base }, cancellationToken);
            if (task.Score(item, withExpert.Answer).Correct) expertRight++;
            if (task.Score(item, withoutExpert.Answer).Correct) baseRight++;
            if (item == test[0])
                output.WriteLine($"{item.Prompt.Replace('\n', ' ')} -> '{withExpert.Answer}' (expected {item.Reference}; plan {withExpert.Decision.Plan})");
        }
        output.WriteLine($"test accuracy: base {baseRight}/{test.Count}, with expert {expertRight}/{test.Count}");
        return 0;
    }

    // Your reward: +1 for the right number in the trained format, a little less than nothing for the format alone
    // (wrong numbers still beat rambling), -1 otherwise. A completion counts as correct when its reward is positive.
    static double Reward(TaskItem item, string completion)
    {
        var match = OutputLine().Match(completion);
        if (!match.Success) return -1;
        return match.Groups[1].Value == item.Reference ? 1 : -0.5;
    }

    // "What does print(len([...])) print?": a slice of what the bundled model saw in pre-training, where it is unreliable:
    // after the second phrasing its pre-training text mostly answered carelessly (a miscounted length), so it does too,
    // while after the first it mostly works the answer out. The expert has to make it work it out after either.
    static TaskSplits MakeSplits(int seed)
    {
        var random = new Random(seed);
        var seen = new HashSet<string>();   // no prompt in two splits
        List<TaskItem> Draw(string split, int count)
        {
            var items = new List<TaskItem>();
            while (items.Count < count)
            {
                var list = Enumerable.Range(0, random.Next(1, 6)).Select(_ => random.Next(0, 10)).ToList();
                string question = random.Next(2) == 0 ? "What does this Python code print?" : "What is the output of this code?";
                string prompt = $"{question}\nprint(len([{string.Join(", ", list)}]))";
                if (seen.Add(prompt)) items.Add(new TaskItem($"{split}-{items.Count}", prompt) { References = [list.Count.ToString()] });
            }
            return items;
        }
        return new TaskSplits(Train: Draw("train", 128), Valid: Draw("valid", 32), Test: Draw("test", 32), Transfer: []);
    }

    [GeneratedRegex(@"Output:\s*(-?\d+)")]
    private static partial Regex OutputLine();

    // Progress<T> posts to the thread pool, so lines could arrive out of order; this reports on the caller's thread.
    sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    // The bundled tiny model (samples/models/t2-tiny), found by walking up from the program to the repository root.
    static string BundledModel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Transformer2.sln"))) return Path.Combine(dir.FullName, "samples", "models", "t2-tiny");
        throw new DirectoryNotFoundException("The bundled model was not found above " + AppContext.BaseDirectory + "; pass a model folder.");
    }
}
