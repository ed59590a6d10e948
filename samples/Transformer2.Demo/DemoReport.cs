using System.Diagnostics;
using System.Globalization;
using System.Text;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Core.Svd;
using Transformer2.Demo.Tasks;
using Transformer2.Training.Lora;
using Transformer2.Training.NextToken;
using Transformer2.Training.Tasks;

namespace Transformer2.Demo;

/// <summary>The main job (two-pass adaptation on a handful of prompts, then accuracy with and without it) and the full evaluation.</summary>
internal static class DemoReport
{
    /// <summary>Held-out items per unseen family in the main job's accuracy table.</summary>
    const int MainJobItems = 30;

    public static async Task<int> MainAsync(string modelFolder, string expertsFolder, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var suite = new DemoSuite();
        Console.WriteLine($"Transformer² main job: {modelFolder}");
        await using var t2 = DemoPipeline.Build(modelFolder, expertsFolder, DispatchMode.Prompt, suite);
        Console.WriteLine($"experts: {string.Join(", ", t2.Experts.Names.Order(StringComparer.Ordinal))}; dispatch: prompt (math → arith, code → code, reasoning → choice)");
        Console.WriteLine();

        // Two prompts from each unseen family, one from each training family.
        var showcase = suite.Unseen.SelectMany(t => t.GetItems(TaskSplit.Test).Take(2).Select(i => (Task: t, Item: i)))
            .Concat(suite.Training.Select(t => (Task: t, Item: t.GetItems(TaskSplit.Test)[0])));
        foreach (var (task, item) in showcase)
        {
            var messages = task.BuildMessages(item);
            var adapted = await t2.AnswerAsync(messages, null, cancellationToken);
            var plain = await t2.AnswerAsync(messages, new AnswerOptions { Plan = AdaptationPlan.Base }, cancellationToken);
            string expected = item.Metadata[FamilyTask.ExpectedKey];
            Console.WriteLine($"[{task.Name}] {OneLine(item.Prompt)}");
            Console.WriteLine($"  pass 1: {OneLine(adapted.Decision.FirstPassText ?? "")} → {adapted.Decision.Label ?? "?"} (family is {task.Family.Label}); weights: {Weights(adapted.Decision.Plan)}");
            Console.WriteLine($"  T²:   {OneLine(adapted.Answer),-24} {Mark(task.Score(item, adapted.Answer).Correct)}   (pass 1 {adapted.FirstPass.TotalMilliseconds:F0} ms, pass 2 {adapted.SecondPass.TotalMilliseconds:F0} ms)");
            Console.WriteLine($"  base: {OneLine(plain.Answer),-24} {Mark(task.Score(item, plain.Answer).Correct)}   expected {expected}");
        }

        Console.WriteLine();
        Console.WriteLine($"Accuracy on held-out items ({MainJobItems} per family):");
        Console.WriteLine($"  {"family",-9} {"base",7} {"T²",7} {"dispatch right",15}");
        int baseTotal = 0, t2Total = 0, n = 0;
        foreach (var task in suite.Unseen)
        {
            var items = task.GetItems(TaskSplit.Test).Take(MainJobItems).ToList();
            var plain = await DemoPipeline.EvaluateAsync(t2, task, items, "base", new AnswerOptions { Plan = AdaptationPlan.Base }, cancellationToken);
            var adapted = await DemoPipeline.EvaluateAsync(t2, task, items, "t2-prompt", null, cancellationToken);
            Console.WriteLine($"  {task.Name,-9} {plain.Accuracy,7:P0} {adapted.Accuracy,7:P0} {adapted.DispatchCorrect,8}/{adapted.Total}");
            baseTotal += plain.Correct; t2Total += adapted.Correct; n += items.Count;
        }
        Console.WriteLine($"  {"all",-9} {(double)baseTotal / n,7:P0} {(double)t2Total / n,7:P0}");
        Console.WriteLine($"main job done in {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    public static async Task EvaluateAsync(string modelFolder, string expertsFolder, string? output, IProgress<string> progress, CancellationToken cancellationToken)
    {
        var suite = new DemoSuite();
        var report = new StringBuilder();
        void Line(string text = "") { report.AppendLine(text); Console.WriteLine(text); }

        var lora = new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0.05, TargetModules = LoraConfig.MlpAndAttentionTargets };
        var table1 = new List<string>();
        long svfParameters;
        await using (var t2 = DemoPipeline.Build(modelFolder, expertsFolder, DispatchMode.Fixed, suite))
        {
            svfParameters = t2.Backbone.TargetLengths.Values.Sum();
            foreach (var task in suite.Training)
            {
                var items = task.GetItems(TaskSplit.Test);
                var plain = await DemoPipeline.EvaluateAsync(t2, task, items, "base", new AnswerOptions { Plan = AdaptationPlan.Base }, cancellationToken);
                var svf = await DemoPipeline.EvaluateAsync(t2, task, items, "svf", new AnswerOptions { Plan = AdaptationPlan.Single(task.Name) }, cancellationToken);
                table1.Add($"| {task.Name} | {Pct(plain)} | {{0}} | {Pct(svf)} |");
                progress.Report($"table 1: {task.Name} base {plain.Accuracy:P0}, SVF {svf.Accuracy:P0}");
            }
        }
        long loraParameters = 0;
        for (int i = 0; i < suite.Training.Count; i++)
        {
            var task = suite.Training[i];
            // The same example budget as the SVF expert: iterations × batch size of REINFORCE.
            var budget = DemoCommands.ExpertOptions(suite, "");
            var sft = new NextTokenOptions
            {
                BatchSize = budget.BatchSize, MicroBatchSize = 16, Epochs = 2, MaxSteps = budget.Iterations, LearningRate = 2e-3,
                ValidationInterval = 8, Seed = suite.Seed,
            };
            var (model, tokenizer, count) = await DemoStages.TrainLoraAsync(modelFolder, task, lora, sft, cancellationToken);
            loraParameters = count;
            using (model)
            {
                await using var t2 = new TransformerSquaredBuilder().UseModel(model, tokenizer).ConfigureGeneration(g => g with { MaxNewTokens = DemoPipeline.MaxAnswerTokens }).Build();
                var result = await DemoPipeline.EvaluateAsync(t2, task, task.GetItems(TaskSplit.Test), "lora", new AnswerOptions { Plan = AdaptationPlan.Base }, cancellationToken);
                table1[i] = string.Format(CultureInfo.InvariantCulture, table1[i], Pct(result));
                progress.Report($"table 1: {task.Name} LoRA {result.Accuracy:P0}");
            }
        }
        Line($"Table 1: training families, {suite.Scale.Test} held-out items each; trainable parameters: LoRA {loraParameters:N0} (rank {lora.Rank}, q/v/MLP), SVF {svfParameters:N0} (MLP)");
        Line();
        Line("| family | base | LoRA (SFT) | SVF (RL) |");
        Line("|---|---|---|---|");
        foreach (var row in table1) Line(row);
        Line();

        var columns = new List<(string Name, Dictionary<string, EvaluationResult> Results)>();
        foreach (var mode in new[] { DispatchMode.Fixed, DispatchMode.Prompt, DispatchMode.ClassificationExpert, DispatchMode.FewShot })
        {
            await using var t2 = DemoPipeline.Build(modelFolder, expertsFolder, mode, suite);
            var results = new Dictionary<string, EvaluationResult>();
            foreach (var task in suite.Unseen)
            {
                if (mode == DispatchMode.FewShot)
                {
                    var took = await DemoPipeline.TimeAsync(() => t2.AdaptToTaskAsync(task.Name, null, cancellationToken));
                    var plan = ((Transformer2.Adaptation.Dispatch.FewShotStrategy)t2.Strategy).AdaptedPlan(task.Name);
                    progress.Report($"few-shot CEM for {task.Name}: {took.TotalSeconds:F0} s, weights {Weights(plan)}");
                }
                var options = mode switch
                {
                    DispatchMode.Fixed => new AnswerOptions { Plan = AdaptationPlan.Base },
                    DispatchMode.FewShot => new AnswerOptions { TaskKey = task.Name },
                    _ => null,
                };
                results[task.Name] = await DemoPipeline.EvaluateAsync(t2, task, task.GetItems(TaskSplit.Test), mode.ToString(), options, cancellationToken);
            }
            columns.Add((mode switch { DispatchMode.Fixed => "base", DispatchMode.Prompt => "T² prompt", DispatchMode.ClassificationExpert => "T² cls-expert", _ => "T² few-shot" }, results));
            progress.Report($"table 2: {mode} done");
        }
        Line($"Table 2: unseen families, {suite.Scale.Test} held-out items each");
        Line();
        Line("| family | " + string.Join(" | ", columns.Select(c => c.Name)) + " |");
        Line("|---|" + string.Concat(columns.Select(_ => "---|")));
        foreach (var task in suite.Unseen)
            Line($"| {task.Name} | " + string.Join(" | ", columns.Select(c => Pct(c.Results[task.Name]))) + " |");
        Line();
        Line("Dispatch: share of unseen-family prompts given their family's label in pass 1");
        Line();
        Line("| family | T² prompt | T² cls-expert |");
        Line("|---|---|---|");
        foreach (var task in suite.Unseen)
            Line($"| {task.Name} | {Dispatch(columns[1].Results[task.Name])} | {Dispatch(columns[2].Results[task.Name])} |");
        Line();
        Line("Table 3: mean time per prompt, pass 1 (dispatch) vs pass 2 (answer)");
        Line();
        Line("| family | strategy | pass 1 (ms) | pass 2 (ms) | pass 1 / pass 2 |");
        Line("|---|---|---|---|---|");
        foreach (var (name, results) in columns.Skip(1).Take(2))
            foreach (var task in suite.Unseen)
            {
                var r = results[task.Name];
                Line($"| {task.Name} | {name} | {r.FirstPass.TotalMilliseconds:F1} | {r.SecondPass.TotalMilliseconds:F1} | {r.FirstPass / r.SecondPass:P0} |");
            }
        Line();

        // Table 4: where SVF goes. One arith expert per target set, same budget, evaluated on arith's held-out items.
        Line("Table 4: SVF targets (arith expert, same REINFORCE budget)");
        Line();
        Line("| targets | SVF parameters | arith accuracy |");
        Line("|---|---|---|");
        var arith = suite.Training[0];
        foreach (var (label, targets) in new[] { ("MLP", TargetSelector.Mlp), ("attention", TargetSelector.Attention), ("MLP + attention", TargetSelector.MlpAndAttention) })
        {
            var (model, tokenizer) = DemoStages.LoadWithSvf(modelFolder, targets);
            using (model)
            {
                string identity = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder)));
                string experts = Path.Combine(Path.GetTempPath(), "t2-demo-targets-" + Guid.NewGuid().ToString("N"));
                await DemoStages.TrainExpertAsync(model, tokenizer, arith, arith.Name, experts, experts + "-work", DemoCommands.ExpertOptions(suite, identity), null, cancellationToken);
                await using var t2 = new TransformerSquaredBuilder().UseModel(model, tokenizer).UseModelIdentity(identity)
                    .AddExpert(Path.Combine(experts, arith.Name + ".safetensors"))
                    .ConfigureGeneration(g => g with { MaxNewTokens = DemoPipeline.MaxAnswerTokens }).Build();
                var result = await DemoPipeline.EvaluateAsync(t2, arith, arith.GetItems(TaskSplit.Test), label, new AnswerOptions { Plan = AdaptationPlan.Single(arith.Name) }, cancellationToken);
                Line($"| {label} | {t2.Backbone.TargetLengths.Values.Sum():N0} | {Pct(result)} |");
                Directory.Delete(experts, true);
                Directory.Delete(experts + "-work", true);
            }
        }
        Line();

        if (output is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            Transformer2.Core.IO.AtomicFile.WriteAllText(output, report.ToString());
            progress.Report($"wrote {output}");
        }
    }

    /// <summary>Held-out accuracy of each family expert in <paramref name="expertsFolder"/> on its own family (Table 1's SVF column).</summary>
    public static async Task EvaluateExpertsAsync(string modelFolder, string expertsFolder, CancellationToken cancellationToken)
    {
        var suite = new DemoSuite();
        await using var t2 = DemoPipeline.Build(modelFolder, expertsFolder, DispatchMode.Fixed, suite);
        foreach (var task in suite.Training)
        {
            var svf = await DemoPipeline.EvaluateAsync(t2, task, task.GetItems(TaskSplit.Test), "svf", new AnswerOptions { Plan = AdaptationPlan.Single(task.Name) }, cancellationToken);
            Console.WriteLine($"| {task.Name} | {Pct(svf)} |");
        }
    }

    static string Pct(EvaluationResult r) => string.Create(CultureInfo.InvariantCulture, $"{100 * r.Accuracy:F1}% ({r.Correct}/{r.Total})");

    static string Dispatch(EvaluationResult r) => r.DispatchCorrect is { } d ? string.Create(CultureInfo.InvariantCulture, $"{100.0 * d / r.Total:F0}%") : "–";

    static string Weights(AdaptationPlan? plan) => plan is null || plan.IsBase
        ? "none (base model)"
        : string.Join(", ", plan.WeightsByExpert().Select(w => string.Create(CultureInfo.InvariantCulture, $"{w.Key}={w.Value:F2}")));

    static string Mark(bool correct) => correct ? "right" : "wrong";

    static string OneLine(string text) => text.Replace("\n", " | ", StringComparison.Ordinal).Trim();
}
