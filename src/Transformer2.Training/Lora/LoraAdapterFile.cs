using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Transformer2.Core.IO;
using static TorchSharp.torch;

namespace Transformer2.Training.Lora;

/// <summary>
/// Saves and loads LoRA adapters in Hugging Face PEFT's folder layout: <c>adapter_model.safetensors</c> with keys
/// <c>base_model.model.&lt;module path&gt;.lora_A.weight</c> / <c>.lora_B.weight</c>, and <c>adapter_config.json</c>.
/// </summary>
/// <remarks>Both files are written atomically, weights first, so a reader never sees a config without its weights.</remarks>
public static class LoraAdapterFile
{
    /// <summary>Name of the weights file.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>Name of the config file.</summary>
    public const string ConfigFileName = "adapter_config.json";

    /// <summary>The prefix PEFT puts before a module path (<c>PeftModel.base_model.model</c>).</summary>
    public const string KeyPrefix = "base_model.model.";

    const string SuffixA = ".lora_A.weight";
    const string SuffixB = ".lora_B.weight";

    /// <summary>Saves the adapters of every <see cref="LoraLinear"/> in <paramref name="model"/> to <paramref name="folder"/>.</summary>
    /// <param name="model">A model with LoRA layers (see <see cref="LoraInjector"/>).</param>
    /// <param name="config">The config the layers were injected with; written to <c>adapter_config.json</c>.</param>
    /// <param name="folder">Output folder (created if missing).</param>
    /// <param name="baseModelNameOrPath">The base model's id or path, for <c>base_model_name_or_path</c>.</param>
    public static void Save(nn.Module model, LoraConfig config, string folder, string baseModelNameOrPath = "")
    {
        ArgumentNullException.ThrowIfNull(model);
        var parameters = LoraInjector.Parameters(model);
        if (parameters.Count == 0) throw new ArgumentException("The model has no LoRA layers to save; call LoraInjector.Inject first.", nameof(model));
        Save(folder, config, parameters.Select(p => new KeyValuePair<string, Tensor>(p.Key, p.Value)), baseModelNameOrPath);
    }

    /// <summary>Saves LoRA tensors keyed by their names inside the model (<c>&lt;module path&gt;.lora_A.weight</c>, …).</summary>
    /// <exception cref="ArgumentException">A name is not a LoRA A/B weight name.</exception>
    public static void Save(string folder, LoraConfig config, IEnumerable<KeyValuePair<string, Tensor>> tensors, string baseModelNameOrPath = "")
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensors);
        config.Validate();
        var entries = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, tensor) in tensors)
        {
            if (!name.EndsWith(SuffixA, StringComparison.Ordinal) && !name.EndsWith(SuffixB, StringComparison.Ordinal))
                throw new ArgumentException($"'{name}' is not a LoRA weight name (it must end with {SuffixA} or {SuffixB}).", nameof(tensors));
            entries.Add(new(KeyPrefix + name, tensor.detach()));
        }
        if (entries.Count == 0) throw new ArgumentException("No LoRA tensors to save.", nameof(tensors));
        Directory.CreateDirectory(folder);
        SafetensorsWriter.Write(Path.Combine(folder, WeightsFileName), entries, new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFileName), ConfigJson(config, baseModelNameOrPath));
    }

    /// <summary>Reads <c>adapter_config.json</c> from <paramref name="folder"/>.</summary>
    /// <exception cref="FileNotFoundException">The file is missing.</exception>
    /// <exception cref="InvalidDataException">The file is not a LoRA config this library can apply; the message names the file and key.</exception>
    public static LoraAdapterInfo ReadConfig(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        string path = Path.Combine(folder, ConfigFileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"No LoRA adapter config at '{path}'.", path);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message}).", e);
        }

        string peftType = String(root, path, "peft_type") ?? throw Missing(path, "peft_type");
        if (peftType != "LORA") throw new InvalidDataException($"{path}: peft_type is '{peftType}', only LORA adapters are supported.");
        double rankValue = Number(root, path, "r") ?? throw Missing(path, "r");
        if (rankValue != Math.Floor(rankValue) || rankValue < 1 || rankValue > int.MaxValue)
            throw new InvalidDataException($"{path}: 'r' must be a positive integer, found {rankValue.ToString(CultureInfo.InvariantCulture)}.");
        int rank = (int)rankValue;
        double alpha = Number(root, path, "lora_alpha") ?? rank;   // PEFT's default alpha is 8, but files always carry it
        double dropout = Number(root, path, "lora_dropout") ?? 0;
        var targetsNode = root["target_modules"] ?? throw Missing(path, "target_modules");
        if (targetsNode is JsonValue)
            throw new InvalidDataException($"{path}: target_modules is a regular expression ('{targetsNode}'); only a list of module names is supported.");
        var targets = targetsNode.AsArray().Select(t => t?.GetValueKind() == JsonValueKind.String ? t.GetValue<string>()
            : throw new InvalidDataException($"{path}: target_modules must hold strings, found {t?.ToJsonString() ?? "null"}.")).ToList();
        if (String(root, path, "bias") is { } bias && bias != "none")
            throw new InvalidDataException($"{path}: bias is '{bias}'; only 'none' (no trained biases) is supported.");
        foreach (var flag in new[] { "use_dora", "use_rslora", "fan_in_fan_out" })
            if (root[flag] is JsonValue v && v.GetValueKind() == JsonValueKind.True)
                throw new InvalidDataException($"{path}: {flag} is true; this library applies plain LoRA only.");
        foreach (var pattern in new[] { "rank_pattern", "alpha_pattern" })
            if (root[pattern] is JsonObject o && o.Count > 0)
                throw new InvalidDataException($"{path}: {pattern} is not empty; per-module ranks or alphas are not supported.");
        foreach (var key in new[] { "layers_to_transform", "modules_to_save" })
            if (root[key] is { } node && node.GetValueKind() != JsonValueKind.Null)
                throw new InvalidDataException($"{path}: {key} is set; this library adapts every matching layer and saves no extra modules.");

        var config = new LoraConfig { Rank = rank, Alpha = alpha, Dropout = dropout, TargetModules = targets };
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        return new LoraAdapterInfo(config, String(root, path, "base_model_name_or_path") ?? "", String(root, path, "task_type"));
    }

    /// <summary>
    /// Loads an adapter folder into <paramref name="model"/>: injects LoRA layers from its config when the model has none,
    /// otherwise checks that the existing layers agree with it, then copies every A and B. Returns the layers by module path.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">A key is missing, unexpected or has the wrong shape or dtype; the message names the file and key.</exception>
    public static IReadOnlyDictionary<string, LoraLinear> Load(nn.Module model, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        var info = ReadConfig(folder);
        string path = Path.Combine(folder, WeightsFileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"No LoRA adapter weights at '{path}'.", path);
        using var file = SafetensorsFile.Open(path);

        // Check the file against the model before touching the model.
        var existing = LoraInjector.Find(model);
        var expected = existing.Count > 0 ? existing.ToDictionary(l => l.Key, l => (l.Value.OutFeatures, l.Value.InFeatures, l.Value.Rank)) : PlannedLayers(model, info.Config);
        if (existing.Count > 0)
        {
            foreach (var (name, layer) in existing)
                if (layer.Rank != info.Config.Rank || Math.Abs(layer.Scaling - info.Config.Scaling) > 1e-12)
                    throw new InvalidDataException($"{Path.Combine(folder, ConfigFileName)}: r = {info.Config.Rank}, alpha = {info.Config.Alpha.ToString(CultureInfo.InvariantCulture)} differ from the model's LoRA layer '{name}' (r = {layer.Rank}, scaling = {layer.Scaling.ToString(CultureInfo.InvariantCulture)}).");
        }
        if (expected.Count == 0)
            throw new InvalidDataException($"{Path.Combine(folder, ConfigFileName)}: target_modules [{string.Join(", ", info.Config.TargetModules)}] match no Linear layer of the model.");
        var wanted = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var (name, (outFeatures, inFeatures, rank)) in expected)
        {
            wanted[KeyPrefix + name + SuffixA] = [rank, inFeatures];
            wanted[KeyPrefix + name + SuffixB] = [outFeatures, rank];
        }
        foreach (var key in file.Names)
        {
            if (!wanted.ContainsKey(key))
                throw new InvalidDataException($"{path}: unexpected tensor '{key}' (the model has no LoRA weight of that name; keys look like '{wanted.Keys.First()}').");
        }
        foreach (var (key, shape) in wanted)
        {
            if (!file.Contains(key)) throw new InvalidDataException($"{path}: missing tensor '{key}'.");
            var stored = file.GetInfo(key);
            if (!stored.Shape.SequenceEqual(shape))
                throw new InvalidDataException($"{path}: tensor '{key}' has shape [{string.Join(", ", stored.Shape)}], the model needs [{string.Join(", ", shape)}].");
            if (stored.DType is not ("F32" or "F16" or "BF16" or "F64"))
                throw new InvalidDataException($"{path}: tensor '{key}' has dtype {stored.DType}, expected a floating-point type.");
        }

        var layers = existing.Count > 0 ? existing : LoraInjector.Inject(model, info.Config);
        using var noGrad = no_grad();
        foreach (var (name, layer) in layers)
        {
            using var a = file.Read(KeyPrefix + name + SuffixA, layer.A.dtype, layer.A.device);
            using var b = file.Read(KeyPrefix + name + SuffixB, layer.B.dtype, layer.B.device);
            layer.A.copy_(a);
            layer.B.copy_(b);
        }
        return layers;
    }

    static Dictionary<string, (long Out, long In, int Rank)> PlannedLayers(nn.Module model, LoraConfig config) =>
        model.named_modules()
            .Where(m => m.name.Length > 0 && m.module is TorchSharp.Modules.Linear && config.Matches(m.name))
            .ToDictionary(m => m.name, m => (((TorchSharp.Modules.Linear)m.module).weight!.shape[0], ((TorchSharp.Modules.Linear)m.module).weight!.shape[1], config.Rank), StringComparer.Ordinal);

    static string ConfigJson(LoraConfig config, string baseModelNameOrPath)
    {
        var root = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = baseModelNameOrPath,
            ["r"] = config.Rank,
            ["lora_alpha"] = config.Alpha == Math.Floor(config.Alpha) && Math.Abs(config.Alpha) < int.MaxValue ? JsonValue.Create((int)config.Alpha) : JsonValue.Create(config.Alpha),
            ["lora_dropout"] = config.Dropout,
            ["target_modules"] = new JsonArray(config.TargetModules.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["modules_to_save"] = null,
            ["layers_to_transform"] = null,
            ["layers_pattern"] = null,
            ["rank_pattern"] = new JsonObject(),
            ["alpha_pattern"] = new JsonObject(),
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["revision"] = null,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    static InvalidDataException Missing(string path, string key) => new($"{path}: required key '{key}' is missing.");

    static string? String(JsonObject root, string path, string key) => root[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        var other => throw new InvalidDataException($"{path}: '{key}' must be a string, found {other.ToJsonString()}."),
    };

    static double? Number(JsonObject root, string path, string key) => root[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>(),
        var other => throw new InvalidDataException($"{path}: '{key}' must be a number, found {other.ToJsonString()}."),
    };
}
