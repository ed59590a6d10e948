using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Models.Generation;
using Transformer2.Models.Llama;
using Transformer2.Models.Tokenization;
using Transformer2.Training.Tasks;
using static TorchSharp.torch;

namespace Transformer2.Training.Reinforce;

/// <summary>
/// Trains an SVF expert on a task by REINFORCE, as the authors do (t2-reference §2): sample a batch of prompts,
/// generate one answer each with the adapted model, score it, and minimise −Σₜ log π(yₜ | x, y&lt;ₜ)·r averaged over
/// the batch, optionally plus λ·KL to the base model. Only the policy's tensors train: the SVF vectors by default, or any
/// <see cref="ITrainablePolicy"/> such as <see cref="Lora.LoraPolicy"/> (the paper's LoRA-by-policy-gradient ablation).
/// </summary>
/// <remarks>
/// For SVF the model must already hold <see cref="SvfLinear"/> layers on the targets (see <see cref="SvfInjector"/>). The
/// trainer never mutates shared weights: rollouts and gradients both run inside the policy's activation scope (for SVF, the
/// ambient <see cref="SvfContext"/>).
/// Differences from the authors' code, on purpose: rollouts are batched; a fresh batch is drawn every iteration from a
/// generator seeded by (seed, iteration) — the authors re-seed with 42 each time and so redraw the same batch; and the
/// prompt is tokenised once, so the completion's token boundary cannot shift (t2-reference §2, "quirks").
/// </remarks>
public sealed class ReinforceTrainer : IDisposable
{
    readonly LlamaForCausalLM _model;
    readonly ITextTokenizer _tokenizer;
    readonly IChatTemplate _template;
    readonly ITask _task;
    readonly ReinforceOptions _options;
    readonly ILogger _logger;
    readonly ITrainablePolicy _policy;
    readonly bool _ownsPolicy;
    readonly AdamOptimizer _adam;
    readonly IReadOnlyList<TaskItem> _train;
    readonly IReadOnlyList<TaskItem> _valid;
    readonly TrainingCheckpoint? _checkpoint;

    /// <summary>Prepares a run; throws if the model has no SVF layers or the task has no training items.</summary>
    /// <param name="model">A model with SVF layers injected on the targets to train.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="template">The chat template prompts are rendered with.</param>
    /// <param name="task">The task: items, prompts and reward.</param>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="logger">Optional logger for metrics.</param>
    /// <param name="initialVectors">Start from these raw vectors instead of a fresh draw.</param>
    public ReinforceTrainer(LlamaForCausalLM model, ITextTokenizer tokenizer, IChatTemplate template, ITask task, ReinforceOptions? options = null,
        ILogger? logger = null, IReadOnlyDictionary<string, Tensor>? initialVectors = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new ReinforceOptions();
        options.Validate();
        var layers = SvfInjector.Find(model);
        if (layers.Count == 0)
            throw new ArgumentException("The model has no SVF layers: call SvfInjector.Inject on it (or load it through the adaptation builder) before training.", nameof(model));
        var policy = new SvfPolicy(layers.Select(l => new KeyValuePair<string, long>(l.Key, l.Value.Rank)), options.Parameterization, options.Seed)
        {
            GradientPath = options.GradientPath,
        };
        if (initialVectors is not null) policy.Load(initialVectors);
        _ownsPolicy = true;
        (_model, _tokenizer, _template, _task, _options, _logger, _policy, _adam, _train, _valid, _checkpoint) =
            Prepare(model, tokenizer, template, task, options, logger, policy);
    }

    /// <summary>Prepares a run that trains <paramref name="policy"/> (for example a <see cref="Lora.LoraPolicy"/>); the caller keeps ownership of it.</summary>
    /// <param name="model">The model the policy adapts.</param>
    /// <param name="policy">The trainable tensors and how they enter the model's forward.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="template">The chat template prompts are rendered with.</param>
    /// <param name="task">The task: items, prompts and reward.</param>
    /// <param name="options">Settings; validated here (<see cref="ReinforceOptions.Parameterization"/> and <see cref="ReinforceOptions.GradientPath"/> concern SVF only).</param>
    /// <param name="logger">Optional logger for metrics.</param>
    public ReinforceTrainer(LlamaForCausalLM model, ITrainablePolicy policy, ITextTokenizer tokenizer, IChatTemplate template, ITask task,
        ReinforceOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(policy);
        options ??= new ReinforceOptions();
        options.Validate();
        if (policy.Parameters.Count == 0) throw new ArgumentException("The policy has no trainable tensors.", nameof(policy));
        (_model, _tokenizer, _template, _task, _options, _logger, _policy, _adam, _train, _valid, _checkpoint) =
            Prepare(model, tokenizer, template, task, options, logger, policy);
    }

    static (LlamaForCausalLM, ITextTokenizer, IChatTemplate, ITask, ReinforceOptions, ILogger, ITrainablePolicy, AdamOptimizer,
        IReadOnlyList<TaskItem>, IReadOnlyList<TaskItem>, TrainingCheckpoint?) Prepare(LlamaForCausalLM model, ITextTokenizer tokenizer,
        IChatTemplate template, ITask task, ReinforceOptions options, ILogger? logger, ITrainablePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(task);

        // Every base weight is frozen: backward then allocates gradients for the policy's tensors only.
        foreach (var parameter in model.parameters()) parameter.requires_grad = false;
        foreach (var parameter in policy.Parameters) parameter.requires_grad = true;
        var adam = new AdamOptimizer(policy.Parameters.Cast<Tensor>().ToList());

        var train = task.GetItems(TaskSplit.Train);
        if (train.Count == 0)
        {
            adam.Dispose();
            throw new ArgumentException($"Task '{task.Name}' has no training items.", nameof(task));
        }
        var valid = task.GetItems(TaskSplit.Valid);
        valid = options.MaxValidationItems is { } cap ? valid.Take(cap).ToList() : valid;
        TrainingCheckpoint? checkpoint = null;
        if (options.OutputFolder is { } folder)
        {
            Directory.CreateDirectory(folder);
            checkpoint = new TrainingCheckpoint(folder, TrainingCheckpoint.FingerprintOf(model));
        }
        return (model, tokenizer, template, task, options, logger ?? NullLogger.Instance, policy, adam, train, valid, checkpoint);
    }

    /// <summary>The tensors being trained: the SVF vectors (an <see cref="SvfPolicy"/>), or the policy given to the constructor.</summary>
    public ITrainablePolicy Policy => _policy;

    /// <summary>
    /// Per-item inputs beyond the prompt text, such as images (<see cref="LlavaItemInputs"/>); <see langword="null"/> for text tasks.
    /// </summary>
    public IItemInputs? ItemInputs { get; init; }

    /// <summary>Runs the whole training and returns its result; progress is reported after each iteration.</summary>
    public async Task<TrainingResult> TrainAsync(IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        TrainingResult? result = null;
        await foreach (var step in RunAsync(r => result = r, cancellationToken).ConfigureAwait(false)) progress?.Report(step);
        return result!;
    }

    /// <summary>Runs training as a stream of per-iteration events; the final result is available from <see cref="TrainAsync"/>.</summary>
    public IAsyncEnumerable<TrainingProgress> RunAsync(CancellationToken cancellationToken = default) => RunAsync(null, cancellationToken);

    async IAsyncEnumerable<TrainingProgress> RunAsync(Action<TrainingResult>? onDone, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var history = new List<TrainingProgress>();
        int start = 0;
        double? bestAccuracy = null;
        int bestIteration = 0;
        int sinceBest = 0;
        List<KeyValuePair<string, Tensor>> best = _policy.Snapshot();

        if (_checkpoint?.TryLoad(_policy, _adam) is { } resumed)
        {
            start = resumed.Iteration;
            bestAccuracy = resumed.BestAccuracy;
            bestIteration = resumed.BestIteration;
            sinceBest = resumed.SinceBest;
            DisposeAll(best);
            best = resumed.BestVectors;
            history.AddRange(resumed.History);
            _logger.LogInformation("Resuming {Task} training at iteration {Iteration}", _task.Name, start);
        }
        else if (_options.ValidationInterval > 0 && _valid.Count > 0)
        {
            await System.Threading.Tasks.Task.Yield();
            double accuracy = Evaluate(_valid, cancellationToken);
            bestAccuracy = accuracy;
            var initial = new TrainingProgress(0, _options.Iterations, 0, 0, 0, 0, 0, 0, accuracy, true, clock.Elapsed, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);
            history.Add(initial);
            _checkpoint?.SaveBest(this, best, accuracy, 0);
            yield return initial;
        }

        int iteration = start;
        while (iteration < _options.Iterations)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await System.Threading.Tasks.Task.Yield();
            iteration++;
            var step = Iterate(iteration, cancellationToken);

            if (_options.ValidationInterval > 0 && _valid.Count > 0 && (iteration % _options.ValidationInterval == 0 || iteration == _options.Iterations))
            {
                double accuracy = Evaluate(_valid, cancellationToken);
                bool isBest = bestAccuracy is null || accuracy > bestAccuracy;   // strict, as the authors
                if (isBest)
                {
                    bestAccuracy = accuracy;
                    bestIteration = iteration;
                    sinceBest = 0;
                    DisposeAll(best);
                    best = _policy.Snapshot();
                    _checkpoint?.SaveBest(this, best, accuracy, iteration);
                }
                else
                {
                    sinceBest++;
                }
                step = step with { ValidationAccuracy = accuracy, IsBest = isBest };
            }
            else if (_options.ValidationInterval == 0)
            {
                DisposeAll(best);
                best = _policy.Snapshot();
                bestIteration = iteration;
            }

            step = step with { Elapsed = clock.Elapsed };
            history.Add(step);
            _logger.LogInformation(
                "{Task} iteration {Iteration}/{Iterations}: reward {Reward:F3}, accuracy {Accuracy:F3}, loss {Loss:G4}, KL {Kl:G4}, grad norm {GradNorm:G4}, lr {Lr:G3}, validation {Validation}",
                _task.Name, iteration, _options.Iterations, step.RewardMean, step.TrainAccuracy, step.Loss, step.Kl, step.GradNorm, step.LearningRate, step.ValidationAccuracy);
            _checkpoint?.SaveLatest(_policy, _adam, iteration, bestAccuracy, bestIteration, sinceBest, best, history);
            yield return step;

            if (_options.EarlyStoppingPatience is { } patience && sinceBest >= patience)
            {
                _logger.LogInformation("{Task}: no validation gain in {Patience} validations, stopping at iteration {Iteration}", _task.Name, patience, iteration);
                break;
            }
        }

        _checkpoint?.SavePlot(history);
        onDone?.Invoke(new TrainingResult(best, bestAccuracy, bestIteration, iteration, history));
    }

    /// <summary>One policy update; see the class remarks for the objective.</summary>
    TrainingProgress Iterate(int iteration, CancellationToken cancellationToken)
    {
        var generationClock = new Stopwatch();
        var gradientClock = new Stopwatch();
        var updateClock = new Stopwatch();
        var batch = SampleBatch(iteration);

        // Phase 1: rollouts with the current vectors (no gradient), then rewards over the whole batch.
        generationClock.Start();
        var rollouts = Rollout(batch, iteration, cancellationToken);
        generationClock.Stop();
        var rewards = PolicyGradient.ShapeRewards(rollouts.Select(r => r.Score.Reward).ToList(), _options.NormalizeRewards, _options.RewardClip);

        // Phase 2: Σ log π of each rollout under the adapted model, with gradient, one micro-batch at a time.
        gradientClock.Start();
        double lossTotal = 0, klTotal = 0;
        for (int start = 0; start < rollouts.Count; start += _options.MicroBatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = rollouts.Skip(start).Take(_options.MicroBatchSize).ToList();
            var chunkRewards = rewards.Skip(start).Take(chunk.Count).ToArray();
            (double loss, double kl) = Backpropagate(chunk, chunkRewards, rollouts.Count);
            lossTotal += loss;
            klTotal += kl;
        }
        gradientClock.Stop();

        updateClock.Start();
        double gradNorm = GlobalGradNorm();
        if (_options.MaxGradNorm is { } max && gradNorm > max)
        {
            using var noGrad = no_grad();
            double scale = max / (gradNorm + 1e-6);   // torch.nn.utils.clip_grad_norm_'s coefficient
            foreach (var p in _policy.Parameters) p.grad?.mul_(scale);
        }
        double lr = LearningRate(iteration);
        _adam.Update(lr);
        foreach (var p in _policy.Parameters) p.grad?.zero_();
        updateClock.Stop();

        return new TrainingProgress(
            iteration, _options.Iterations,
            rollouts.Average(r => r.Score.Reward),
            rollouts.Count(r => r.Score.Correct) / (double)rollouts.Count,
            lossTotal, klTotal / rollouts.Count, gradNorm, lr,
            null, false, TimeSpan.Zero, generationClock.Elapsed, gradientClock.Elapsed, updateClock.Elapsed);
    }

    sealed record RolloutSample(TaskItem Item, int[] Prompt, int[] Completion, TaskScore Score);

    List<RolloutSample> Rollout(IReadOnlyList<TaskItem> items, int iteration, CancellationToken cancellationToken)
    {
        var result = new List<RolloutSample>(items.Count);
        var options = GenerationOptions(iteration);
        var generator = new TextGenerator(_model, ids => _tokenizer.Decode(ids, skipSpecialTokens: true));
        for (int start = 0; start < items.Count; start += _options.MicroBatchSize)
        {
            var chunk = items.Skip(start).Take(_options.MicroBatchSize).ToList();
            var prompts = chunk.Select(EncodePrompt).ToList();
            IReadOnlyList<GenerationResult> generated;
            using (no_grad())
            using (var scope = NewDisposeScope())
            using (_policy.Activate(withGradient: false))
                generated = Generate(generator, chunk, prompts, options, cancellationToken);
            for (int i = 0; i < chunk.Count; i++)
            {
                var completion = generated[i].TokenIds.ToArray();
                string text = _tokenizer.Decode(completion, skipSpecialTokens: true);
                result.Add(new RolloutSample(chunk[i], prompts[i], completion, _task.Score(chunk[i], text)));
            }
        }
        return result;
    }

    (double Loss, double Kl) Backpropagate(IReadOnlyList<RolloutSample> chunk, double[] rewards, int batchSize)
    {
        using var scope = NewDisposeScope();
        var (ids, attention, completionMask) = Pack(chunk);
        Tensor logits;
        var items = chunk.Select(r => r.Item).ToList();
        using (_policy.Activate(withGradient: true)) logits = Forward(items, ids, attention);
        var sequenceLogProbs = PolicyGradient.MaskedSum(PolicyGradient.NextTokenLogProbs(logits, ids), completionMask);   // [b]
        var r = tensor(rewards.Select(x => (float)x).ToArray());
        var loss = -(sequenceLogProbs * r).sum() / batchSize;
        double klSum = 0;
        if (_options.KlCoefficient > 0)
        {
            Tensor referenceLogits;
            using (no_grad())
            using (_policy.ActivateBase())
                referenceLogits = Forward(items, ids, attention);
            var kl = PolicyGradient.MaskedSum(PolicyGradient.KlPerPosition(logits, referenceLogits, _options.KlDirection), completionMask);   // [b]
            loss = loss + kl.sum() * (_options.KlCoefficient / batchSize);
            klSum = kl.sum().item<float>();
        }
        loss.backward();
        return (loss.item<float>(), klSum);
    }

    /// <summary>Right-pads prompt + completion; the completion mask marks next-token positions that predict completion tokens.</summary>
    (Tensor Ids, Tensor Attention, Tensor CompletionMask) Pack(IReadOnlyList<RolloutSample> chunk)
    {
        int length = chunk.Max(r => r.Prompt.Length + r.Completion.Length);
        int pad = _tokenizer.PadId ?? 0;
        var ids = new long[chunk.Count * length];
        var attention = new long[chunk.Count * length];
        var completion = new float[chunk.Count * (length - 1)];
        for (int b = 0; b < chunk.Count; b++)
        {
            var r = chunk[b];
            for (int t = 0; t < length; t++)
            {
                int n = r.Prompt.Length + r.Completion.Length;
                ids[b * length + t] = t < r.Prompt.Length ? r.Prompt[t] : t < n ? r.Completion[t - r.Prompt.Length] : pad;
                attention[b * length + t] = t < n ? 1 : 0;
                // Position t predicts token t + 1: a completion token when promptLength ≤ t + 1 < n.
                if (t < length - 1 && t + 1 >= r.Prompt.Length && t + 1 < n) completion[b * (length - 1) + t] = 1;
            }
        }
        return (tensor(ids, new long[] { chunk.Count, length }), tensor(attention, new long[] { chunk.Count, length }),
            tensor(completion, new long[] { chunk.Count, length - 1 }));
    }

    /// <summary>Greedy accuracy of the current policy on <paramref name="items"/>.</summary>
    public double Evaluate(IReadOnlyList<TaskItem> items, CancellationToken cancellationToken = default)
    {
        if (items.Count == 0) return 0;
        var generator = new TextGenerator(_model, ids => _tokenizer.Decode(ids, skipSpecialTokens: true));
        var options = GenerationOptions(0) with { Temperature = 0, TopK = 0, TopP = 1 };
        int correct = 0;
        for (int start = 0; start < items.Count; start += _options.MicroBatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = items.Skip(start).Take(_options.MicroBatchSize).ToList();
            IReadOnlyList<GenerationResult> generated;
            using (no_grad())
            using (var scope = NewDisposeScope())
            using (_policy.Activate(withGradient: false))
                generated = Generate(generator, chunk, chunk.Select(EncodePrompt).ToList(), options, cancellationToken);
            for (int i = 0; i < chunk.Count; i++)
                if (_task.Score(chunk[i], _tokenizer.Decode(generated[i].TokenIds, skipSpecialTokens: true)).Correct) correct++;
        }
        return correct / (double)items.Count;
    }

    int[] EncodePrompt(TaskItem item)
    {
        var ids = _tokenizer.EncodePrompt(TaskPrompt.Render(_template, _task.BuildMessages(item)));
        return ItemInputs is null ? ids : ItemInputs.PreparePrompt(item, ids);
    }

    IReadOnlyList<GenerationResult> Generate(TextGenerator generator, IReadOnlyList<TaskItem> items, IReadOnlyList<int[]> prompts, GenerationOptions options, CancellationToken cancellationToken)
    {
        var batch = prompts.Select(p => (IReadOnlyList<int>)p).ToList();
        return ItemInputs is null
            ? generator.GenerateBatch(batch, options, cancellationToken)
            : generator.GenerateBatch(batch, options, ItemInputs.Embedder(items), cancellationToken);
    }

    Tensor Forward(IReadOnlyList<TaskItem> items, Tensor ids, Tensor attention) =>
        ItemInputs is null ? _model.Forward(ids, attention) : _model.ForwardFromEmbeddings(ItemInputs.Embedder(items)(ids), attention);

    GenerationOptions GenerationOptions(int iteration) => new()
    {
        MaxNewTokens = _options.MaxNewTokens ?? _task.Generation.MaxNewTokens,
        Temperature = _options.Temperature,
        Seed = _options.Seed * 1_000_003L + iteration,
        StopTokenIds = _tokenizer.EosIds.ToList(),
        StopStrings = _task.Generation.StopStrings,
    };

    /// <summary>The batch of iteration <paramref name="iteration"/>: drawn without replacement, reproducible from (seed, iteration).</summary>
    internal IReadOnlyList<TaskItem> SampleBatch(int iteration)
    {
        int size = Math.Min(_options.BatchSize, _train.Count);
        // Not HashCode.Combine: it is randomised per process, so the same seed would draw other batches in every run.
        var random = new Random(unchecked(_options.Seed * 1_000_003 + iteration));
        var indices = Enumerable.Range(0, _train.Count).ToArray();
        random.Shuffle(indices);
        return indices.Take(size).Select(i => _train[i]).ToList();
    }

    double LearningRate(int iteration) => _options.Schedule switch
    {
        LearningRateSchedule.Cosine => _options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * (iteration - 1) / Math.Max(1, _options.Iterations))),
        _ => _options.LearningRate,
    };

    double GlobalGradNorm()
    {
        using var scope = NewDisposeScope();
        double sum = 0;
        foreach (var p in _policy.Parameters)
        {
            if (p.grad is { } g) sum += g.to_type(ScalarType.Float64).pow(2).sum().item<double>();
        }
        return Math.Sqrt(sum);
    }

    internal ITask TaskDefinition => _task;

    internal ReinforceOptions Options => _options;

    static void DisposeAll(List<KeyValuePair<string, Tensor>> vectors)
    {
        foreach (var (_, v) in vectors) v.Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _adam.Dispose();
        if (_ownsPolicy) _policy.Dispose();
    }
}
