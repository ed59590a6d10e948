using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using Transformer2.Core.IO;
using Transformer2.Core.Svf;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>
/// Loads a Hugging Face folder (<c>config.json</c> plus <c>model.safetensors</c> or shards listed in
/// <c>model.safetensors.index.json</c>) into a <see cref="LlamaForCausalLM"/>, and writes one back.
/// </summary>
/// <remarks>
/// Every key, dtype and shape is checked against the model before any weight is read. The model's parameters are
/// allocated once, uninitialised, and each tensor is read, converted and copied in on its own, so the peak memory is
/// the model plus its largest tensor.
/// </remarks>
internal static class PretrainedLoader
{
    internal const string ConfigFile = "config.json";
    internal const string SingleFile = "model.safetensors";
    internal const string IndexFile = "model.safetensors.index.json";

    static readonly string[] SupportedDTypes = ["F32", "F16", "BF16"];

    public static LlamaForCausalLM Load(string folder, ScalarType dtype, Device? device, IProgress<LoadProgress>? progress, CancellationToken cancellationToken, ILogger? logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"dtype must be Float32, Float16 or BFloat16; got {dtype}.", nameof(dtype));
        logger ??= NullLogger.Instance;
        folder = Path.GetFullPath(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Model folder '{folder}' does not exist.");
        var config = LlamaConfig.Load(Path.Combine(folder, ConfigFile));
        cancellationToken.ThrowIfCancellationRequested();

        LlamaForCausalLM? model = null;
        try
        {
            model = new LlamaForCausalLM(config, new ParameterFactory(dtype, device ?? CPU, initialize: false));
            var expected = model.CheckpointParameters().ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            LoadWeights(folder, expected, key => IsIgnorable(key, config) ? null : key, $"the {config.ModelType} model", dtype, progress, cancellationToken, logger);
            model.eval();
            return model;
        }
        catch
        {
            model?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies every tensor of the checkpoint in <paramref name="folder"/> into <paramref name="expected"/> after checking
    /// every key, dtype and shape. <paramref name="mapStoredKey"/> turns a stored key into the model's key, or
    /// <see langword="null"/> for a key that carries nothing the model needs.
    /// </summary>
    internal static void LoadWeights(string folder, IReadOnlyDictionary<string, TorchSharp.Modules.Parameter> expected, Func<string, string?> mapStoredKey,
        string modelName, ScalarType dtype, IProgress<LoadProgress>? progress, CancellationToken cancellationToken, ILogger logger)
    {
        var files = new List<SafetensorsFile>();
        try
        {
            var stored = OpenCheckpoint(folder, files);
            var locations = new Dictionary<string, (string StoredKey, SafetensorsFile File)>(StringComparer.Ordinal);
            foreach (var (storedKey, file) in stored)
            {
                if (mapStoredKey(storedKey) is not { } key) continue;
                if (!expected.ContainsKey(key))
                    throw new InvalidDataException($"Unexpected tensor '{storedKey}' in '{file.Path}': {modelName} has no such parameter.");
                if (locations.TryGetValue(key, out var earlier))
                    throw new InvalidDataException($"Tensors '{earlier.StoredKey}' and '{storedKey}' in '{folder}' both hold parameter '{key}'.");
                locations[key] = (storedKey, file);
            }
            var plan = Plan(folder, expected, locations);
            long totalBytes = plan.Sum(p => p.Info.ByteLength), bytesLoaded = 0;
            logger.LogInformation("Loading {Count} tensors ({Bytes} bytes) from {Folder} as {DType}", plan.Count, totalBytes, folder, dtype);
            using (no_grad())
            {
                for (int i = 0; i < plan.Count; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var (key, storedKey, file, info, parameter) = plan[i];
                    using (var tensor = file.Read(storedKey, dtype, parameter.device)) parameter.copy_(tensor);
                    bytesLoaded += info.ByteLength;
                    progress?.Report(new LoadProgress(i + 1, plan.Count, bytesLoaded, totalBytes, key));
                }
            }
        }
        finally
        {
            foreach (var file in files) file.Dispose();
        }
    }

    /// <summary>Opens the checkpoint's files and maps every stored key to the file that holds it.</summary>
    internal static Dictionary<string, SafetensorsFile> OpenCheckpoint(string folder, List<SafetensorsFile> files)
    {
        string indexPath = Path.Combine(folder, IndexFile);
        string singlePath = Path.Combine(folder, SingleFile);
        var locations = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        if (!File.Exists(indexPath))
        {
            if (!File.Exists(singlePath))
                throw new FileNotFoundException($"Model folder '{folder}' has neither '{SingleFile}' nor '{IndexFile}'.", singlePath);
            var file = SafetensorsFile.Open(singlePath);
            files.Add(file);
            foreach (string name in file.Names) locations[name] = file;
            return locations;
        }

        var weightMap = ReadWeightMap(indexPath);
        var byName = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        foreach (string shard in weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            string shardPath = Path.Combine(folder, shard);
            if (!File.Exists(shardPath))
                throw new FileNotFoundException($"'{indexPath}' lists shard '{shard}', which does not exist in '{folder}'.", shardPath);
            var file = SafetensorsFile.Open(shardPath);
            files.Add(file);
            byName[shard] = file;
        }
        foreach (var (key, shard) in weightMap)
        {
            var file = byName[shard];
            if (!file.Contains(key))
                throw new InvalidDataException($"'{indexPath}' places tensor '{key}' in '{shard}', but '{file.Path}' does not contain it.");
            locations[key] = file;
        }
        foreach (var file in files)
            foreach (string name in file.Names)
                if (!locations.ContainsKey(name))
                    throw new InvalidDataException($"Unexpected tensor '{name}' in '{file.Path}': '{indexPath}' does not list it.");
        return locations;
    }

    /// <summary>Parses the index's <c>weight_map</c>, refusing shard names that would leave the folder.</summary>
    static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"'{indexPath}' has no 'weight_map' object.");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"'{indexPath}': weight_map['{entry.Name}'] must be a file name (got {entry.Value.GetRawText()}).");
                string shard = entry.Value.GetString()!;
                if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or "..")
                    throw new InvalidDataException($"'{indexPath}': weight_map['{entry.Name}'] = '{shard}' is not a plain file name in the model folder.");
                result[entry.Name] = shard;
            }
            return result;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{indexPath}' is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>Pairs every parameter with its stored tensor; throws on any missing or misshapen key.</summary>
    static List<(string Key, string StoredKey, SafetensorsFile File, SafetensorInfo Info, TorchSharp.Modules.Parameter Parameter)> Plan(
        string folder, IReadOnlyDictionary<string, TorchSharp.Modules.Parameter> expected, Dictionary<string, (string StoredKey, SafetensorsFile File)> locations)
    {
        var plan = new List<(string, string, SafetensorsFile, SafetensorInfo, TorchSharp.Modules.Parameter)>();
        foreach (var (key, parameter) in expected)
        {
            if (!locations.TryGetValue(key, out var location))
                throw new InvalidDataException($"Checkpoint in '{folder}' is missing tensor '{key}' (expected shape [{string.Join(", ", parameter.shape)}]).");
            var (storedKey, file) = location;
            var info = file.GetInfo(storedKey);
            if (!SupportedDTypes.Contains(info.DType))
                throw new InvalidDataException($"Tensor '{storedKey}' in '{file.Path}' is stored as {info.DType}; only F32, F16 and BF16 are supported.");
            if (!info.Shape.SequenceEqual(parameter.shape))
                throw new InvalidDataException(
                    $"Tensor '{storedKey}' in '{file.Path}' has shape [{string.Join(", ", info.Shape)}] but the model expects [{string.Join(", ", parameter.shape)}].");
            plan.Add((key, storedKey, file, info, parameter));
        }
        // Read in file order, then offset order, so the disk is read front to back.
        return plan.OrderBy(p => p.Item3.Path, StringComparer.Ordinal).ThenBy(p => p.Item4.Offset).ToList();
    }

    /// <summary>Keys that carry no information: a tied head stored anyway, and rotary buffers some older exports include.</summary>
    static bool IsIgnorable(string key, LlamaConfig config) =>
        (config.TieWordEmbeddings && key == "lm_head.weight") || key.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);

    public static void Save(LlamaForCausalLM model, string folder, ScalarType? dtype, long? maxShardBytes)
    {
        SvfInjector.RequireDenseWeights(model, $"save the checkpoint to '{folder}'");
        string torchDtype = TorchDtypeName(dtype ?? model.DType);
        SaveWeights(folder, (model.Config with { TorchDtype = torchDtype }).ToJson(), model.CheckpointParameters(), dtype, maxShardBytes);
    }

    /// <summary>The <c>torch_dtype</c> name of a parameter dtype.</summary>
    internal static string TorchDtypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        var other => throw new ArgumentException($"dtype must be Float32, Float16 or BFloat16; got {other}.", nameof(dtype)),
    };

    /// <summary>Writes <paramref name="configJson"/> and the parameters, in one file or in shards with an index.</summary>
    internal static void SaveWeights(string folder, string configJson, IEnumerable<KeyValuePair<string, TorchSharp.Modules.Parameter>> parameters, ScalarType? dtype, long? maxShardBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (maxShardBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(maxShardBytes), maxShardBytes, "must be positive.");
        if (dtype is { } requested) TorchDtypeName(requested);
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFile), configJson);
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };

        var shards = new List<List<KeyValuePair<string, Tensor>>> { new() };
        long shardBytes = 0;
        foreach (var (key, parameter) in parameters)
        {
            long bytes = parameter.numel() * (dtype is { } d ? ElementSize(d) : parameter.element_size());
            if (maxShardBytes is { } max && shardBytes > 0 && shardBytes + bytes > max)
            {
                shards.Add([]);
                shardBytes = 0;
            }
            shards[^1].Add(new(key, parameter));
            shardBytes += bytes;
        }

        string indexPath = Path.Combine(folder, IndexFile);
        if (shards.Count == 1)
        {
            WriteShard(Path.Combine(folder, SingleFile), shards[0], dtype, metadata);
            if (File.Exists(indexPath)) File.Delete(indexPath);
            return;
        }
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long totalSize = 0;
        for (int i = 0; i < shards.Count; i++)
        {
            string name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            WriteShard(Path.Combine(folder, name), shards[i], dtype, metadata);
            foreach (var (key, tensor) in shards[i])
            {
                weightMap[key] = name;
                totalSize += tensor.numel() * (dtype is { } d ? ElementSize(d) : tensor.element_size());
            }
        }
        string index = JsonSerializer.Serialize(new { metadata = new { total_size = totalSize }, weight_map = weightMap }, new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.WriteAllText(indexPath, index);
        string single = Path.Combine(folder, SingleFile);
        if (File.Exists(single)) File.Delete(single);
    }

    static void WriteShard(string path, List<KeyValuePair<string, Tensor>> tensors, ScalarType? dtype, Dictionary<string, string> metadata)
    {
        using var scope = NewDisposeScope();
        var converted = tensors.Select(t => new KeyValuePair<string, Tensor>(t.Key, dtype is { } d ? t.Value.detach().to_type(d) : t.Value.detach())).ToList();
        SafetensorsWriter.Write(path, converted, metadata);
    }

    static long ElementSize(ScalarType dtype) => dtype == ScalarType.Float32 ? 4 : 2;
}
