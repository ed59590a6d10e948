using System.Globalization;
using Transformer2.Adaptation.Dispatch;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Adaptation.Search;
using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Training.Tasks;

namespace Transformer2.Samples.AdaptationStrategies;

// The same questions answered with each way Transformer² can pick its experts: none, a fixed plan, prompt dispatch,
// the classification expert, and few-shot CEM. Prints each decision, its mixing weights and the answer.
// Usage: AdaptationStrategies [MODEL_FOLDER]   (the folder's experts/ subfolder holds arith, code, choice and cls)
public static class AdaptationStrategiesSample
{
    // The bundled experts, one per skill the tiny model was trained on.
    static readonly string[] Experts = ["arith", "code", "choice"];

    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken = default)
    {
        string modelFolder = args.Length > 0 ? args[0] : BundledModel();
        string expertsFolder = Path.Combine(modelFolder, "experts");

        // Three kinds of question (a task key each, used only by few-shot) with the answer the model was taught to give.
        var kinds = new (string Key, Func<Random, (string Prompt, string Expected)> Draw)[] { ("math", Arithmetic), ("code", Code), ("reasoning", Choice) };
        var random = new Random(2025);
        var questions = kinds.Select(k => (k.Key, Item: k.Draw(random))).ToList();

        // Prompt dispatch: the model itself classifies the question; each label maps to an expert. The authors' labels
        // (math, code, reasoning) come with their descriptions; a label of your own needs one.
        static void Categories(TransformerSquaredBuilder.CategoryList c) => c.Add("math", "arith").Add("code", "code").Add("reasoning", "choice");

        var strategies = new (string Title, Func<TransformerSquaredBuilder, TransformerSquaredBuilder> Configure)[]
        {
            ("base model (no strategy: no first pass, no expert)", b => b),
            ("fixed plan: the same mixture for every request", b => b.UseFixedPlan(
                AdaptationPlan.Mixture(Experts, MixtureWeights.Global([0.5, 0.25, 0.25])))),
            // The first pass is a short generation: 16 tokens are plenty for a one-word label.
            ("prompt dispatch", b => b.UsePromptDispatch(Categories, maxFirstPassTokens: 16)),
            ("classification expert: the same, with the cls expert applied while classifying",
                b => b.UseClassificationExpert("cls", Categories, maxFirstPassTokens: 16)),
            // Few-shot: per task, CEM searches the experts' mixing weights that score best on a few solved examples.
            // Small search settings keep it to seconds; the authors' defaults are population 32, 50 generations.
            ("few-shot CEM", b => b.UseFewShotDispatch(Experts, fewShot =>
            {
                foreach (var (key, draw) in kinds)
                    fewShot.AddTask(key, ContainsAnswerTask(key), Enumerable.Range(0, 6).Select(i => Solved(key, i, draw(random))).ToList());
            }, new SearchOptions { PopulationSize = 8, Generations = 3, Seed = 1 })),
        };

        foreach (var (title, configure) in strategies)
        {
            var builder = new TransformerSquaredBuilder()
                .UseModelFolder(modelFolder)
                .AddExpertsFromFolder(expertsFolder)
                .ConfigureGeneration(g => g with { MaxNewTokens = 24 });   // the answers are one short line
            await using var t2 = await configure(builder).BuildAsync(cancellationToken: cancellationToken);
            output.WriteLine($"== {title} [{t2.Strategy.Name}]");

            if (t2.Strategy is FewShotStrategy)
            {
                // Searching up front (e.g. at start-up) keeps it off the first request; otherwise that request searches.
                foreach (var (key, _) in kinds)
                {
                    var search = await t2.AdaptToTaskAsync(key, cancellationToken: cancellationToken);
                    output.WriteLine($"  adapted '{key}': {search!.Evaluations} candidates tried, best few-shot accuracy {search.BestFitness.Score:P0}");
                }
            }

            foreach (var (key, (prompt, expected)) in questions)
            {
                // The task key matters to few-shot only (it picks the mixture searched for that task); the others ignore it.
                var result = await t2.AnswerAsync([ChatMessage.User(prompt)], new AnswerOptions { TaskKey = key }, cancellationToken);
                var decision = result.Decision;
                output.WriteLine($"  {prompt.Replace('\n', ' ')}");
                output.WriteLine($"    decision: label {decision.Label ?? "-"}, weights {Weights(decision.Plan)}, first pass {result.FirstPass.TotalMilliseconds:F0} ms");
                output.WriteLine($"    answer: {result.Answer} ({(result.Answer.Contains(expected, StringComparison.Ordinal) ? "right" : "wrong, expected " + expected)})");
            }
        }
        return 0;
    }

    static string Weights(AdaptationPlan plan) => plan.IsBase
        ? "none (base model)"
        : string.Join(", ", plan.WeightsByExpert().Select(w => $"{w.Key} {w.Value.ToString("F2", CultureInfo.InvariantCulture)}"));

    // Few-shot search scores candidates with a task; here any answer containing the reference counts as right.
    static DelegateTask ContainsAnswerTask(string key) => DelegateTask.WithReward(key, new TaskSplits([], [], [], []), systemPrompt: null,
        (item, completion) => completion.Contains(item.Reference!, StringComparison.Ordinal) ? 1 : -1,
        new GenerationSettings(MaxNewTokens: 24, MaxContextTokens: 512, StopStrings: []));

    static TaskItem Solved(string key, int index, (string Prompt, string Expected) item) =>
        new($"{key}-{index}", item.Prompt) { References = [item.Expected] };

    // Question generators in the formats the bundled model learnt (see docs/results.md).
    static (string, string) Arithmetic(Random r)
    {
        int a = r.Next(2, 30), b = r.Next(1, 10);
        return ($"Ann has {a} pens and gets {b} more. How many pens does Ann have?", $"The answer is {a + b}.");
    }

    static (string, string) Code(Random r)
    {
        int a = r.Next(1, 10), b = r.Next(1, 10);
        return ($"What does this Python code print?\nprint(max({a}, {b}))", $"Output: {Math.Max(a, b)}");
    }

    static (string, string) Choice(Random r)
    {
        int a = r.Next(10, 100), b = r.Next(10, 100);
        while (b == a) b = r.Next(10, 100);
        return ($"Which number is larger?\nA) {a}\nB) {b}", $"Answer: {(a > b ? "A" : "B")}");
    }

    // The bundled tiny model (samples/models/t2-tiny), found by walking up from the program to the repository root.
    static string BundledModel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Transformer2.sln"))) return Path.Combine(dir.FullName, "samples", "models", "t2-tiny");
        throw new DirectoryNotFoundException("The bundled model was not found above " + AppContext.BaseDirectory + "; pass a model folder.");
    }
}
