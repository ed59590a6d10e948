using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Transformer2.Adaptation.Dispatch;
using Transformer2.Adaptation.Experts;
using Transformer2.Adaptation.Search;
using Transformer2.Core.Experts;
using Transformer2.Core.Quantization;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Models.Generation;
using Transformer2.Models.Llama;
using Transformer2.Models.Llava;
using Transformer2.Models.Tokenization;
using static TorchSharp.torch;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>
/// Composes a <see cref="TransformerSquared"/>: backbone, decomposition cache, experts, dispatch strategy, how experts
/// are applied, and generation defaults.
/// </summary>
/// <example>
/// <code>
/// await using var t2 = await new TransformerSquaredBuilder()
///     .UseModelFolder("models/Meta-Llama-3-8B-Instruct", ScalarType.BFloat16)
///     .UseDecompositionCache("cache/llama3-8b-mlp.svd.safetensors")
///     .AddExpertsFromFolder("experts/")
///     .UsePromptDispatch(c => c.Add("math", "gsm8k").Add("code", "mbpp").Add("reasoning", "arc"))
///     .BuildAsync();
/// var result = await t2.AnswerAsync([ChatMessage.User("What is 17 * 23?")]);
/// </code>
/// A LLaVA folder (<c>model_type</c> <c>llava</c> or <c>llava_next</c>) loads the vision tower and the image processor as
/// well, and requests may then carry images (<see cref="ChatMessage.Images"/>); see also <see cref="UseLlava"/>.
/// </example>
public sealed class TransformerSquaredBuilder
{
    string? _folder;
    ScalarType _dtype = ScalarType.Float32;
    Device? _device;
    LlamaForCausalLM? _model;
    LlavaForConditionalGeneration? _llava;
    LlavaImageProcessor? _processor;
    ITextTokenizer? _tokenizer;
    IChatTemplate? _template;
    string? _identity;
    TargetSelector _targets = TargetSelector.Default;
    string? _cachePath;
    FactorStorage _factorStorage = FactorStorage.Float32;
    readonly List<Action<ExpertRegistry>> _experts = [];
    Func<IDispatchStrategy>? _strategy;
    ExpertApplicationMode _mode = ExpertApplicationMode.Factored;
    SvfWeightStorage _storage = SvfWeightStorage.Dense;
    WeightQuantization _quantization = WeightQuantization.None;
    long _mergedBudget = 2L << 30;
    MixtureSemantics _semantics = MixtureSemantics.Multipliers;
    GenerationOptions _generation = new() { MaxNewTokens = 512 };
    ILoggerFactory _loggers = NullLoggerFactory.Instance;
    (Microsoft.Extensions.AI.IChatClient Client, RemoteSecondPassOptions Options)? _remote;
    (Microsoft.Extensions.AI.IChatClient Client, string Model)? _remoteFirst;

    /// <summary>
    /// Loads the backbone from a Hugging Face folder (config.json, safetensors, tokenizer files) when built. A LLaVA folder
    /// (<c>model_type</c> <c>llava</c> or <c>llava_next</c>, with <c>preprocessor_config.json</c>) gives a backbone that takes images.
    /// </summary>
    public TransformerSquaredBuilder UseModelFolder(string folder, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        _folder = folder;
        _dtype = dtype;
        _device = device;
        _model = null;
        _llava = null;
        _processor = null;
        return this;
    }

    /// <summary>Uses an already loaded model. Without SVF layers, they are injected at build time (needs a decomposition).</summary>
    public TransformerSquaredBuilder UseModel(LlamaForCausalLM model, ITextTokenizer tokenizer, IChatTemplate? template = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _template = template;
        _folder = null;
        _llava = null;
        _processor = null;
        return this;
    }

    /// <summary>
    /// Uses an already loaded LLaVA model (LLaVA-1.5 or LLaVA-NeXT): requests may carry images, which
    /// <paramref name="processor"/> preprocesses; SVF experts adapt its language model. Without SVF layers they are injected
    /// at build time. The template defaults to Llama-3 Instruct when the tokenizer is Llama-3's (Llama3-LLaVA-NeXT); other
    /// LLaVA checkpoints need one given here or with <see cref="UseChatTemplate"/>.
    /// </summary>
    public TransformerSquaredBuilder UseLlava(LlavaForConditionalGeneration model, LlavaImageProcessor processor, ITextTokenizer tokenizer, IChatTemplate? template = null)
    {
        _llava = model ?? throw new ArgumentNullException(nameof(model));
        _processor = processor ?? throw new ArgumentNullException(nameof(processor));
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _template = template;
        _model = null;
        _folder = null;
        return this;
    }

    /// <summary>Overrides the chat template (default: from the model type — Llama-3 Instruct, or Mistral Instruct).</summary>
    public TransformerSquaredBuilder UseChatTemplate(IChatTemplate template)
    {
        _template = template ?? throw new ArgumentNullException(nameof(template));
        return this;
    }

    /// <summary>The identity experts must have been trained on (default: the model folder's name).</summary>
    public TransformerSquaredBuilder UseModelIdentity(string identity)
    {
        ArgumentException.ThrowIfNullOrEmpty(identity);
        _identity = identity;
        return this;
    }

    /// <summary>Which matrices SVF adapts (default: the MLP projections, as the authors).</summary>
    public TransformerSquaredBuilder UseTargets(TargetSelector targets)
    {
        _targets = targets ?? throw new ArgumentNullException(nameof(targets));
        return this;
    }

    /// <summary>Stores the SVD of the targets at <paramref name="path"/>, or reuses it when it matches the model (strongly advised for real models: it takes hours on a CPU).</summary>
    /// <param name="path">The cache file.</param>
    /// <param name="storage">
    /// The dtype of U and V when the cache is built: <see cref="FactorStorage.WeightDType"/> halves the file of a bf16
    /// model (rounding documented on the value); an existing cache is used whatever it holds.
    /// </param>
    public TransformerSquaredBuilder UseDecompositionCache(string path, FactorStorage storage = FactorStorage.Float32)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!Enum.IsDefined(storage)) throw new ArgumentOutOfRangeException(nameof(storage), storage, "Unknown factor storage.");
        _cachePath = path;
        _factorStorage = storage;
        return this;
    }

    /// <summary>Registers an expert file.</summary>
    public TransformerSquaredBuilder AddExpert(string path, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _experts.Add(r => r.RegisterFile(path, name));
        return this;
    }

    /// <summary>Registers an expert already in memory; the pipeline takes ownership.</summary>
    public TransformerSquaredBuilder AddExpert(Expert expert, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(expert);
        _experts.Add(r => r.Register(expert, name));
        return this;
    }

    /// <summary>Registers every <c>*.safetensors</c> expert in a folder.</summary>
    public TransformerSquaredBuilder AddExpertsFromFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        _experts.Add(r => r.RegisterFolder(folder));
        return this;
    }

    /// <summary>First pass: the model classifies the prompt; each category maps to an expert.</summary>
    public TransformerSquaredBuilder UsePromptDispatch(Action<CategoryList> categories, int maxFirstPassTokens = 128)
    {
        var list = Categories(categories);
        _strategy = () => new PromptDispatchStrategy(list, null, maxFirstPassTokens, _remoteFirst?.Client, _remoteFirst?.Model);
        return this;
    }

    /// <summary>First pass: like prompt dispatch, with a classification expert applied while classifying.</summary>
    public TransformerSquaredBuilder UseClassificationExpert(string classificationExpert, Action<CategoryList> categories, int maxFirstPassTokens = 128)
    {
        ArgumentException.ThrowIfNullOrEmpty(classificationExpert);
        var list = Categories(categories);
        _strategy = () => new PromptDispatchStrategy(list, classificationExpert, maxFirstPassTokens);
        return this;
    }

    /// <summary>First pass: a cached mixture per task, found by few-shot search over the experts' mixing weights.</summary>
    /// <param name="experts">The experts whose mixing weights are searched.</param>
    /// <param name="configure">Registers tasks (<see cref="FewShotStrategy.AddTask"/>) and their shots.</param>
    /// <param name="search">CEM settings; the authors' by default.</param>
    /// <param name="perMatrixWeights">One weight per expert and matrix instead of one per expert.</param>
    /// <param name="randomShooting">Random shooting instead of CEM (the paper's ablation).</param>
    /// <param name="fallback">Decides requests without a known task key (for example prompt dispatch); null answers them with the base model.</param>
    public TransformerSquaredBuilder UseFewShotDispatch(IReadOnlyList<string> experts, Action<FewShotStrategy>? configure = null, SearchOptions? search = null,
        bool perMatrixWeights = false, bool randomShooting = false, IDispatchStrategy? fallback = null)
    {
        ArgumentNullException.ThrowIfNull(experts);
        _strategy = () =>
        {
            var strategy = new FewShotStrategy(experts, search, perMatrixWeights, randomShooting, fallback);
            configure?.Invoke(strategy);
            return strategy;
        };
        return this;
    }

    /// <summary>No first pass: every request uses <paramref name="plan"/> (for example one expert, or a fixed mixture).</summary>
    public TransformerSquaredBuilder UseFixedPlan(AdaptationPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        _strategy = () => new FixedPlanStrategy(plan);
        return this;
    }

    /// <summary>Any strategy, including your own.</summary>
    public TransformerSquaredBuilder UseStrategy(IDispatchStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        _strategy = () => strategy;
        return this;
    }

    /// <summary>Per-request multipliers on the factored path: no shared weight is touched (the default).</summary>
    public TransformerSquaredBuilder UseFactoredExperts()
    {
        _mode = ExpertApplicationMode.Factored;
        return this;
    }

    /// <summary>
    /// Drops the dense weight of every adapted matrix and keeps only its SVD factors (see <see cref="SvfLinear.DropDenseWeight"/>).
    /// </summary>
    /// <remarks>
    /// Memory becomes the other weights plus the factors: ≈ 1.29× each adapted 4096×14336 matrix instead of 2.29× with the
    /// dense weight kept, which is what lets an 8B model with its MLP adapted fit in 24 GB (docs/models.md). The price:
    /// every forward — also of the base model (z = 1) — reads U and V instead of W, two thinner GEMMs per adapted matrix,
    /// and experts cannot be merged (it implies and requires <see cref="UseFactoredExperts"/>). An expert switch is a
    /// vector swap. Each dense weight is freed as soon as its layer is swapped, so peak memory stays near the model's size.
    /// </remarks>
    public TransformerSquaredBuilder UseFactoredOnlyLayers()
    {
        _storage = SvfWeightStorage.FactoredOnly;
        return this;
    }

    /// <summary>
    /// Stores every frozen projection that SVF does not adapt (with the default targets: attention and the LM head) as
    /// int8 blocks, llama.cpp's Q8_0 layout (see <see cref="Q8Linear"/>), after the SVF layers are in place.
    /// </summary>
    /// <remarks>
    /// Those weights then take 1.125 bytes each instead of 4 (F32) or 2 (BF16), and batch-1 decoding reads them directly;
    /// the adapted matrices, their SVD factors and the experts stay in the working dtype, so experts apply exactly as
    /// on the unquantized model. With <see cref="UseFactoredOnlyLayers"/> as well, the model holds the least: the adapted
    /// matrices only as factors, everything else frozen as int8. A model passed to <see cref="UseModel"/> or
    /// <see cref="UseLlava"/> is quantized in place and for good: its dense projection weights are freed, and it can no
    /// longer be saved as a checkpoint.
    /// </remarks>
    public TransformerSquaredBuilder UseInt8Weights()
    {
        _quantization = WeightQuantization.Int8;
        return this;
    }

    /// <summary>Merged weights, composed once per expert or mixture and cached within <paramref name="budgetBytes"/>.</summary>
    public TransformerSquaredBuilder UseMergedExperts(long budgetBytes = 2L << 30)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(budgetBytes);
        _mode = ExpertApplicationMode.Merged;
        _mergedBudget = budgetBytes;
        return this;
    }

    /// <summary>What a mixture of experts adds up (default: the paper's multipliers).</summary>
    public TransformerSquaredBuilder UseMixtureSemantics(MixtureSemantics semantics)
    {
        _semantics = semantics;
        return this;
    }

    /// <summary>Generation defaults for the second pass.</summary>
    public TransformerSquaredBuilder ConfigureGeneration(Func<GenerationOptions, GenerationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _generation = configure(_generation);
        _generation.Validate();
        return this;
    }

    /// <summary>
    /// Sends the second pass to <paramref name="client"/> (for example an OpenAI-compatible vLLM or llama.cpp endpoint
    /// serving the experts as exported adapters), naming the chosen expert's remote model in <c>ChatOptions.ModelId</c>;
    /// the first pass runs here unless <see cref="UseRemoteFirstPass"/> sends it too. Names default to the expert's own (see <see cref="RemoteSecondPassOptions"/>); a
    /// mixture needs an exported model listed in <see cref="RemoteSecondPassOptions.MixtureModels"/>, or its requests fail.
    /// The names are checked against the registered experts when built. The pipeline does not own the client.
    /// </summary>
    public TransformerSquaredBuilder UseRemoteSecondPass(Microsoft.Extensions.AI.IChatClient client, Action<RemoteSecondPassOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        var options = new RemoteSecondPassOptions();
        configure?.Invoke(options);
        _remote = (client, options);
        return this;
    }

    /// <summary>
    /// Sends prompt dispatch's classification (the first pass) to <paramref name="client"/>, asking for
    /// <paramref name="model"/> (for example the base model of an OpenAI-compatible server): the same classification
    /// prompt, greedy, the same token limit, the same label extraction; the chosen expert still applies to the second pass
    /// here, unless <see cref="UseRemoteSecondPass"/> sends that too. Only <see cref="UsePromptDispatch"/> runs remotely:
    /// a classification expert and few-shot search need the local weights, and building refuses them with a remote first
    /// pass. The pipeline does not own the client.
    /// </summary>
    public TransformerSquaredBuilder UseRemoteFirstPass(Microsoft.Extensions.AI.IChatClient client, string model = "base")
    {
        ArgumentNullException.ThrowIfNull(client);
        if (string.IsNullOrWhiteSpace(model)) throw new ArgumentException("The remote first pass needs the remote model's name.", nameof(model));
        _remoteFirst = (client, model);
        return this;
    }

    /// <summary>Where logs go.</summary>
    public TransformerSquaredBuilder UseLoggerFactory(ILoggerFactory loggers)
    {
        _loggers = loggers ?? throw new ArgumentNullException(nameof(loggers));
        return this;
    }

    /// <summary>Loads what is needed and returns the pipeline.</summary>
    public Task<TransformerSquared> BuildAsync(IProgress<string>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Build(progress, cancellationToken), cancellationToken);

    /// <summary>Loads what is needed and returns the pipeline (synchronously).</summary>
    public TransformerSquared Build(IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        if (_folder is null && _model is null && _llava is null) throw new InvalidOperationException("No backbone: call UseModelFolder, UseModel or UseLlava before building.");
        if (_storage == SvfWeightStorage.FactoredOnly && _mode == ExpertApplicationMode.Merged)
            throw new InvalidOperationException("UseFactoredOnlyLayers and UseMergedExperts exclude each other: merged experts are written into dense weights, which factored-only layers do not keep.");
        var logger = _loggers.CreateLogger<TransformerSquared>();
        bool ownsModel = _model is null && _llava is null;
        var llava = _llava;
        var processor = _processor;
        var model = _model ?? _llava?.LanguageModel;
        var tokenizer = _tokenizer;
        try
        {
            if (model is null)
            {
                progress?.Report($"Loading {_folder}");
                if (IsLlavaFolder(_folder!))
                {
                    string processorFile = Path.Combine(_folder!, LlavaImageProcessor.ConfigFile);
                    if (!File.Exists(processorFile))
                        throw new FileNotFoundException($"Model folder '{_folder}' holds a LLaVA model but no {LlavaImageProcessor.ConfigFile}; images cannot be preprocessed without it.", processorFile);
                    processor = LlavaImageProcessor.FromPretrained(_folder!);
                    llava = LlavaForConditionalGeneration.FromPretrained(_folder!, _dtype, _device, null, cancellationToken, logger);
                    model = llava.LanguageModel;
                }
                else
                {
                    model = LlamaForCausalLM.FromPretrained(_folder!, _dtype, _device, null, cancellationToken, logger);
                }
                tokenizer = TokenizerLoader.FromPretrained(_folder!);
            }
            TorchSharp.torch.nn.Module root = llava is null ? model : llava;
            root.eval();
            foreach (var p in root.parameters()) p.requires_grad = false;   // inference only
            var template = _template ?? DefaultTemplate(model, tokenizer!, llava);
            string identity = _identity ?? (_folder is not null ? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(_folder))) : "");

            // Into the LLaVA model, so target names are its own (model.language_model.layers.N…), as experts trained on it carry.
            var existing = SvfInjector.Find(root);
            if (existing.Count == 0) Inject(root, identity, progress, logger, cancellationToken);
            else if (_storage == SvfWeightStorage.FactoredOnly)
                foreach (var layer in existing.Values) layer.DropDenseWeight();
            if (_quantization == WeightQuantization.Int8)
            {
                progress?.Report("Storing the frozen projections as int8");
                var quantized = model.QuantizeWeights(cancellationToken);
                logger.LogInformation("Stored {Count} frozen projections as int8 blocks", quantized.Count);
            }
            var backbone = llava is null
                ? new AdaptationBackbone(model, tokenizer!, template, identity)
                : AdaptationBackbone.ForLlava(llava, processor!, tokenizer!, template, identity);
            var registry = new ExpertRegistry(backbone.TargetLengths, string.IsNullOrEmpty(identity) ? null : identity);
            try
            {
                foreach (var add in _experts)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    add(registry);
                }
                var strategy = _strategy?.Invoke() ?? new FixedPlanStrategy();
                if (_remoteFirst is not null && strategy is not PromptDispatchStrategy { ClassifiesRemotely: true })
                    throw new InvalidOperationException(
                        $"UseRemoteFirstPass sends prompt dispatch's classification to a remote model, but the first pass here is the '{strategy.Name}' strategy, which runs on the local weights (a classification expert or few-shot search must be applied to them; a fixed plan has no first pass). Use UsePromptDispatch, or drop UseRemoteFirstPass.");
                var applier = new ExpertApplier(backbone, registry, _mode, _semantics, _mergedBudget);
                var remote = _remote is { } r ? new RemoteSecondPass(r.Client, r.Options) : null;
                return new TransformerSquared(backbone, registry, strategy, applier, _generation, logger, ownsModel, remote);
            }
            catch
            {
                registry.Dispose();
                throw;
            }
        }
        catch
        {
            if (ownsModel)
            {
                if (llava is not null) llava.Dispose();
                else model?.Dispose();
            }
            throw;
        }
    }

    /// <summary>True when the folder's config.json names a LLaVA architecture.</summary>
    static bool IsLlavaFolder(string folder)
    {
        string path = Path.Combine(folder, "config.json");
        if (!File.Exists(path)) return false;   // the loader reports the missing file
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
            return json.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && json.RootElement.TryGetProperty("model_type", out var type) && type.ValueKind == System.Text.Json.JsonValueKind.String
                && type.GetString() is LlavaConfig.LlavaModelType or LlavaConfig.LlavaNextModelType;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;   // the loader reports the malformed file
        }
    }

    static IChatTemplate DefaultTemplate(LlamaForCausalLM model, ITextTokenizer tokenizer, LlavaForConditionalGeneration? llava)
    {
        if (llava is null) return model.Config.ModelType == LlamaConfig.MistralModelType ? MistralInstructChatTemplate.Instance : Llama3ChatTemplate.Instruct;
        if (tokenizer.SpecialTokens.ContainsKey("<|start_header_id|>")) return Llama3ChatTemplate.Instruct;
        // LLaVA-1.5 checkpoints are Vicuna-tuned; NeXT ones come with several language models, so no guess there.
        if (llava.Config.ModelType == LlavaConfig.LlavaModelType) return LlavaVicunaChatTemplate.Instance;
        throw new InvalidOperationException(
            $"The {llava.Config.ModelType} model's tokenizer is not Llama-3's, and there is no built-in chat template for its language model; pass one with UseChatTemplate or UseLlava(…, template).");
    }

    void Inject(TorchSharp.torch.nn.Module model, string identity, IProgress<string>? progress, ILogger logger, CancellationToken cancellationToken)
    {
        if (_cachePath is not null)
        {
            progress?.Report($"Decomposition cache {_cachePath}");
            var source = WeightSource.FromModule(model);
            using var cache = DecompositionCache.OpenOrBuild(source, _targets, _cachePath, identity,
                new Progress<DecompositionProgress>(p => progress?.Report($"SVD {p}")), logger, cancellationToken, _factorStorage);
            SvfInjector.InjectFromCache(model, cache, _storage);
        }
        else
        {
            progress?.Report("Decomposing targets in memory (use UseDecompositionCache to keep the result)");
            SvfInjector.InjectDecomposed(model, _targets, cancellationToken, _storage);
        }
    }

    static List<ExpertCategory> Categories(Action<CategoryList> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var list = new CategoryList();
        configure(list);
        return list.Items;
    }

    /// <summary>Categories for prompt dispatch.</summary>
    public sealed class CategoryList
    {
        internal List<ExpertCategory> Items { get; } = [];

        /// <summary>Adds a category; the authors' labels (code, math, reasoning) get the authors' descriptions by default.</summary>
        public CategoryList Add(string label, string expert, string? description = null)
        {
            ArgumentException.ThrowIfNullOrEmpty(label);
            ArgumentException.ThrowIfNullOrEmpty(expert);
            description ??= ClassificationPromptBuilder.AuthorsCategories.FirstOrDefault(c => c.Label == label).Description
                ?? throw new ArgumentException($"Category '{label}' needs a description (only code, math and reasoning have default ones).", nameof(description));
            Items.Add(new ExpertCategory(label, expert, description));
            return this;
        }
    }
}
