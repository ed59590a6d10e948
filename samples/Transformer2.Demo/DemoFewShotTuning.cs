using System.Globalization;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Adaptation.Search;
using Transformer2.Core.Svf;
using Transformer2.Demo.Tasks;
using Transformer2.Training.Tasks;

namespace Transformer2.Demo;

/// <summary>
/// Chooses few-shot CEM's settings on validation items only: each setting searches on the first validation items of
/// every unseen family and is scored on the last <see cref="HoldoutItems"/>, which no setting searches on; the base
/// model and each single expert are scored on the same items for comparison.
/// </summary>
internal static class DemoFewShotTuning
{
    /// <summary>Validation items per family kept out of every search (the last ones of the split).</summary>
    const int HoldoutItems = 32;

    /// <summary>
    /// Scores every global mixture α·(arith, choice) on a grid of <paramref name="steps"/> + 1 values per weight in
    /// [0, <paramref name="maxWeight"/>] on the held-out validation items of <paramref name="family"/>: whether any mixture
    /// of the two experts does better than each alone, independently of how CEM searches.
    /// </summary>
    public static async Task GridAsync(string modelFolder, string expertsFolder, string family, string first, string second, int steps, double maxWeight,
        MixtureSemantics semantics, DemoConsole console, CancellationToken cancellationToken)
    {
        var suite = new DemoSuite();
        var task = suite.Unseen.FirstOrDefault(t => t.Name == family) ?? throw new ArgumentException($"--family '{family}' is not an unseen family ({string.Join(", ", suite.Unseen.Select(t => t.Name))}).");
        var holdout = Holdout(task, searched: 0);
        await using var t2 = DemoPipeline.Build(modelFolder, expertsFolder, DispatchMode.Fixed, suite, semantics: semantics);
        var lines = new List<string> { $"| α {first} \\ α {second} | " + string.Join(" | ", Enumerable.Range(0, steps + 1).Select(j => (maxWeight * j / steps).ToString("F2", CultureInfo.InvariantCulture))) + " |",
            "|---|" + string.Concat(Enumerable.Repeat("---|", steps + 1)) };
        for (int i = 0; i <= steps; i++)
        {
            double a = maxWeight * i / steps;
            var cells = new List<string>();
            for (int j = 0; j <= steps; j++)
            {
                double b = maxWeight * j / steps;
                var plan = i == 0 && j == 0 ? AdaptationPlan.Base : AdaptationPlan.Mixture([first, second], Transformer2.Core.Svf.MixtureWeights.Global([a, b]));
                var result = await DemoPipeline.EvaluateAsync(t2, task, holdout, "grid", new AnswerOptions { Plan = plan }, cancellationToken);
                cells.Add($"{result.Correct}/{result.Total}");
            }
            lines.Add($"| {a.ToString("F2", CultureInfo.InvariantCulture)} | " + string.Join(" | ", cells) + " |");
            console.Line(lines[^1]);
        }
        console.Line("");
        console.Line($"{family}: held-out validation items right (last {HoldoutItems}) for z' = α_{first}·z_{first} + α_{second}·z_{second} (α = 0, 0: base model)");
        console.Line("");
        foreach (var line in lines) console.Line(line);

        // Per-layer placement, which one weight per expert cannot express: one expert whole in the lower layers, the other
        // in the rest (weights 1 and 0 per matrix, so each matrix gets exactly one expert's rescaling).
        var targets = t2.Experts[first].Targets.ToList();
        int layers = targets.Select(LayerOf).Max() + 1;
        var splits = new List<string> { "| expert on the lower layers | expert on the upper layers | lower layers | right |", "|---|---|---|---|" };
        foreach (var (lower, upper) in new[] { (first, second), (second, first) })
            for (int cut = 1; cut < layers; cut++)
            {
                var alpha = new double[2, targets.Count];
                for (int m = 0; m < targets.Count; m++)
                {
                    bool below = LayerOf(targets[m]) < cut;
                    alpha[0, m] = (lower == first) == below ? 1 : 0;
                    alpha[1, m] = 1 - alpha[0, m];
                }
                var plan = AdaptationPlan.Mixture([first, second], Transformer2.Core.Svf.MixtureWeights.PerMatrix(alpha, targets));
                var result = await DemoPipeline.EvaluateAsync(t2, task, holdout, "split", new AnswerOptions { Plan = plan }, cancellationToken);
                splits.Add($"| {lower} | {upper} | 0–{cut - 1} | {result.Correct}/{result.Total} |");
                console.Line(splits[^1]);
            }
        console.Line("");
        foreach (var line in splits) console.Line(line);
    }

    /// <summary>The decoder layer of a target such as <c>model.layers.3.mlp.up_proj.weight</c>.</summary>
    static int LayerOf(string target) => int.Parse(target.Split('.')[2], CultureInfo.InvariantCulture);

    /// <summary>The last <see cref="HoldoutItems"/> validation items of <paramref name="task"/>, after room for <paramref name="searched"/> shots.</summary>
    static IReadOnlyList<TaskItem> Holdout(FamilyTask task, int searched)
    {
        var valid = task.GetItems(TaskSplit.Valid);
        if (valid.Count < HoldoutItems + searched)
            throw new ArgumentException($"{task.Name} has {valid.Count} validation items; {searched} shots and {HoldoutItems} held out need {HoldoutItems + searched}.");
        return valid.Skip(valid.Count - HoldoutItems).ToList();
    }

    public static async Task RunAsync(string modelFolder, string expertsFolder, IReadOnlyList<int> shots, int population, int generations, MixtureSemantics semantics,
        bool perMatrix, DemoConsole console, CancellationToken cancellationToken)
    {
        var suite = new DemoSuite();
        var rows = new List<string>();
        IReadOnlyList<TaskItem> Holdout(FamilyTask task) => DemoFewShotTuning.Holdout(task, searched: shots.Max());

        await using (var t2 = DemoPipeline.Build(modelFolder, expertsFolder, DispatchMode.Fixed, suite))
        {
            foreach (var task in suite.Unseen)
            {
                var cells = new List<string>();
                foreach (var plan in new[] { AdaptationPlan.Base }.Concat(suite.Training.Select(t => AdaptationPlan.Single(t.Name))))
                {
                    var result = await DemoPipeline.EvaluateAsync(t2, task, Holdout(task), "fixed", new AnswerOptions { Plan = plan }, cancellationToken);
                    cells.Add($"{result.Correct}/{result.Total}");
                }
                rows.Add($"| {task.Name} | fixed plans | base {cells[0]}, " + string.Join(", ", suite.Training.Select((t, i) => $"{t.Name} {cells[i + 1]}")) + " | |");
                console.Line(rows[^1]);
            }
        }
        foreach (int count in shots)
        {
            var search = new SearchOptions { PopulationSize = population, Generations = generations, Seed = suite.Seed };
            await using var t2 = DemoPipeline.Build(modelFolder, expertsFolder, DispatchMode.FewShot, suite, search, fewShotExamples: count, semantics: semantics, perMatrix: perMatrix);
            foreach (var task in suite.Unseen)
            {
                var took = await DemoPipeline.TimeAsync(() => t2.AdaptToTaskAsync(task.Name, null, cancellationToken));
                var plan = ((Transformer2.Adaptation.Dispatch.FewShotStrategy)t2.Strategy).AdaptedPlan(task.Name);
                var result = await DemoPipeline.EvaluateAsync(t2, task, Holdout(task), "few-shot", new AnswerOptions { TaskKey = task.Name }, cancellationToken);
                string weights = DemoReport.Weights(plan);
                rows.Add(string.Create(CultureInfo.InvariantCulture,
                    $"| {task.Name} | CEM {count} shots, population {population}, {generations} generations{(perMatrix ? ", α per matrix" : "")} ({took.TotalSeconds:F0} s) | {result.Correct}/{result.Total} | {weights} |"));
                console.Line(rows[^1]);
            }
        }
        console.Line("");
        console.Line($"Few-shot settings on validation items (last {HoldoutItems} of each unseen family's validation split; shots are its first items)");
        console.Line("");
        console.Line("| family | setting | held-out validation right | CEM weights |");
        console.Line("|---|---|---|---|");
        foreach (var row in rows) console.Line(row);
    }
}
