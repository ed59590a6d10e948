using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp.Modules;
using Transformer2.Adaptation.Experts;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Core.Experts;
using Transformer2.Core.IO;
using Transformer2.Core.Svf;
using Transformer2.Models.Gguf;
using Transformer2.Models.Llama;
using Transformer2.Training.Lora;
using static TorchSharp.torch;

namespace Transformer2.Adaptation.Export;

/// <summary>
/// Puts an expert or a mixture (an <see cref="AdaptationPlan"/>) into files other engines serve: a merged Hugging Face
/// folder (vLLM, TGI, SGLang, transformers), a merged GGUF (llama.cpp), or a LoRA adapter in PEFT's layout and as a GGUF
/// LoRA (vLLM <c>--lora-modules</c>, llama.cpp <c>--lora</c>), so one base model serves every expert.
/// </summary>
/// <remarks>
/// The model must carry <see cref="SvfLinear"/> layers (<see cref="SvfInjector"/>) for the experts' targets; their SVD
/// factors give W' = U·diag(S⊙z·c)·Vᵀ exactly as <see cref="SvfLinear.Merge"/> computes it, so a merged export holds the
/// same bits as our merged model. Merged exports merge the weights for the duration of the call and restore them bit for
/// bit afterwards (also on failure or cancellation): do not run the model on other threads meanwhile.
/// Lives in Adaptation, next to the plans and the registry it reads, and uses Models' HF/GGUF writers and Training's PEFT file.
/// </remarks>
public sealed class AdaptedModelExporter
{
    /// <summary>Tokenizer and generation files copied from the model folder into a Hugging Face export when present.</summary>
    public static IReadOnlyList<string> TokenizerFiles { get; } =
        ["tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "generation_config.json", "chat_template.jinja"];

    readonly LlamaForCausalLM _model;
    readonly ExpertRegistry _experts;
    readonly MixtureSemantics _semantics;
    readonly string? _modelFolder;
    readonly ILogger _logger;
    readonly IReadOnlyDictionary<string, SvfLinear> _layers;

    /// <summary>Creates an exporter for <paramref name="model"/> and the experts of <paramref name="experts"/>.</summary>
    /// <param name="model">The base model with SVF layers injected (its weights must be the base weights, not merged).</param>
    /// <param name="experts">The experts plans name.</param>
    /// <param name="modelFolder">The folder the model was loaded from, for the tokenizer files; null exports none.</param>
    /// <param name="semantics">How mixtures combine experts (as the pipeline's <see cref="TransformerSquaredBuilder"/> setting).</param>
    /// <param name="logger">Logs each export.</param>
    /// <exception cref="ArgumentException">The model has no SVF layers.</exception>
    public AdaptedModelExporter(LlamaForCausalLM model, ExpertRegistry experts, string? modelFolder = null,
        MixtureSemantics semantics = MixtureSemantics.Multipliers, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(experts);
        if (modelFolder is not null && !Directory.Exists(modelFolder)) throw new DirectoryNotFoundException($"Model folder '{modelFolder}' does not exist.");
        _layers = SvfInjector.Find(model);
        if (_layers.Count == 0) throw new ArgumentException("The model has no SVF layers; call SvfInjector.InjectDecomposed (or InjectFromCache) first.", nameof(model));
        _model = model;
        _experts = experts;
        _modelFolder = modelFolder;
        _semantics = semantics;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>
    /// Writes the model with <paramref name="plan"/> merged as a Hugging Face folder: <c>config.json</c>, the weights
    /// (<c>model.safetensors</c>, or shards with <c>model.safetensors.index.json</c> past <see cref="HuggingFaceExportOptions.MaxShardBytes"/>)
    /// and the tokenizer files. Every file is written atomically.
    /// </summary>
    public void ExportHuggingFace(AdaptationPlan plan, string folder, HuggingFaceExportOptions? options = null,
        IProgress<ExportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        options ??= new HuggingFaceExportOptions();
        options.Validate();
        _logger.LogInformation("Exporting {Plan} merged as a Hugging Face folder to {Folder}", plan.Key, folder);
        WithMerged(plan, cancellationToken, () => _model.SavePretrained(folder, options.DType, options.MaxShardBytes));
        var files = options.CopyTokenizer ? CopyTokenizerFiles(folder, cancellationToken) : 0;
        progress?.Report(new ExportProgress(1, 1, 0, 0, folder));
        _logger.LogInformation("Wrote {Folder} ({TokenizerFiles} tokenizer files copied)", folder, files);
    }

    /// <summary>Writes the model with <paramref name="plan"/> merged as one GGUF file for llama.cpp, atomically.</summary>
    /// <exception cref="InvalidDataException">The tokenizer cannot be exported (not byte-level BPE); set <see cref="GgufExportOptions.IncludeTokenizer"/> to false.</exception>
    public void ExportGguf(AdaptationPlan plan, string path, GgufExportOptions? options = null,
        IProgress<ExportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new GgufExportOptions();
        options.Validate();
        string? tokenizer = options.IncludeTokenizer && _modelFolder is not null && File.Exists(Path.Combine(_modelFolder, "tokenizer.json"))
            ? Path.Combine(_modelFolder, "tokenizer.json")
            : null;
        _logger.LogInformation("Exporting {Plan} merged as {Type} GGUF to {Path} (tokenizer: {Tokenizer})", plan.Key, options.Type, path, tokenizer ?? "none");
        WithMerged(plan, cancellationToken, () => LlamaGguf.WriteModel(_model, path, options.Type, tokenizer, options.Name, progress, cancellationToken));
    }

    /// <summary>
    /// Writes <paramref name="plan"/> as a LoRA adapter in PEFT's folder layout (<c>adapter_config.json</c>,
    /// <c>adapter_model.safetensors</c>), and as a GGUF LoRA when <see cref="LoraExportOptions.GgufPath"/> is set.
    /// </summary>
    public void ExportLora(AdaptationPlan plan, string folder, LoraExportOptions? options = null,
        IProgress<ExportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        options ??= new LoraExportOptions();
        options.Validate();
        using var adapter = ComputeLora(plan, options.Rank, cancellationToken);
        _logger.LogInformation("Exporting {Plan} as a rank-{Rank} LoRA ({Targets} matrices) to {Folder}", plan.Key, adapter.Rank, adapter.Factors.Count, folder);
        var config = new LoraConfig { Rank = adapter.Rank, Alpha = adapter.Alpha, Dropout = 0, TargetModules = adapter.TargetModules };
        using (var scope = NewDisposeScope())
        {
            var tensors = adapter.Factors.OrderBy(f => f.Key, StringComparer.Ordinal).SelectMany(f =>
            {
                string module = ModulePath(f.Key);
                return new[]
                {
                    new KeyValuePair<string, Tensor>(module + ".lora_A.weight", f.Value.A.to_type(options.DType)),
                    new KeyValuePair<string, Tensor>(module + ".lora_B.weight", f.Value.B.to_type(options.DType)),
                };
            }).ToList();
            LoraAdapterFile.Save(folder, config, tensors, options.BaseModelNameOrPath);
        }
        if (options.GgufPath is { } gguf)
            LlamaGgufLora.Write(_model.Config, adapter.Factors, adapter.Alpha, gguf, options.GgufType, progress, cancellationToken);
    }

    /// <summary>
    /// The LoRA factors of <paramref name="plan"/> at rank <paramref name="rank"/> (null: the full rank, the largest
    /// number of singular values among the targets; a matrix with fewer keeps its whole change, padded with zeros,
    /// because PEFT's r is one number). The caller owns the result.
    /// </summary>
    /// <exception cref="ArgumentException">The plan is the base model.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rank"/> exceeds the singular values of every target.</exception>
    public SvfLoraAdapter ComputeLora(AdaptationPlan plan, int? rank = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.IsBase) throw new ArgumentException("The base plan changes no weight; there is no adapter to export.", nameof(plan));
        var factors = new Dictionary<string, (Tensor A, Tensor B)>(StringComparer.Ordinal);
        var multipliers = Multipliers(plan);
        try
        {
            int largest = (int)multipliers.Keys.Max(t => _layers[t].Rank);
            int r = rank ?? largest;
            if (r > largest)
                throw new ArgumentOutOfRangeException(nameof(rank), r, $"rank {r} exceeds the {largest} singular values of the largest adapted matrix.");
            using var noGrad = no_grad();
            foreach (var (target, z) in multipliers.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var layer = _layers[target];
                // PEFT needs one r for all matrices: one with fewer singular values keeps its whole change, padded with zeros.
                int kept = (int)Math.Min(r, layer.Rank);
                var (a, b) = SvfDelta.LowRank(layer.U, layer.S, layer.V, z, kept, ScalarType.Float32);
                if (kept < r)
                {
                    using var scope = NewDisposeScope();
                    var paddedA = nn.functional.pad(a, [0, 0, 0, r - kept]).MoveToOuterDisposeScope();   // zero rows of A
                    var paddedB = nn.functional.pad(b, [0, r - kept]).MoveToOuterDisposeScope();         // zero columns of B
                    a.Dispose();
                    b.Dispose();
                    (a, b) = (paddedA, paddedB);
                }
                factors[target] = (a, b);
            }
            return new SvfLoraAdapter(r, factors, TargetModulesOf(factors.Keys));
        }
        catch
        {
            foreach (var (a, b) in factors.Values)
            {
                a.Dispose();
                b.Dispose();
            }
            throw;
        }
        finally
        {
            foreach (var z in multipliers.Values) z.Dispose();
        }
    }

    /// <summary>Multipliers of the plan, after checking the experts fit the model's SVF layers.</summary>
    Dictionary<string, Tensor> Multipliers(AdaptationPlan plan)
    {
        foreach (string name in plan.Experts)
        {
            var expert = _experts[name];
            foreach (string target in expert.Targets)
            {
                if (!_layers.TryGetValue(target, out var layer))
                    throw new ExpertMismatchException($"Expert '{name}' adapts '{target}', which is not an SVF layer of the model.", target);
                if (expert[target].shape[0] != layer.Rank)
                    throw new ExpertMismatchException($"Expert '{name}': vector '{target}' has length {expert[target].shape[0]}, the layer has {layer.Rank} singular values.", target);
            }
        }
        return PlanMultipliers.Compute(plan, _experts, _semantics);
    }

    void WithMerged(AdaptationPlan plan, CancellationToken cancellationToken, Action write)
    {
        var multipliers = Multipliers(plan);
        var merged = new List<SvfLinear>();
        try
        {
            foreach (var (target, z) in multipliers)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var layer = _layers[target];
                if (layer.IsMerged) throw new InvalidOperationException($"'{target}' is already merged; export from the base weights.");
                layer.Merge(z);
                merged.Add(layer);
            }
            write();
        }
        finally
        {
            foreach (var layer in merged) layer.Unmerge();
            foreach (var z in multipliers.Values) z.Dispose();
        }
    }

    int CopyTokenizerFiles(string folder, CancellationToken cancellationToken)
    {
        if (_modelFolder is null) return 0;
        int copied = 0;
        foreach (string name in TokenizerFiles)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string source = Path.Combine(_modelFolder, name);
            if (!File.Exists(source)) continue;
            AtomicFile.Write(Path.Combine(folder, name), stream =>
            {
                using var input = File.OpenRead(source);
                input.CopyTo(stream);
            });
            copied++;
        }
        return copied;
    }

    /// <summary>Short names where every layer of that name is adapted (PEFT matches a name as a path suffix), full module paths otherwise.</summary>
    IReadOnlyList<string> TargetModulesOf(IEnumerable<string> targets)
    {
        var modules = targets.Select(ModulePath).ToHashSet(StringComparer.Ordinal);
        var linearPaths = _model.named_modules().Where(m => m.module is Linear or SvfLinear).Select(m => m.name).ToList();
        var result = new List<string>();
        foreach (var group in modules.GroupBy(ShortName).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            bool all = linearPaths.Where(p => ShortName(p) == group.Key).All(modules.Contains);
            if (all) result.Add(group.Key);
            else result.AddRange(group.Order(StringComparer.Ordinal));
        }
        return result;
    }

    static string ModulePath(string weightKey) =>
        weightKey.EndsWith(".weight", StringComparison.Ordinal) ? weightKey[..^".weight".Length] : throw new ArgumentException($"'{weightKey}' is not a weight key.");

    static string ShortName(string modulePath) => modulePath[(modulePath.LastIndexOf('.') + 1)..];
}
