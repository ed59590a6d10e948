using System.Collections.Concurrent;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Adaptation.Search;
using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Training.Tasks;

namespace Transformer2.Adaptation.Dispatch;

/// <summary>
/// Few-shot adaptation (t2-reference §3): for a task known by its key, search the mixing weights α of the experts
/// with CEM (or random shooting) to maximise the task's score on a few examples, then answer that task's prompts with
/// the mixture. The search runs once per task; its result is cached and reused.
/// </summary>
/// <remarks>
/// Fitness is the accuracy on the shots under greedy decoding; ties are broken by the mean per-token log-probability
/// of the correct answers, taken from the generation itself (the same model and weights the authors score them with).
/// Shots with images (<see cref="TaskItem.ImageBytes"/> or <see cref="TaskItem.ImagePath"/>, such as VQA items) are
/// shown them on a LLaVA backbone, in generation and so in the log-probabilities.
/// In merged mode each candidate is materialised by blending cached per-expert compositions (<see cref="SvfBlendCache"/>),
/// not by recomposing; in factored mode a candidate is only a new multiplier vector.
/// </remarks>
public sealed class FewShotStrategy : IDispatchStrategy
{
    readonly IReadOnlyList<string> _experts;
    readonly SearchOptions _search;
    readonly bool _perMatrix;
    readonly bool _randomShooting;
    readonly IDispatchStrategy? _fallback;
    readonly ConcurrentDictionary<string, (ITask Task, IReadOnlyList<TaskItem> Shots)> _tasks = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, AdaptationPlan> _adapted = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, SemaphoreSlim> _searching = new(StringComparer.Ordinal);

    /// <summary>Creates the strategy.</summary>
    /// <param name="experts">The experts to mix (at least one).</param>
    /// <param name="search">Search settings; defaults are the authors' (population 32, 50 generations, …).</param>
    /// <param name="perMatrix">One α per expert per adapted matrix (the authors' few-shot script) instead of one per expert.</param>
    /// <param name="randomShooting">Use random shooting instead of CEM.</param>
    /// <param name="fallback">Decides requests that carry no known task key; null answers them with the base model.</param>
    public FewShotStrategy(IReadOnlyList<string> experts, SearchOptions? search = null, bool perMatrix = false, bool randomShooting = false, IDispatchStrategy? fallback = null)
    {
        ArgumentNullException.ThrowIfNull(experts);
        if (experts.Count == 0) throw new ArgumentException("Few-shot adaptation needs at least one expert.", nameof(experts));
        _experts = experts.ToList();
        _search = search ?? new SearchOptions();
        _search.Validate();
        _perMatrix = perMatrix;
        _randomShooting = randomShooting;
        _fallback = fallback;
    }

    /// <inheritdoc />
    public string Name => "few-shot";

    /// <summary>Registers the few examples of a task; <paramref name="shots"/> need reference answers the task can score.</summary>
    public FewShotStrategy AddTask(string key, ITask task, IReadOnlyList<TaskItem> shots)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(shots);
        if (shots.Count == 0) throw new ArgumentException($"Task '{key}' needs at least one example.", nameof(shots));
        _tasks[key] = (task, shots.ToList());
        _adapted.TryRemove(key, out _);
        return this;
    }

    /// <summary>The cached plan of a task, if it was adapted.</summary>
    public AdaptationPlan? AdaptedPlan(string key) => _adapted.TryGetValue(key, out var plan) ? plan : null;

    /// <inheritdoc />
    public void Validate(DispatchContext context)
    {
        foreach (var e in _experts)
            if (!context.Experts.Contains(e)) throw new InvalidOperationException($"Few-shot mixing uses expert '{e}', which is not registered.");
        _fallback?.Validate(context);
    }

    /// <inheritdoc />
    public async ValueTask<DispatchDecision> DecideAsync(DispatchContext context, IReadOnlyList<ChatMessage> messages, AnswerOptions options, CancellationToken cancellationToken)
    {
        if (options.TaskKey is { } key && _tasks.ContainsKey(key))
        {
            if (!_adapted.TryGetValue(key, out var plan))
            {
                await AdaptAsync(context, key, null, cancellationToken).ConfigureAwait(false);
                plan = _adapted[key];
            }
            return new DispatchDecision(Name, key, plan);
        }
        if (_fallback is not null) return await _fallback.DecideAsync(context, messages, options, cancellationToken).ConfigureAwait(false);
        return new DispatchDecision(Name, null, AdaptationPlan.Base);
    }

    /// <summary>Runs the search for task <paramref name="key"/> now (once; concurrent callers wait for the same run) and caches its plan.</summary>
    public async Task<SearchResult?> AdaptAsync(DispatchContext context, string key, IProgress<SearchProgress>? progress, CancellationToken cancellationToken)
    {
        if (!_tasks.TryGetValue(key, out var entry)) throw new KeyNotFoundException($"No few-shot task '{key}' is registered; call AddTask first.");
        var gate = _searching.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_adapted.ContainsKey(key)) return null;
            var experts = _experts.Select(e => context.Experts[e]).ToList();
            var targets = experts[0].Targets;
            int k = _experts.Count;
            int columns = _perMatrix ? targets.Count : 1;
            var initial = Enumerable.Repeat(1.0 / k, k * columns).ToArray();

            // Blending cached compositions needs mixtures linear in α; otherwise each candidate is composed.
            bool linear = SvfMixer.IsLinearInWeights(context.Applier.Semantics);
            using var blend = context.Applier.Mode == ExpertApplicationMode.Merged && linear
                ? new SvfBlendCache(
                    targets.ToDictionary(t => t, t => context.Backbone.Layers[t], StringComparer.Ordinal),
                    SvfMixer.MixingBasis(experts.Select(e => e.Vectors).ToList(), experts[0].Metadata.Parameterization, context.Applier.Semantics)
                        .Cast<IReadOnlyDictionary<string, TorchSharp.torch.Tensor>>().ToList(),
                    cancellationToken)
                : null;
            // The shots' images ride on their messages; their features are computed once for the whole search.
            var prompts = entry.Shots.Select(s => context.Backbone.Prepare(TaskItemImages.Attach(entry.Task.BuildMessages(s), s))).ToList();
            using var images = context.Backbone.Precompute(prompts);

            async ValueTask<CandidateFitness> Fitness(IReadOnlyList<double> candidate, CancellationToken ct)
            {
                var weights = Weights(candidate, k, targets);
                // All-zero weights leave W' undefined (ΣS⊙z' = 0); the authors' code composes NaNs there and scores 0. Under
                // Parameters semantics they are sigmoid(0) everywhere, a constant multiplier: the base model, a valid candidate.
                if (linear && (weights.Targets ?? ["*"]).Any(t => weights.For(t).All(a => a == 0)))
                    return new CandidateFitness(0);
                var plan = AdaptationPlan.Mixture(_experts, weights);
                // Candidates are short-lived: composed per candidate when they cannot be blended, never cached.
                var outputs = await context.GenerateAsync(plan, prompts, images?.Embed, entry.Task.Generation.MaxNewTokens, entry.Task.Generation.StopStrings, ct, blend,
                    cacheComposition: false).ConfigureAwait(false);
                int correct = 0;
                double logLikelihood = 0;
                for (int i = 0; i < outputs.Count; i++)
                {
                    var score = await entry.Task.ScoreAsync(entry.Shots[i], outputs[i].Text, ct).ConfigureAwait(false);
                    if (!score.Correct) continue;
                    correct++;
                    var logProbs = outputs[i].Result.LogProbs;
                    logLikelihood += logProbs.Count == 0 ? 0 : logProbs.Average(x => (double)x);
                }
                return new CandidateFitness(correct / (double)outputs.Count, correct == 0 ? 0 : logLikelihood / correct);
            }

            var result = _randomShooting
                ? await new RandomShooting(_search).SearchAsync(initial, Fitness, progress, cancellationToken).ConfigureAwait(false)
                : await new CrossEntropyMethod(_search).SearchAsync(initial, Fitness, progress, cancellationToken).ConfigureAwait(false);
            _adapted[key] = AdaptationPlan.Mixture(_experts, Weights(result.Best, k, targets));
            return result;
        }
        finally
        {
            gate.Release();
        }
    }

    MixtureWeights Weights(IReadOnlyList<double> candidate, int experts, IReadOnlyList<string> targets)
    {
        if (!_perMatrix) return MixtureWeights.Global(candidate);
        var alpha = new double[experts, targets.Count];
        for (int e = 0; e < experts; e++)
            for (int t = 0; t < targets.Count; t++) alpha[e, t] = candidate[e * targets.Count + t];   // the authors' [K, L], row-major
        return MixtureWeights.PerMatrix(alpha, targets);
    }
}
