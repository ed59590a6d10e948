using System.Globalization;
using Transformer2.Demo.Tasks;
using Transformer2.Training.NextToken;
using Transformer2.Training.Reinforce;

namespace Transformer2.Demo;

/// <summary>Subcommands: one per stage, with the settings the bundled model was made with.</summary>
internal static class DemoCommands
{
    /// <summary>Where the bundled model lives, relative to the repository root (found by walking up from the working folder).</summary>
    const string BundledModel = "samples/models/t2-tiny";

    public static async Task<int> RunAsync(string[] args)
    {
        string command = args.Length > 0 ? args[0] : "main";
        string model = Option(args, "--model") ?? FindBundledModel();
        var progress = new Progress<string>(line => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}"));
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
        switch (command)
        {
            case "train-base":
                await TrainBaseAsync(model, progress, cancel.Token);
                return 0;
            case "train-experts":
                await TrainExpertsAsync(model, args, progress, cancel.Token);
                return 0;
            case "evaluate":
                await DemoReport.EvaluateAsync(model, ExpertsFolder(model), Option(args, "--out"), progress, cancel.Token);
                return 0;
            case "main":
                return await DemoReport.MainAsync(model, ExpertsFolder(model), cancel.Token);
            case "evaluate-experts":
                await DemoReport.EvaluateExpertsAsync(model, Option(args, "--experts") ?? ExpertsFolder(model), cancel.Token);
                return 0;
            case "chat":
                return await DemoSamples.ChatAsync(model, ExpertsFolder(model), args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal)
                    ? [args[1]] : ["Ann has 12 pens and gets 5 more. How many pens does Ann have?", "What does this Python code print?\nprint(max(3, 8))"], cancel.Token);
            case "custom-task":
                return await DemoSamples.CustomTaskAsync(model, cancel.Token);
            default:
                Console.Error.WriteLine($"Unknown command '{command}'. Use: main | train-base | train-experts | evaluate | chat [QUESTION] | custom-task  [--model FOLDER]");
                return 2;
        }
    }

    static async Task TrainBaseAsync(string folder, IProgress<string> progress, CancellationToken cancellationToken)
    {
        var suite = new DemoSuite();
        var options = new NextTokenOptions
        {
            BatchSize = 32,
            MicroBatchSize = 8,
            Epochs = 2,
            LearningRate = 3e-3,
            WeightDecay = 0.01,
            Schedule = LearningRateSchedule.Cosine,
            MaxGradNorm = 1.0,
            ValidationInterval = 50,
            Seed = suite.Seed,
        };
        var result = await DemoStages.TrainBaseAsync(folder, suite, BaseModelShape.Full, options, progress, cancellationToken);
        progress.Report($"saved {folder} (best validation loss {result.BestValidationLoss:F3} at step {result.BestStep})");
    }

    static async Task TrainExpertsAsync(string folder, string[] args, IProgress<string> progress, CancellationToken cancellationToken)
    {
        string? only = Option(args, "--only");
        string expertsFolder = ExpertsFolder(folder);
        var suite = new DemoSuite();
        var (model, tokenizer) = DemoStages.LoadWithSvf(folder);
        using var _ = model;
        var options = ExpertOptions(suite, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))));
        if (Option(args, "--iterations") is { } iterations) options = options with { Iterations = int.Parse(iterations, CultureInfo.InvariantCulture) };
        if (Option(args, "--lr") is { } lr) options = options with { LearningRate = double.Parse(lr, CultureInfo.InvariantCulture) };
        if (Option(args, "--temperature") is { } t) options = options with { Temperature = double.Parse(t, CultureInfo.InvariantCulture) };
        if (Option(args, "--seed") is { } seed) options = options with { Seed = int.Parse(seed, CultureInfo.InvariantCulture) };
        string curvesFolder = CurvesFolder(folder);
        if (Option(args, "--experts") is { } target) curvesFolder = expertsFolder = target;   // a side run keeps its curves beside its experts
        var tasks = suite.Training.Cast<Transformer2.Training.Tasks.ITask>().Append(suite.Classification)
            .Where(t => only is null || only.Split(',').Contains(t.Name));
        foreach (var task in tasks)
        {
            bool classification = task == suite.Classification;
            string name = classification ? DemoStages.ClassificationExpert : task.Name;
            // Classification prompts are ~10× longer than the families' (the authors' system prompt), so fewer iterations.
            var taskOptions = classification ? options with { Iterations = Math.Min(options.Iterations, ClassificationIterations) } : options;
            var result = await DemoStages.TrainExpertAsync(model, tokenizer, task, name, expertsFolder,
                Path.Combine(Path.GetTempPath(), "t2-demo-" + name), taskOptions, progress, cancellationToken);
            foreach (var file in new[] { "learning_curve.csv", "learning_curve.png" })
            {
                var source = Path.Combine(Path.GetTempPath(), "t2-demo-" + name, file);
                if (File.Exists(source)) File.Copy(source, Path.Combine(curvesFolder, $"{name}-{file}"), overwrite: true);
            }
            progress.Report($"{name}: best validation accuracy {result.BestValidationAccuracy:P1} at iteration {result.BestIteration}");
        }
    }

    /// <summary>REINFORCE iterations of the classification expert.</summary>
    const int ClassificationIterations = 12;

    /// <summary>REINFORCE settings of the bundled experts (the paper's, scaled to a tiny model and a short run).</summary>
    internal static ReinforceOptions ExpertOptions(DemoSuite suite, string identity) => new()
    {
        BatchSize = 64,
        MicroBatchSize = 16,
        Iterations = 40,
        LearningRate = 3e-2,
        MaxGradNorm = null,
        MaxNewTokens = 16,
        NormalizeRewards = true,
        ValidationInterval = 4,
        MaxValidationItems = 64,
        Seed = suite.Seed,
        BaseModelIdentity = identity,
    };

    static string ExpertsFolder(string model) => Path.Combine(model, "experts");

    static string CurvesFolder(string model)
    {
        var folder = Path.Combine(Path.GetDirectoryName(FindBundledModel())!, "..", "..", "docs", "curves");
        Directory.CreateDirectory(folder);
        return folder;
    }

    static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    static string FindBundledModel()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Transformer2.sln"))) return Path.Combine(dir.FullName, BundledModel);
        return Path.GetFullPath(BundledModel);
    }
}
