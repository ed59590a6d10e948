using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp.Modules;
using Transformer2.Core.IO;
using Transformer2.Models.Chat;
using Transformer2.Models.Llama;
using Transformer2.Models.Tokenization;
using Transformer2.Training.Reinforce;
using Transformer2.Training.Tasks;
using static TorchSharp.torch;

namespace Transformer2.Training.NextToken;

/// <summary>
/// Supervised next-token training on reference solutions (the paper's "next-token prediction" objective, Table 4 rows 4, 6, 7):
/// each training sequence is the task's prompt followed by the item's reference solution, and the loss is the mean
/// cross-entropy over the solution tokens only (the prompt is context, never a target).
/// </summary>
/// <remarks>
/// Trains any given set of parameters — LoRA adapters (<see cref="Lora.LoraInjector.Parameters"/>), or every weight of a small
/// model — with Adam/AdamW, global gradient clipping, padded micro-batches with gradient accumulation, validation loss, and the
/// best parameters restored at the end. Every other parameter of the model is frozen. The prompt and solution are tokenised
/// separately, so the solution's first token never merges with the prompt's last one. Dropout (e.g. LoRA's) is active during
/// updates only; the model's train/eval mode is restored afterwards.
/// </remarks>
public sealed class NextTokenTrainer : IDisposable
{
    readonly LlamaForCausalLM _model;
    readonly ITextTokenizer _tokenizer;
    readonly ITask _task;
    readonly NextTokenOptions _options;
    readonly ILogger _logger;
    readonly IReadOnlyList<Parameter> _parameters;
    readonly ITrainablePolicy? _policy;
    readonly AdamOptimizer _adam;
    readonly IReadOnlyList<Example> _train;
    readonly IReadOnlyList<Example> _valid;

    internal sealed record Example(string Id, int[] Prompt, int[] Solution);

    /// <summary>
    /// Prepares a run that trains a policy's tensors — e.g. SVF vectors (<see cref="SvfPolicy"/>, the paper's "SVF, next-token
    /// prediction" ablation) or LoRA adapters (<see cref="Lora.LoraPolicy"/>) — with the model's forwards inside its activation scope.
    /// The caller keeps ownership of the policy.
    /// </summary>
    public NextTokenTrainer(LlamaForCausalLM model, ITrainablePolicy policy, ITextTokenizer tokenizer, IChatTemplate template, ITask task,
        NextTokenOptions? options = null, ILogger? logger = null)
        : this(model, (policy ?? throw new ArgumentNullException(nameof(policy))).Parameters, tokenizer, template, task, options, logger)
    {
        _policy = policy;
    }

    /// <summary>Prepares a run; throws if there is nothing to train or no training item has a reference solution.</summary>
    /// <param name="model">The model.</param>
    /// <param name="parameters">The tensors to train (leaves of the model); all other model parameters are frozen.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="template">The chat template prompts are rendered with.</param>
    /// <param name="task">Items (with <see cref="TaskItem.References"/>[0] as the solution text) and their prompts.</param>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="logger">Optional logger for metrics.</param>
    public NextTokenTrainer(LlamaForCausalLM model, IEnumerable<Parameter> parameters, ITextTokenizer tokenizer, IChatTemplate template, ITask task,
        NextTokenOptions? options = null, ILogger? logger = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        ArgumentNullException.ThrowIfNull(parameters);
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        ArgumentNullException.ThrowIfNull(template);
        _task = task ?? throw new ArgumentNullException(nameof(task));
        _options = options ?? new NextTokenOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;

        _parameters = parameters.ToList();
        if (_parameters.Count == 0) throw new ArgumentException("Nothing to train: the parameter list is empty (did you inject LoRA layers?).", nameof(parameters));
        foreach (var p in _parameters)
            if (!p.is_floating_point()) throw new ArgumentException($"Cannot train a {p.dtype} tensor; trainable parameters must be floating point.", nameof(parameters));
        // Freeze everything, then unfreeze the chosen tensors: backward allocates gradients for those only.
        foreach (var p in model.parameters()) p.requires_grad = false;
        foreach (var p in _parameters) p.requires_grad = true;
        _adam = new AdamOptimizer(_parameters.Cast<Tensor>().ToList(), weightDecay: _options.WeightDecay);

        _train = Encode(template, TaskSplit.Train);
        if (_train.Count == 0) throw new ArgumentException($"Task '{task.Name}' has no training item with a reference solution.", nameof(task));
        _valid = Encode(template, TaskSplit.Valid);
    }

    /// <summary>The tensors being trained.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>Number of optimizer steps the run will take.</summary>
    public int TotalSteps
    {
        get
        {
            int perEpoch = (_train.Count + BatchSize - 1) / BatchSize;
            int steps = perEpoch * _options.Epochs;
            return _options.MaxSteps is { } max ? Math.Min(max, steps) : steps;
        }
    }

    int BatchSize => Math.Min(_options.BatchSize, _train.Count);

    /// <summary>Runs the whole training and returns its result; progress is reported after each step.</summary>
    public async Task<NextTokenResult> TrainAsync(IProgress<NextTokenProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        NextTokenResult? result = null;
        await foreach (var step in RunAsync(r => result = r, cancellationToken).ConfigureAwait(false)) progress?.Report(step);
        return result!;
    }

    /// <summary>Runs training as a stream of per-step events.</summary>
    public IAsyncEnumerable<NextTokenProgress> RunAsync(CancellationToken cancellationToken = default) => RunAsync(null, cancellationToken);

    async IAsyncEnumerable<NextTokenProgress> RunAsync(Action<NextTokenResult>? onDone, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        bool wasTraining = _model.training;
        var history = new List<NextTokenProgress>();
        int total = TotalSteps;
        bool validate = _options.ValidationInterval > 0 && _valid.Count > 0;
        double? bestLoss = null;
        int bestStep = 0, step = 0;
        List<Tensor>? best = null;
        try
        {
            if (validate)
            {
                await System.Threading.Tasks.Task.Yield();
                bestLoss = ValidationLoss(cancellationToken);
                best = Snapshot();
                var initial = new NextTokenProgress(0, total, 0, 0, 0, 0, 0, bestLoss, true, clock.Elapsed);
                history.Add(initial);
                yield return initial;
            }

            for (int epoch = 1; epoch <= _options.Epochs && step < total; epoch++)
            {
                var order = Shuffled(epoch);
                for (int start = 0; start < order.Count && step < total; start += BatchSize)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await System.Threading.Tasks.Task.Yield();
                    step++;
                    var batch = order.Skip(start).Take(BatchSize).ToList();
                    var record = Update(batch, step, total, epoch, cancellationToken);
                    if (validate && (step % _options.ValidationInterval == 0 || step == total))
                    {
                        double loss = ValidationLoss(cancellationToken);
                        bool isBest = loss < bestLoss;
                        if (isBest)
                        {
                            bestLoss = loss;
                            bestStep = step;
                            DisposeAll(best);
                            best = Snapshot();
                        }
                        record = record with { ValidationLoss = loss, IsBest = isBest };
                    }
                    record = record with { Elapsed = clock.Elapsed };
                    history.Add(record);
                    _logger.LogInformation("{Task} next-token step {Step}/{Steps} (epoch {Epoch}): loss {Loss:G4} over {Tokens} tokens, grad norm {GradNorm:G4}, lr {Lr:G3}, validation {Validation}",
                        _task.Name, step, total, epoch, record.Loss, record.Tokens, record.GradNorm, record.LearningRate, record.ValidationLoss);
                    if (_options.OutputFolder is { } folder)
                    {
                        Directory.CreateDirectory(folder);
                        AtomicFile.WriteAllText(Path.Combine(folder, "learning_curve.csv"), NextTokenCurve.ToCsv(history));
                    }
                    yield return record;
                }
            }

            if (best is not null && _options.RestoreBest)
            {
                using var noGrad = no_grad();
                for (int i = 0; i < _parameters.Count; i++) _parameters[i].copy_(best[i]);
            }
            else if (!validate)
            {
                bestStep = step;
            }
        }
        finally
        {
            DisposeAll(best);
            _model.train(wasTraining);
        }
        onDone?.Invoke(new NextTokenResult(bestLoss, bestStep, step, history));
    }

    NextTokenProgress Update(IReadOnlyList<Example> batch, int step, int total, int epoch, CancellationToken cancellationToken)
    {
        _model.train();
        long tokens = batch.Sum(e => (long)e.Solution.Length);
        double lossSum = 0;
        foreach (var chunk in MicroBatches(batch, _options))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var negativeLogLikelihood = SolutionNegativeLogLikelihood(chunk);   // summed over the chunk's solution tokens
            (negativeLogLikelihood / tokens).backward();
            lossSum += negativeLogLikelihood.item<float>();
        }

        double gradNorm = GlobalGradNorm();
        if (_options.MaxGradNorm is { } max && gradNorm > max)
        {
            using var noGrad = no_grad();
            double scale = max / (gradNorm + 1e-6);   // torch.nn.utils.clip_grad_norm_'s coefficient
            foreach (var p in _parameters) p.grad?.mul_(scale);
        }
        double lr = LearningRate(step, total);
        _adam.Update(lr);
        foreach (var p in _parameters) p.grad?.zero_();
        return new NextTokenProgress(step, total, epoch, lossSum / tokens, tokens, gradNorm, lr, null, false, TimeSpan.Zero);
    }

    /// <summary>Mean cross-entropy per solution token of the validation split, in eval mode without gradients.</summary>
    public double ValidationLoss(CancellationToken cancellationToken = default) => Loss(_valid, cancellationToken);

    double Loss(IReadOnlyList<Example> examples, CancellationToken cancellationToken)
    {
        if (examples.Count == 0) return double.NaN;
        bool wasTraining = _model.training;
        _model.eval();
        try
        {
            double sum = 0;
            long tokens = 0;
            using var noGrad = no_grad();
            foreach (var chunk in MicroBatches(examples, _options))
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                sum += SolutionNegativeLogLikelihood(chunk).item<float>();
                tokens += chunk.Sum(e => (long)e.Solution.Length);
            }
            return sum / tokens;
        }
        finally
        {
            _model.train(wasTraining);
        }
    }

    /// <summary>−Σ log π(solution token | prompt, earlier solution tokens) over a chunk, a scalar.</summary>
    Tensor SolutionNegativeLogLikelihood(IReadOnlyList<Example> chunk)
    {
        using var scope = NewDisposeScope();
        var (ids, attention, solutionMask) = Pack(chunk, _tokenizer.PadId ?? 0);
        Tensor logits;
        using (_policy?.Activate(withGradient: is_grad_enabled())) logits = _model.Forward(ids, attention);
        var logProbs = PolicyGradient.NextTokenLogProbs(logits, ids);   // [b, T−1]
        return (-PolicyGradient.MaskedSum(logProbs, solutionMask).sum()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Splits examples into micro-batches of at most <see cref="NextTokenOptions.MicroBatchSize"/> sequences and, when
    /// <see cref="NextTokenOptions.MicroBatchTokens"/> is set, at most that many padded tokens, packing the length-sorted examples greedily.
    /// </summary>
    internal static IEnumerable<IReadOnlyList<Example>> MicroBatches(IReadOnlyList<Example> examples, NextTokenOptions options)
    {
        static int Length(Example e) => e.Prompt.Length + e.Solution.Length;
        if (options.MicroBatchTokens is not { } budget)
        {
            for (int start = 0; start < examples.Count; start += options.MicroBatchSize)
                yield return examples.Skip(start).Take(options.MicroBatchSize).ToList();
            yield break;
        }
        var chunk = new List<Example>();
        // Ascending length: the example being added is the chunk's longest, so the padded size is count × its length.
        foreach (var e in examples.OrderBy(Length))
        {
            if (chunk.Count > 0 && (chunk.Count == options.MicroBatchSize || (long)(chunk.Count + 1) * Length(e) > budget))
            {
                yield return chunk;
                chunk = [];
            }
            chunk.Add(e);
        }
        if (chunk.Count > 0) yield return chunk;
    }

    /// <summary>Right-pads prompt + solution; the mask marks next-token positions whose target is a solution token.</summary>
    internal static (Tensor Ids, Tensor Attention, Tensor SolutionMask) Pack(IReadOnlyList<Example> chunk, int pad)
    {
        int length = chunk.Max(e => e.Prompt.Length + e.Solution.Length);
        var ids = new long[chunk.Count * length];
        var attention = new long[chunk.Count * length];
        var solution = new float[chunk.Count * (length - 1)];
        for (int b = 0; b < chunk.Count; b++)
        {
            var e = chunk[b];
            int n = e.Prompt.Length + e.Solution.Length;
            for (int t = 0; t < length; t++)
            {
                ids[b * length + t] = t < e.Prompt.Length ? e.Prompt[t] : t < n ? e.Solution[t - e.Prompt.Length] : pad;
                attention[b * length + t] = t < n ? 1 : 0;
                // Position t predicts token t + 1: a solution token when promptLength ≤ t + 1 < n.
                if (t < length - 1 && t + 1 >= e.Prompt.Length && t + 1 < n) solution[b * (length - 1) + t] = 1;
            }
        }
        return (tensor(ids, new long[] { chunk.Count, length }), tensor(attention, new long[] { chunk.Count, length }),
            tensor(solution, new long[] { chunk.Count, length - 1 }));
    }

    List<Example> Encode(IChatTemplate template, TaskSplit split)
    {
        var result = new List<Example>();
        int skipped = 0;
        foreach (var item in _task.GetItems(split))
        {
            if (item.Reference is not { } reference) { skipped++; continue; }
            var prompt = _tokenizer.EncodePrompt(TaskPrompt.Render(template, _task.BuildMessages(item)));
            var solution = _tokenizer.Encode(reference, addBos: false).ToList();
            if (_options.AppendEos && _tokenizer.EosIds.Count > 0) solution.Add(_tokenizer.EosIds[0]);
            if (_options.MaxSequenceLength is { } max && prompt.Length + solution.Count > max)
                solution = solution.Take(Math.Max(0, max - prompt.Length)).ToList();
            if (prompt.Length == 0 || solution.Count == 0) { skipped++; continue; }
            result.Add(new Example(item.Id, prompt, solution.ToArray()));
        }
        if (skipped > 0)
            _logger.LogWarning("{Task} {Split}: {Skipped} items skipped (no reference solution, empty prompt, or no room for the solution within MaxSequenceLength)", _task.Name, split, skipped);
        return result;
    }

    internal List<Example> Shuffled(int epoch)
    {
        var order = _train.ToArray();
        // Not HashCode.Combine: it is randomised per process, so the same seed would give another order in every run.
        new Random(unchecked(_options.Seed * 1_000_003 + epoch)).Shuffle(order);
        return order.ToList();
    }

    double LearningRate(int step, int total) => _options.Schedule switch
    {
        LearningRateSchedule.Cosine => _options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * (step - 1) / Math.Max(1, total))),
        _ => _options.LearningRate,
    };

    double GlobalGradNorm()
    {
        using var scope = NewDisposeScope();
        double sum = 0;
        foreach (var p in _parameters)
            if (p.grad is { } g) sum += g.to_type(ScalarType.Float64).pow(2).sum().item<double>();
        return Math.Sqrt(sum);
    }

    List<Tensor> Snapshot()
    {
        using var noGrad = no_grad();
        return _parameters.Select(p => p.detach().clone().DetachFromDisposeScope()).ToList();
    }

    static void DisposeAll(List<Tensor>? tensors)
    {
        if (tensors is null) return;
        foreach (var t in tensors) t.Dispose();
    }

    internal IReadOnlyList<Example> TrainExamples => _train;

    /// <inheritdoc />
    public void Dispose() => _adam.Dispose();
}
