using System.Diagnostics;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Adaptation.Search;
using Transformer2.Core.Svf;
using Transformer2.Training.Tasks;

namespace Transformer2.Demo.Tasks;

/// <summary>Builds the Transformer² pipeline over a demo model folder and measures it on the synthetic families.</summary>
public static class DemoPipeline
{
    /// <summary>Longest answer the families need.</summary>
    public const int MaxAnswerTokens = 48;

    /// <summary>
    /// Few examples of each unseen task given to few-shot adaptation: chosen on validation items with <c>few-shot-tune</c>
    /// (32 shots got 31/128 of the held-out validation items right, 8 shots 26/128; docs/results.md, Table 2).
    /// </summary>
    public const int FewShotExamples = 32;

    /// <summary>
    /// How the demo's mixtures add experts up (few-shot CEM, the probe's sum of two experts): the experts' trained vectors are
    /// summed and mapped through their sigmoid, so CEM can add two experts' changes at full strength. Chosen on validation
    /// items with <c>few-shot-tune --semantics</c>: 68/128 held-out validation items right vs 61/128 mixing multipliers
    /// (the paper's formula), which did no better than prompt routing's 61/128 (docs/results.md, Table 2).
    /// </summary>
    public const MixtureSemantics MixtureSemantics = Core.Svf.MixtureSemantics.Parameters;

    /// <summary>
    /// A pipeline over <paramref name="modelFolder"/> with every expert in <paramref name="expertsFolder"/> and the given dispatch:
    /// math → arith, code → code, reasoning → choice; <paramref name="merged"/> composes each expert's weights once
    /// (<see cref="TransformerSquaredBuilder.UseMergedExperts"/>) instead of the default factored path; <paramref name="int8"/>
    /// stores the projections SVF does not adapt as int8 blocks (<see cref="TransformerSquaredBuilder.UseInt8Weights"/>);
    /// few-shot dispatch searches on the first <paramref name="fewShotExamples"/> validation items of each unseen family, with one α
    /// per expert or, with <paramref name="perMatrix"/>, one per expert per adapted matrix (the authors' few-shot script).
    /// </summary>
    public static TransformerSquared Build(string modelFolder, string expertsFolder, DispatchMode mode, DemoSuite suite, SearchOptions? search = null, bool merged = false,
        bool int8 = false, int fewShotExamples = FewShotExamples, MixtureSemantics semantics = MixtureSemantics, bool perMatrix = false)
    {
        ArgumentNullException.ThrowIfNull(suite);
        var builder = new TransformerSquaredBuilder()
            .UseModelFolder(modelFolder)
            .AddExpertsFromFolder(expertsFolder)
            .UseMixtureSemantics(semantics)
            .ConfigureGeneration(g => g with { MaxNewTokens = MaxAnswerTokens });
        if (merged) builder = builder.UseMergedExperts();
        if (int8) builder = builder.UseInt8Weights();
        void Categories(TransformerSquaredBuilder.CategoryList c) => c.Add("math", suite.Training[0].Name).Add("code", suite.Training[1].Name).Add("reasoning", suite.Training[2].Name);
        builder = mode switch
        {
            DispatchMode.Prompt => builder.UsePromptDispatch(Categories, maxFirstPassTokens: 16),
            DispatchMode.ClassificationExpert => builder.UseClassificationExpert(DemoStages.ClassificationExpert, Categories, maxFirstPassTokens: 16),
            DispatchMode.FewShot => builder.UseFewShotDispatch(suite.Training.Select(t => t.Name).ToList(), strategy =>
            {
                foreach (var task in suite.Unseen) strategy.AddTask(task.Name, task, task.GetItems(TaskSplit.Valid).Take(fewShotExamples).ToList());
            }, search ?? new SearchOptions { PopulationSize = 16, Generations = 8, Seed = suite.Seed }, perMatrixWeights: perMatrix),
            _ => builder,
        };
        return builder.Build();
    }

    /// <summary>Answers <paramref name="items"/> of <paramref name="task"/> one by one and scores them exactly.</summary>
    /// <param name="t2">The pipeline.</param>
    /// <param name="task">The family.</param>
    /// <param name="items">Its items to answer.</param>
    /// <param name="setting">The setting's name, carried into the result.</param>
    /// <param name="options">Per-answer options (plan, task key), or null for the pipeline's dispatch.</param>
    /// <param name="cancellationToken">Stops between items.</param>
    /// <param name="answered">How many items are answered so far, after each one.</param>
    public static async Task<EvaluationResult> EvaluateAsync(TransformerSquared t2, FamilyTask task, IReadOnlyList<TaskItem> items, string setting,
        AnswerOptions? options = null, CancellationToken cancellationToken = default, IProgress<int>? answered = null)
    {
        ArgumentNullException.ThrowIfNull(t2);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(items);
        int correct = 0, dispatched = 0, done = 0;
        long firstPrompt = 0, firstGenerated = 0, secondPrompt = 0, secondGenerated = 0;
        bool labelled = false;
        TimeSpan first = TimeSpan.Zero, second = TimeSpan.Zero;
        foreach (var item in items)
        {
            var result = await t2.AnswerAsync(task.BuildMessages(item), options, cancellationToken).ConfigureAwait(false);
            if (task.Score(item, result.Answer).Correct) correct++;
            if (result.Decision.Strategy is "prompt" or "classification-expert")
            {
                labelled = true;
                if (result.Decision.Label == task.Family.Label) dispatched++;
            }
            first += result.FirstPass;
            second += result.SecondPass;
            firstPrompt += result.Decision.FirstPassPromptTokens;
            firstGenerated += result.FirstPassTokens;
            secondPrompt += result.PromptTokens;
            secondGenerated += result.CompletionTokens;
            answered?.Report(++done);
        }
        int n = Math.Max(1, items.Count);
        return new EvaluationResult(task.Name, setting, correct, items.Count, first / n, second / n, labelled ? dispatched : null)
        {
            Tokens = new PassTokens((double)firstPrompt / n, (double)firstGenerated / n, (double)secondPrompt / n, (double)secondGenerated / n),
        };
    }

    /// <summary>Share of correct labels the pipeline's first pass gives <paramref name="items"/> of the classification task (no second pass).</summary>
    public static async Task<double> ClassificationAccuracyAsync(TransformerSquared t2, IReadOnlyList<TaskItem> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(t2);
        ArgumentNullException.ThrowIfNull(items);
        int correct = 0;
        foreach (var item in items)
        {
            var decision = await t2.DecideAsync([Models.Chat.ChatMessage.User(item.Prompt)], null, cancellationToken).ConfigureAwait(false);
            if (decision.Label == item.Reference) correct++;
        }
        return items.Count == 0 ? 0 : (double)correct / items.Count;
    }

    /// <summary>Wall time of an action, for the demo's timing lines.</summary>
    public static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        var clock = Stopwatch.StartNew();
        await action().ConfigureAwait(false);
        return clock.Elapsed;
    }
}
