using System.Diagnostics;
using System.Globalization;
using System.Text;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using Transformer2.Demo.Tasks;
using Transformer2.Training.Lora;
using Transformer2.Training.NextToken;
using Transformer2.Training.Reinforce;
using Transformer2.Training.Tasks;

namespace Transformer2.Demo;

/// <summary>The main job (two-pass adaptation on a handful of prompts, then accuracy with and without it) and the full evaluation.</summary>
internal static class DemoReport
{
    /// <summary>Held-out items per family in the main job's accuracy table (the first ones of each test split).</summary>
    const int MainJobItems = 16;

    public static async Task<int> MainAsync(string modelFolder, string expertsFolder, bool int8, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var suite = new DemoSuite();
        Console.WriteLine($"Transformer² main job: {modelFolder}{(int8 ? " (frozen projections as int8)" : "")}");
        // Merged experts: each expert's weights are composed once and reused, where the factored path runs three products
        // per adapted matrix on every token (main job 20–27 s merged vs 27–31 s factored, same answers, 2026-12-03).
        await using var t2 = DemoPipeline.Build(modelFolder, expertsFolder, DispatchMode.Prompt, suite, merged: true, int8: int8);
        Console.WriteLine($"experts: {string.Join(", ", t2.Experts.Names.Order(StringComparer.Ordinal))}; dispatch: prompt (math → arith, code → code, reasoning → choice)");
        Console.WriteLine($"answering the first {MainJobItems} held-out prompts of each family twice: two-pass T², and the base model alone");
        Console.WriteLine();

        // Every item is answered once each way; the worked examples below are picked from these answers, not re-run.
        var answers = new List<(FamilyTask Task, IReadOnlyList<Answered> Items)>();
        foreach (var task in suite.All)
        {
            var items = new List<Answered>();
            foreach (var item in task.GetItems(TaskSplit.Test).Take(MainJobItems))
            {
                var messages = task.BuildMessages(item);
                var adapted = await t2.AnswerAsync(messages, null, cancellationToken);
                var plain = await t2.AnswerAsync(messages, new AnswerOptions { Plan = AdaptationPlan.Base }, cancellationToken);
                items.Add(new Answered(item, adapted, task.Score(item, adapted.Answer).Correct, plain, task.Score(item, plain.Answer).Correct));
            }
            answers.Add((task, items));
        }

        // Worked examples: per training family the first prompt where adaptation changes the outcome, whichever way it goes;
        // per unseen family its first prompt, whatever the outcome.
        Console.WriteLine("Worked examples (training family: its first held-out prompt where T² and the base model disagree; unseen family: its first prompt):");
        foreach (var (task, items) in answers)
        {
            var shown = suite.Training.Contains(task) ? items.FirstOrDefault(a => a.AdaptedRight != a.PlainRight) : items.FirstOrDefault();
            if (shown is not null) Show(task, shown);
        }

        Console.WriteLine();
        Console.WriteLine($"Accuracy on held-out items ({MainJobItems} per family; T² = pass 1 prompt dispatch, pass 2 the chosen expert):");
        Console.WriteLine($"  {"family",-13} {"base",6} {"T²",6} {"dispatch right",15}");
        var totals = new Dictionary<string, (int Base, int Adapted, int Items)>();
        foreach (var (section, heading, tasks) in new[] { ("training", "training families (experts trained on their other items)", suite.Training), ("unseen", "unseen families (no expert trained on them)", suite.Unseen) })
        {
            Console.WriteLine($"  {heading}");
            foreach (var task in tasks)
            {
                var items = answers.Single(a => a.Task == task).Items;
                int plain = items.Count(a => a.PlainRight), adapted = items.Count(a => a.AdaptedRight);
                int dispatched = items.Count(a => a.Adapted.Decision.Label == task.Family.Label);
                Console.WriteLine($"  {task.Name,-13} {(double)plain / items.Count,6:P0} {(double)adapted / items.Count,6:P0} {dispatched,9}/{items.Count}");
                foreach (var key in new[] { section, "all" })
                {
                    var (b, a, n) = totals.GetValueOrDefault(key);
                    totals[key] = (b + plain, a + adapted, n + items.Count);
                }
            }
        }
        foreach (var label in new[] { "training", "unseen", "all" })
        {
            var (b, a, n) = totals[label];
            Console.WriteLine($"  {label,-13} {(double)b / n,6:P0} {(double)a / n,6:P0}   T² − base: {100.0 * (a - b) / n:+0;-0} points");
        }
        Console.WriteLine($"main job done in {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    /// <summary>One held-out prompt answered by two-pass T² and by the base model, each scored.</summary>
    sealed record Answered(TaskItem Item, TwoPassResult Adapted, bool AdaptedRight, TwoPassResult Plain, bool PlainRight);

    /// <summary>Prints one worked example: the prompt, pass 1's decision, both answers and their verdicts.</summary>
    static void Show(FamilyTask task, Answered a)
    {
        Console.WriteLine($"[{task.Name}] {OneLine(a.Item.Prompt)}");
        Console.WriteLine($"  pass 1: {OneLine(a.Adapted.Decision.FirstPassText ?? "")} → {a.Adapted.Decision.Label ?? "?"} (family is {task.Family.Label}); weights: {Weights(a.Adapted.Decision.Plan)}");
        Console.WriteLine($"  T²:   {OneLine(a.Adapted.Answer),-40} {Mark(a.AdaptedRight)}   (pass 1 {a.Adapted.FirstPass.TotalMilliseconds:F0} ms, pass 2 {a.Adapted.SecondPass.TotalMilliseconds:F0} ms)");
        Console.WriteLine($"  base: {OneLine(a.Plain.Answer),-40} {Mark(a.PlainRight)}   expected {a.Item.Metadata[FamilyTask.ExpectedKey]}");
    }

    /// <summary>
    /// Tables 1–4. <paramref name="trainingSeed"/> reseeds what is trained inside (LoRA baselines, Table 4's experts; the data and
    /// the bundled experts stay as they are), for their spread; <paramref name="tables"/> picks the tables (Table 4 brings Table 1; Table 3 alone times only the prompt-based strategies).
    /// </summary>
    public static async Task EvaluateAsync(string modelFolder, string expertsFolder, string? output, int? trainingSeed, IReadOnlySet<int>? tables,
        DemoConsole console, CancellationToken cancellationToken)
    {
        var suite = new DemoSuite();
        bool Wants(int table) => tables is null || tables.Contains(table);
        var report = new StringBuilder();
        void Line(string text = "") { report.AppendLine(text); console.Text(text); }
        string identity = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder)));
        int seed = trainingSeed ?? suite.Seed;
        var budget = DemoCommands.ExpertOptions(suite, identity) with { Seed = seed };

        // Table 4 is read against Table 1's base accuracy on arith, so it brings Table 1 with it.
        EvaluationResult? arithBase = null;
        if (Wants(1) || Wants(4))
        {
            var lora = new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0.05, TargetModules = LoraConfig.MlpAndAttentionTargets };
            var rows = suite.Training.ToDictionary(t => t.Name, _ => new Dictionary<string, EvaluationResult>());
            long svfParameters;
            await using (var t2 = DemoPipeline.Build(modelFolder, expertsFolder, DispatchMode.Fixed, suite))
            {
                svfParameters = t2.Backbone.TargetLengths.Values.Sum();
                foreach (var task in suite.Training)
                {
                    rows[task.Name]["base"] = await EvaluateAsync(console, t2, task, "base", new AnswerOptions { Plan = AdaptationPlan.Base }, cancellationToken);
                    rows[task.Name]["svf"] = await EvaluateAsync(console, t2, task, "SVF (RL)", new AnswerOptions { Plan = AdaptationPlan.Single(task.Name) }, cancellationToken);
                }
            }
            long loraParameters = 0;
            foreach (var task in suite.Training)
            {
                // The same example budget as the SVF expert: iterations × batch size of REINFORCE.
                var sft = new NextTokenOptions
                {
                    BatchSize = budget.BatchSize, MicroBatchSize = 16, Epochs = 2, MaxSteps = budget.Iterations, LearningRate = LoraLearningRate,
                    ValidationInterval = 8, Seed = seed,
                };
                var (model, tokenizer, count) = await DemoStages.TrainLoraAsync(modelFolder, task, lora, sft, cancellationToken,
                    DemoCommands.StepBar(console, $"LoRA (SFT) {task.Name}", budget.Iterations, tenths: false));
                loraParameters = count;
                using (model)
                    rows[task.Name]["lora"] = await EvaluateMergedAsync(console, model, tokenizer, task, "LoRA (SFT)", cancellationToken);

                // LoRA by the same policy gradient as SVF (the paper's Table 4 row 5): same budget, LoRA's learning rate.
                var rl = budget with { LearningRate = LoraLearningRate };
                (model, tokenizer, _) = await DemoStages.TrainLoraReinforceAsync(modelFolder, task, lora, rl,
                    DemoCommands.IterationBar(console, $"LoRA (RL) {task.Name}", rl.Iterations, tenths: false), cancellationToken);
                using (model)
                    rows[task.Name]["lora-rl"] = await EvaluateMergedAsync(console, model, tokenizer, task, "LoRA (RL)", cancellationToken);
            }
            Line($"Table 1: training families, {suite.Scale.Test} held-out items each; trainable parameters: LoRA {loraParameters:N0} (rank {lora.Rank}, q/v/MLP), SVF {svfParameters:N0} (MLP); " +
                $"budget {budget.Iterations} × {budget.BatchSize} examples each; LoRA training seed {seed}");
            Line("");
            Line("| family | base | LoRA (SFT) | LoRA (RL) | SVF (RL) |");
            Line("|---|---|---|---|---|");
            foreach (var task in suite.Training)
                Line($"| {task.Name} | {Pct(rows[task.Name]["base"])} | {Pct(rows[task.Name]["lora"])} | {Pct(rows[task.Name]["lora-rl"])} | {Pct(rows[task.Name]["svf"])} |");
            Line("");
            arithBase = rows[suite.Training[0].Name]["base"];
        }

        if (Wants(2) || Wants(3)) await UnseenTablesAsync(modelFolder, expertsFolder, suite, tables, Line, console, cancellationToken);
        if (Wants(4)) await TargetTableAsync(modelFolder, identity, suite, budget, arithBase!, Line, console, cancellationToken);

        if (output is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            Transformer2.Core.IO.AtomicFile.WriteAllText(output, report.ToString());
            console.Line($"wrote {output}");
        }
    }

    /// <summary>Tables 2 and 3: the unseen families under each dispatch strategy, and the time of each pass.</summary>
    static async Task UnseenTablesAsync(string modelFolder, string expertsFolder, DemoSuite suite, IReadOnlySet<int>? tables, Action<string> Line, DemoConsole console,
        CancellationToken cancellationToken)
    {
        var columns = new List<(string Name, Dictionary<string, EvaluationResult> Results)>();
        var singles = new Dictionary<(string Family, string Expert), EvaluationResult>();
        // Table 3 alone (--tables 3) times only the two strategies with a pass 1 per prompt.
        var modes = tables is null || tables.Contains(2)
            ? new[] { DispatchMode.Fixed, DispatchMode.Prompt, DispatchMode.ClassificationExpert, DispatchMode.FewShot }
            : new[] { DispatchMode.Prompt, DispatchMode.ClassificationExpert };
        foreach (var mode in modes)
        {
            await using var t2 = DemoPipeline.Build(modelFolder, expertsFolder, mode, suite);
            string name = mode switch { DispatchMode.Fixed => "base", DispatchMode.Prompt => "T² prompt", DispatchMode.ClassificationExpert => "T² cls-expert", _ => "T² few-shot" };
            var results = new Dictionary<string, EvaluationResult>();
            foreach (var task in suite.Unseen)
            {
                if (mode == DispatchMode.FewShot)
                {
                    var took = await DemoPipeline.TimeAsync(() => t2.AdaptToTaskAsync(task.Name, null, cancellationToken));
                    var plan = ((Transformer2.Adaptation.Dispatch.FewShotStrategy)t2.Strategy).AdaptedPlan(task.Name);
                    console.Line($"few-shot CEM for {task.Name}: {took.TotalSeconds:F0} s, weights {Weights(plan)}");
                }
                var options = mode switch
                {
                    DispatchMode.Fixed => new AnswerOptions { Plan = AdaptationPlan.Base },
                    DispatchMode.FewShot => new AnswerOptions { TaskKey = task.Name },
                    _ => null,
                };
                results[task.Name] = await EvaluateAsync(console, t2, task, name, options, cancellationToken);
                // The two-skill family under each expert alone: what a few-shot mixture has to beat (Fixed runs only for Table 2).
                if (mode == DispatchMode.Fixed && task.Family is TwoSkillFamily)
                    foreach (var expert in suite.Training)
                        singles[(task.Name, expert.Name)] = await EvaluateAsync(console, t2, task, $"{expert.Name} expert", new AnswerOptions { Plan = AdaptationPlan.Single(expert.Name) }, cancellationToken);
            }
            columns.Add((name, results));
        }
        var prompt = columns.Single(c => c.Name == "T² prompt").Results;
        var classifier = columns.Single(c => c.Name == "T² cls-expert").Results;
        if (tables is null || tables.Contains(2))
        {
            Line($"Table 2: unseen families, {suite.Scale.Test} held-out items each");
            Line("");
            Line("| family | " + string.Join(" | ", columns.Select(c => c.Name)) + " |");
            Line("|---|" + string.Concat(columns.Select(_ => "---|")));
            foreach (var task in suite.Unseen)
                Line($"| {task.Name} | " + string.Join(" | ", columns.Select(c => Pct(c.Results[task.Name]))) + " |");
            Line("");
            Line("Dispatch: share of unseen-family prompts given their family's label in pass 1");
            Line("");
            Line("| family | T² prompt | T² cls-expert |");
            Line("|---|---|---|");
            foreach (var task in suite.Unseen)
                Line($"| {task.Name} | {Dispatch(prompt[task.Name])} | {Dispatch(classifier[task.Name])} |");
            Line("");
            var fewShot = columns.Single(c => c.Name == "T² few-shot").Results;
            foreach (var family in singles.Keys.Select(k => k.Family).Distinct())
            {
                Line($"Two-skill family {family}: each expert alone vs the few-shot mixture (same {suite.Scale.Test} held-out items)");
                Line("");
                Line("| " + string.Join(" | ", suite.Training.Select(t => $"{t.Name} expert")) + " | T² few-shot |");
                Line("|" + string.Concat(Enumerable.Repeat("---|", suite.Training.Count + 1)));
                Line("| " + string.Join(" | ", suite.Training.Select(t => Pct(singles[(family, t.Name)]))) + $" | {Pct(fewShot[family])} |");
                Line("");
            }
        }
        Line("Table 3: mean time per prompt, pass 1 (dispatch) vs pass 2 (answer), and the mean tokens each pass reads (prompt) and writes");
        Line("");
        Line("| family | strategy | pass 1 (ms) | pass 2 (ms) | pass 1 / pass 2 | pass 1 tokens in / out | pass 2 tokens in / out |");
        Line("|---|---|---|---|---|---|---|");
        foreach (var (name, results) in new[] { ("T² prompt", prompt), ("T² cls-expert", classifier) })
            foreach (var task in suite.Unseen)
            {
                var r = results[task.Name];
                var t = r.Tokens;
                Line(string.Create(CultureInfo.InvariantCulture,
                    $"| {task.Name} | {name} | {r.FirstPass.TotalMilliseconds:F1} | {r.SecondPass.TotalMilliseconds:F1} | {r.FirstPass / r.SecondPass:P0} | {t.FirstPrompt:F0} / {t.FirstGenerated:F1} | {t.SecondPrompt:F0} / {t.SecondGenerated:F1} |"));
            }
        Line("");
    }

    /// <summary>Table 4: one arith expert per target set and objective, same budget, evaluated on arith's held-out items.</summary>
    static async Task TargetTableAsync(string modelFolder, string identity, DemoSuite suite, ReinforceOptions budget, EvaluationResult arithBase,
        Action<string> Line, DemoConsole console, CancellationToken cancellationToken)
    {
        var arith = suite.Training[0];
        var table4 = new List<string>();
        var ablations = new[]
        {
            ("MLP", TargetSelector.Mlp, Objective.PolicyGradient),
            ("attention", TargetSelector.Attention, Objective.PolicyGradient),
            ("MLP + attention", TargetSelector.MlpAndAttention, Objective.PolicyGradient),
            ("MLP", TargetSelector.Mlp, Objective.NextToken),
            ("attention", TargetSelector.Attention, Objective.NextToken),
        };
        foreach (var (label, targets, objective) in ablations)
        {
            var (model, tokenizer) = DemoStages.LoadWithSvf(modelFolder, targets);
            using (model)
            {
                string experts = Path.Combine(Path.GetTempPath(), "t2-demo-targets-" + Guid.NewGuid().ToString("N"));
                string objectiveName = objective == Objective.PolicyGradient ? "policy gradient" : "next-token";
                try
                {
                    if (objective == Objective.PolicyGradient)
                    {
                        await DemoStages.TrainExpertAsync(model, tokenizer, arith, arith.Name, experts, experts + "-work", budget, null, cancellationToken,
                            DemoCommands.IterationBar(console, $"SVF {objectiveName} {label}", budget.Iterations, tenths: false));
                    }
                    else
                    {
                        // Same budget (iterations × batch reference answers), same Adam learning rate and initial vectors as the REINFORCE expert.
                        var nextToken = new NextTokenOptions
                        {
                            BatchSize = budget.BatchSize, MicroBatchSize = 16, Epochs = 2, MaxSteps = budget.Iterations, LearningRate = budget.LearningRate,
                            MaxGradNorm = null, ValidationInterval = budget.ValidationInterval, Seed = budget.Seed,
                        };
                        await DemoStages.TrainSvfNextTokenAsync(model, tokenizer, arith, arith.Name, experts, budget, nextToken,
                            DemoCommands.StepBar(console, $"SVF {objectiveName} {label}", budget.Iterations, tenths: false), cancellationToken);
                    }
                    await using var t2 = new TransformerSquaredBuilder().UseModel(model, tokenizer).UseModelIdentity(identity)
                        .AddExpert(Path.Combine(experts, arith.Name + ".safetensors"))
                        .ConfigureGeneration(g => g with { MaxNewTokens = DemoPipeline.MaxAnswerTokens }).Build();
                    var result = await EvaluateAsync(console, t2, arith, $"SVF {objectiveName} {label}", new AnswerOptions { Plan = AdaptationPlan.Single(arith.Name) }, cancellationToken);
                    table4.Add($"| {objectiveName} | {label} | {t2.Backbone.TargetLengths.Values.Sum():N0} | {Pct(result)} |");
                }
                finally
                {
                    if (Directory.Exists(experts)) Directory.Delete(experts, true);
                    if (Directory.Exists(experts + "-work")) Directory.Delete(experts + "-work", true);
                }
            }
        }
        Line($"Table 4: SVF on arith by target and objective, same budget ({budget.Iterations} × {budget.BatchSize} examples), training seed {budget.Seed}; base {Pct(arithBase)}");
        Line("");
        Line("| objective | targets | SVF parameters | arith accuracy |");
        Line("|---|---|---|---|");
        foreach (var row in table4) Line(row);
        Line("");
    }

    /// <summary>Learning rate of both LoRA baselines (AdamW for SFT, Adam for RL).</summary>
    const double LoraLearningRate = 2e-3;

    enum Objective { PolicyGradient, NextToken }

    /// <summary>Evaluates a family's held-out items behind a bar; its final status is the accuracy.</summary>
    internal static async Task<EvaluationResult> EvaluateAsync(DemoConsole console, TransformerSquared t2, FamilyTask task, string setting, AnswerOptions? options,
        CancellationToken cancellationToken)
    {
        var items = task.GetItems(TaskSplit.Test);
        var bar = console.Bar($"{task.Name} {setting}", items.Count, tenths: false);
        var result = await DemoPipeline.EvaluateAsync(t2, task, items, setting, options, cancellationToken, new StepProgress<int>(n => bar.Report(n)));
        bar.Finish(Pct(result));
        return result;
    }

    /// <summary>Evaluates a model whose adapters are merged into its weights (the LoRA baselines): the base plan of a plain pipeline.</summary>
    internal static async Task<EvaluationResult> EvaluateMergedAsync(DemoConsole console, Transformer2.Models.Llama.LlamaForCausalLM model,
        Transformer2.Models.Tokenization.ITextTokenizer tokenizer, FamilyTask task, string setting, CancellationToken cancellationToken)
    {
        await using var t2 = new TransformerSquaredBuilder().UseModel(model, tokenizer).ConfigureGeneration(g => g with { MaxNewTokens = DemoPipeline.MaxAnswerTokens }).Build();
        return await EvaluateAsync(console, t2, task, setting, new AnswerOptions { Plan = AdaptationPlan.Base }, cancellationToken);
    }

    /// <summary>Held-out accuracy of the base model and of each family expert in <paramref name="expertsFolder"/> on its own family (Table 1's base and SVF columns).</summary>
    public static async Task EvaluateExpertsAsync(string modelFolder, string expertsFolder, DemoConsole console, CancellationToken cancellationToken)
    {
        var suite = new DemoSuite();
        await using var t2 = DemoPipeline.Build(modelFolder, expertsFolder, DispatchMode.Fixed, suite);
        var rows = new List<string>();
        foreach (var task in suite.Training)
        {
            var plain = await EvaluateAsync(console, t2, task, "base", new AnswerOptions { Plan = AdaptationPlan.Base }, cancellationToken);
            var svf = await EvaluateAsync(console, t2, task, "svf", new AnswerOptions { Plan = AdaptationPlan.Single(task.Name) }, cancellationToken);
            rows.Add($"| {task.Name} | {Pct(plain)} | {Pct(svf)} |");
        }
        console.Text($"{modelFolder} with {expertsFolder}, {suite.Scale.Test} held-out items per family");
        console.Text("| family | base | SVF |");
        console.Text("|---|---|---|");
        foreach (var row in rows) console.Text(row);
    }

    /// <summary>
    /// The design check of <see cref="AnswerStyle"/> on validation items (never test items): per family, accuracy after the
    /// favoured phrasing (the base model should work those out, so this is how well it has the skill) and after the other
    /// one, for the base model and with the related expert of <paramref name="expertsFolder"/> where one exists.
    /// </summary>
    public static async Task ProbeAsync(string modelFolder, string expertsFolder, MixtureSemantics semantics, DemoConsole console, CancellationToken cancellationToken)
    {
        var suite = new DemoSuite();
        bool experts = Directory.Exists(expertsFolder) && Directory.GetFiles(expertsFolder, "*.safetensors").Length > 0;
        await using var t2 = experts ? DemoPipeline.Build(modelFolder, expertsFolder, DispatchMode.Fixed, suite, semantics: semantics)
            : new TransformerSquaredBuilder().UseModelFolder(modelFolder).ConfigureGeneration(g => g with { MaxNewTokens = DemoPipeline.MaxAnswerTokens }).Build();
        var rows = new List<string>();
        foreach (var task in suite.All)
        {
            var items = task.GetItems(TaskSplit.Valid);
            var favoured = items.Where(AnswerStyle.IsFavoured).ToList();
            var other = items.Where(i => !AnswerStyle.IsFavoured(i)).ToList();
            string related = suite.Training.First(t => t.Family.Label == task.Family.Label).Name;
            var plans = new List<(string Name, AdaptationPlan Plan)> { ("base", AdaptationPlan.Base) };
            if (experts && t2.Experts.Contains(related)) plans.Add((related, AdaptationPlan.Single(related)));
            foreach (var (name, plan) in plans)
            {
                var options = new AnswerOptions { Plan = plan };
                var f = await DemoPipeline.EvaluateAsync(t2, task, favoured, name, options, cancellationToken);
                var o = await DemoPipeline.EvaluateAsync(t2, task, other, name, options, cancellationToken);
                var example = other.Count > 0 ? (await t2.AnswerAsync(task.BuildMessages(other[0]), options, cancellationToken)).Answer : "";
                rows.Add($"| {task.Name} | {name} | {Pct(f)} | {Pct(o)} | {OneLine(example)} |");
                console.Line(rows[^1]);
            }
        }
        console.Text($"{modelFolder}: validation items by phrasing");
        console.Text("| family | model | favoured phrasing | other phrasing | first other-phrasing answer |");
        console.Text("|---|---|---|---|---|");
        foreach (var row in rows) console.Text(row);
        if (experts) await ProbeTwoSkillLinesAsync(t2, suite, semantics, console, cancellationToken);
    }

    /// <summary>
    /// The two-skill family line by line (validation items): how often each answer line is right with no expert, each
    /// expert alone and the two experts summed — whether each expert fixes its own line and leaves the other alone, which
    /// is what gives a mixture something to find.
    /// </summary>
    static async Task ProbeTwoSkillLinesAsync(TransformerSquared t2, DemoSuite suite, MixtureSemantics semantics, DemoConsole console, CancellationToken cancellationToken)
    {
        foreach (var task in suite.Unseen.Where(t => t.Family is TwoSkillFamily))
        {
            var family = (TwoSkillFamily)task.Family;
            string[] pair = ["arith", "choice"];
            if (!pair.All(t2.Experts.Contains)) continue;
            var plans = new List<(string Name, AdaptationPlan Plan)> { ("base", AdaptationPlan.Base) };
            plans.AddRange(pair.Select(e => (e, AdaptationPlan.Single(e))));
            plans.Add(($"arith + choice ({semantics})", AdaptationPlan.Mixture(pair, MixtureWeights.Global([1.0, 1.0]))));
            var items = task.GetItems(TaskSplit.Valid);
            console.Text($"{task.Name}, {items.Count} validation items, line by line");
            console.Text("| model | arithmetic line right | choice line right | both right | first answer |");
            console.Text("|---|---|---|---|---|");
            foreach (var (name, plan) in plans)
            {
                int arithmetic = 0, choice = 0, both = 0;
                string first = "";
                foreach (var item in items)
                {
                    string answer = (await t2.AnswerAsync(task.BuildMessages(item), new AnswerOptions { Plan = plan }, cancellationToken)).Answer;
                    if (first.Length == 0) first = OneLine(answer);
                    var (a, c) = family.LinesRight(item, answer);
                    arithmetic += a ? 1 : 0;
                    choice += c ? 1 : 0;
                    both += a && c ? 1 : 0;
                }
                string Share(int k) => string.Create(CultureInfo.InvariantCulture, $"{100.0 * k / items.Count:F1}% ({k}/{items.Count})");
                console.Text($"| {name} | {Share(arithmetic)} | {Share(choice)} | {Share(both)} | {first} |");
            }
        }
    }

    internal static string Pct(EvaluationResult r) => string.Create(CultureInfo.InvariantCulture, $"{100 * r.Accuracy:F1}% ({r.Correct}/{r.Total})");

    static string Dispatch(EvaluationResult r) => r.DispatchCorrect is { } d ? string.Create(CultureInfo.InvariantCulture, $"{100.0 * d / r.Total:F0}%") : "–";

    internal static string Weights(AdaptationPlan? plan) => plan is null || plan.IsBase
        ? "none (base model)"
        : string.Join(", ", plan.WeightsByExpert().Select(w => string.Create(CultureInfo.InvariantCulture, $"{w.Key}={w.Value:F2}")));

    static string Mark(bool correct) => correct ? "right" : "wrong";

    static string OneLine(string text) => text.Replace("\n", " | ", StringComparison.Ordinal).Trim();
}
