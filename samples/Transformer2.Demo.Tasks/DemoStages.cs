using System.Diagnostics;
using TorchSharp;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Models.Llama;
using Transformer2.Models.Tokenization;
using Transformer2.Training.NextToken;
using Transformer2.Training.Reinforce;
using Transformer2.Training.Tasks;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// The end-to-end stages behind the demo's subcommands: train the base model from scratch, train SVF experts on it.
/// Every stage is deterministic for a fixed seed and writes ordinary files (a Hugging Face model folder, expert files).
/// </summary>
public static class DemoStages
{
    /// <summary>The chat template everything is rendered with.</summary>
    public static IChatTemplate Template => Llama3ChatTemplate.Instruct;

    /// <summary>Names of the expert trained on the classification task.</summary>
    public const string ClassificationExpert = "cls";

    /// <summary>
    /// Learns a tokenizer on the pre-training mixture, trains a LLaMA of <paramref name="shape"/> from scratch by next-token
    /// prediction on it, and saves both as a Hugging Face folder (config.json, model.safetensors, tokenizer files).
    /// </summary>
    /// <param name="folder">Where the model folder is written.</param>
    /// <param name="suite">The data.</param>
    /// <param name="shape">The model's size.</param>
    /// <param name="options">Next-token settings; their seed draws the initial weights and the batch order.</param>
    /// <param name="progress">Milestones as text lines.</param>
    /// <param name="steps">Every optimizer step (for a progress bar).</param>
    /// <param name="cancellationToken">Stops training between steps.</param>
    public static async Task<NextTokenResult> TrainBaseAsync(string folder, DemoSuite suite, BaseModelShape shape, NextTokenOptions options,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default, IProgress<NextTokenProgress>? steps = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(folder);
        var mixture = suite.PretrainingMixture();
        var texts = mixture.GetItems(TaskSplit.Train).Select(item => TaskPrompt.Render(Template, mixture.BuildMessages(item)) + item.Reference);
        int vocab = ByteLevelBpeBuilder.Build(texts, shape.Merges, folder);
        var tokenizer = TokenizerLoader.FromPretrained(folder);
        progress?.Report($"tokenizer: {vocab} tokens ({shape.Merges} merges requested)");

        torch.manual_seed(options.Seed);
        using var model = new LlamaForCausalLM(shape.ToConfig(vocab, tokenizer.BosId, tokenizer.EosIds));
        long parameters = model.parameters().Sum(p => p.numel());
        progress?.Report($"model: {parameters:N0} parameters, {mixture.GetItems(TaskSplit.Train).Count} training sequences");
        model.train();
        using var trainer = new NextTokenTrainer(model, model.parameters(), tokenizer, Template, mixture, options);
        var clock = Stopwatch.StartNew();
        var result = await trainer.TrainAsync(new StepProgress<NextTokenProgress>(p =>
        {
            steps?.Report(p);
            // Per-step lines only when nobody draws a bar from the steps themselves.
            if (steps is null && (p.Step % 10 == 0 || p.Step == p.Steps || p.ValidationLoss is not null))
                progress?.Report($"step {p.Step}/{p.Steps} loss {p.Loss:F3}" + (p.ValidationLoss is { } v ? $" valid {v:F3}" : "") + $" ({clock.Elapsed:mm\\:ss})");
        }), cancellationToken).ConfigureAwait(false);
        model.eval();
        model.SavePretrained(folder);
        return result;
    }

    /// <summary>
    /// The LoRA baseline: loads <paramref name="folder"/>, trains LoRA adapters by next-token prediction on
    /// <paramref name="task"/>'s reference solutions, and returns the model with the adapters merged into its weights.
    /// </summary>
    public static async Task<(LlamaForCausalLM Model, ITextTokenizer Tokenizer, long TrainableParameters)> TrainLoraAsync(string folder, ITask task,
        Training.Lora.LoraConfig lora, NextTokenOptions options, CancellationToken cancellationToken = default, IProgress<NextTokenProgress>? steps = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return await WithMergedLoraAsync(folder, lora, options.Seed, async (model, tokenizer) =>
        {
            // Dropout draws from torch's global generator: seed it, or every run draws other masks.
            torch.manual_seed(options.Seed);
            var parameters = Training.Lora.LoraInjector.Parameters(model).Select(p => p.Value).ToList();
            using (var trainer = new NextTokenTrainer(model, parameters, tokenizer, Template, task, options))
                await trainer.TrainAsync(steps, cancellationToken).ConfigureAwait(false);
            return parameters.Sum(p => p.numel());
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Loads <paramref name="folder"/>, injects LoRA adapters, lets <paramref name="train"/> train them (it returns the
    /// trainable parameter count), then merges them into the weights; the model is disposed if anything fails.
    /// </summary>
    static async Task<(LlamaForCausalLM Model, ITextTokenizer Tokenizer, long TrainableParameters)> WithMergedLoraAsync(string folder,
        Training.Lora.LoraConfig lora, long seed, Func<LlamaForCausalLM, ITextTokenizer, Task<long>> train)
    {
        var model = LlamaForCausalLM.FromPretrained(folder);
        try
        {
            var tokenizer = TokenizerLoader.FromPretrained(folder);
            Training.Lora.LoraInjector.Inject(model, lora, seed);
            long count = await train(model, tokenizer).ConfigureAwait(false);
            Training.Lora.LoraInjector.MergeAndRemove(model);
            model.eval();
            return (model, tokenizer, count);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads a model folder with SVF layers on the default targets (the MLP projections), decomposed in memory.</summary>
    public static (LlamaForCausalLM Model, ITextTokenizer Tokenizer) LoadWithSvf(string folder, TargetSelector? targets = null)
    {
        var model = LlamaForCausalLM.FromPretrained(folder);
        var tokenizer = TokenizerLoader.FromPretrained(folder);
        model.eval();
        SvfInjector.InjectDecomposed(model, targets);
        return (model, tokenizer);
    }

    /// <summary>
    /// Trains one SVF expert by REINFORCE on <paramref name="task"/> and writes it to <c>&lt;expertsFolder&gt;/&lt;name&gt;.safetensors</c>;
    /// the learning curve (CSV, PNG) stays in <paramref name="workFolder"/>.
    /// </summary>
    public static async Task<TrainingResult> TrainExpertAsync(LlamaForCausalLM model, ITextTokenizer tokenizer, ITask task, string name,
        string expertsFolder, string workFolder, ReinforceOptions options, IProgress<string>? progress = null, CancellationToken cancellationToken = default,
        IProgress<TrainingProgress>? iterations = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        // A stale state.safetensors would make the trainer resume instead of starting afresh.
        if (Directory.Exists(workFolder)) Directory.Delete(workFolder, recursive: true);
        Directory.CreateDirectory(expertsFolder);
        using var trainer = new ReinforceTrainer(model, tokenizer, Template, task, options with { OutputFolder = workFolder, ExpertName = name });
        var clock = Stopwatch.StartNew();
        var result = await trainer.TrainAsync(new StepProgress<TrainingProgress>(p =>
        {
            iterations?.Report(p);
            if (iterations is null) progress?.Report($"{name} it {p.Iteration} reward {p.RewardMean:F2}" + (p.ValidationAccuracy is { } v ? $" valid acc {v:P0}" : "") + $" ({clock.Elapsed:mm\\:ss})");
        }), cancellationToken).ConfigureAwait(false);
        var saved = Path.Combine(workFolder, "expert.safetensors");
        if (!File.Exists(saved)) throw new InvalidOperationException($"Training '{name}' saved no expert in {workFolder}: enable validation so the best expert is kept.");
        File.Copy(saved, Path.Combine(expertsFolder, name + ".safetensors"), overwrite: true);
        return result;
    }

    /// <summary>
    /// The paper's "SVF, next-token prediction" ablation (Table 4): a fresh SVF policy on <paramref name="model"/>'s SVF layers,
    /// trained by next-token prediction on <paramref name="task"/>'s reference answers instead of by REINFORCE, and written as
    /// <c>&lt;expertsFolder&gt;/&lt;name&gt;.safetensors</c>. The vectors start from the same distribution as a REINFORCE expert's.
    /// </summary>
    /// <param name="model">A model with SVF layers (see <see cref="LoadWithSvf"/>).</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="task">Items with reference answers.</param>
    /// <param name="name">The expert's name.</param>
    /// <param name="expertsFolder">Where the expert is written.</param>
    /// <param name="expert">The REINFORCE settings this ablation mirrors (parameterisation, base model identity).</param>
    /// <param name="options">Next-token settings (budget, learning rate, seed).</param>
    /// <param name="steps">Every optimizer step.</param>
    /// <param name="cancellationToken">Stops training between steps.</param>
    public static async Task<NextTokenResult> TrainSvfNextTokenAsync(LlamaForCausalLM model, ITextTokenizer tokenizer, ITask task, string name,
        string expertsFolder, ReinforceOptions expert, NextTokenOptions options, IProgress<NextTokenProgress>? steps = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(expert);
        ArgumentNullException.ThrowIfNull(options);
        var layers = SvfInjector.Find(model);
        if (layers.Count == 0) throw new ArgumentException("The model has no SVF layers: load it with LoadWithSvf.", nameof(model));
        using var policy = new SvfPolicy(layers.Select(l => new KeyValuePair<string, long>(l.Key, l.Value.Rank)), expert.Parameterization, options.Seed);
        NextTokenResult result;
        using (var trainer = new NextTokenTrainer(model, policy, tokenizer, Template, task, options))
            result = await trainer.TrainAsync(steps, cancellationToken).ConfigureAwait(false);
        var vectors = policy.Snapshot();
        try
        {
            var metadata = new Core.Experts.ExpertMetadata
            {
                Name = name,
                BaseModelIdentity = expert.BaseModelIdentity,
                Targets = vectors.Select(v => v.Key).ToList(),
                Parameterization = policy.Parameterization,
                Provenance = new Dictionary<string, string>
                {
                    ["trainer"] = "next-token",
                    ["task"] = task.Name,
                    ["step"] = result.BestStep.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["seed"] = options.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["learning_rate"] = options.LearningRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                },
            };
            Directory.CreateDirectory(expertsFolder);
            using var saved = new Core.Experts.Expert(metadata, vectors);
            Core.Experts.ExpertFile.Save(saved, Path.Combine(expertsFolder, name + ".safetensors"));
        }
        finally
        {
            foreach (var (_, vector) in vectors) vector.Dispose();
        }
        return result;
    }

    /// <summary>
    /// LoRA trained by policy gradient (the paper's Table 4 row 5 and Fig. 9): loads <paramref name="folder"/>, injects LoRA adapters,
    /// trains them by the same REINFORCE as the SVF experts, and returns the model with the best-on-validation adapters merged.
    /// </summary>
    /// <param name="folder">The base model folder.</param>
    /// <param name="task">The task: items, prompts and reward.</param>
    /// <param name="lora">Adapter shape.</param>
    /// <param name="options">REINFORCE settings (budget, learning rate, seed); validation must be on for the best adapters to be kept.</param>
    /// <param name="iterations">Every iteration.</param>
    /// <param name="cancellationToken">Stops training between iterations.</param>
    public static async Task<(LlamaForCausalLM Model, ITextTokenizer Tokenizer, long TrainableParameters)> TrainLoraReinforceAsync(string folder, ITask task,
        Training.Lora.LoraConfig lora, ReinforceOptions options, IProgress<TrainingProgress>? iterations = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return await WithMergedLoraAsync(folder, lora, options.Seed, async (model, tokenizer) =>
        {
            // Eval mode: no dropout, so the rollouts' log-probabilities are the ones the gradient is taken of.
            model.eval();
            using var policy = new Training.Lora.LoraPolicy(model, lora);
            using var trainer = new ReinforceTrainer(model, policy, tokenizer, Template, task, options with { OutputFolder = null });
            var result = await trainer.TrainAsync(iterations, cancellationToken).ConfigureAwait(false);
            try
            {
                policy.Load(result.BestVectors.ToDictionary(v => v.Key, v => v.Value));
            }
            finally
            {
                foreach (var (_, tensor) in result.BestVectors) tensor.Dispose();
            }
            return policy.ParameterCount;
        }).ConfigureAwait(false);
    }
}
