using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;
using TorchSharp;
using TorchSharp.PyBridge;

namespace Transformer2.Core.Experts;

/// <summary>
/// Imports the SVF checkpoints written by the authors' Python code (t2-reference §8): <c>policy_params.pt</c>
/// (a state_dict with keys <c>learnable_params_module_list.{i}</c>) and the legacy <c>learnable_params.pt</c>
/// (a dict of HF parameter name → raw vector).
/// </summary>
public static partial class AuthorsCheckpointImporter
{
    const string ListPrefix = "learnable_params_module_list.";

    /// <summary>
    /// The authors' vector order for LLaMA/Mistral MLP targets: per layer <c>gate_proj</c>, <c>up_proj</c>,
    /// <c>down_proj</c> (t2-reference §1.3).
    /// </summary>
    /// <param name="layerCount">Number of decoder layers (32 for Llama-3-8B and Mistral-7B).</param>
    public static IReadOnlyList<string> MlpTargetOrder(int layerCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layerCount);
        var names = new List<string>(layerCount * 3);
        for (int i = 0; i < layerCount; i++)
            foreach (string projection in new[] { "gate_proj", "up_proj", "down_proj" })
                names.Add($"model.layers.{i}.mlp.{projection}.weight");
        return names;
    }

    /// <summary>
    /// Imports a <c>policy_params.pt</c> state_dict: vector <c>learnable_params_module_list.{i}</c> becomes the
    /// vector of <paramref name="targetOrder"/>[i].
    /// </summary>
    /// <param name="path">The PyTorch pickle file.</param>
    /// <param name="targetOrder">Parameter names in the order the authors' policy enumerated them, for example <see cref="MlpTargetOrder"/>.</param>
    /// <param name="metadata">Metadata for the expert (name, base model, ...); targets are filled in.</param>
    /// <returns>The expert, with vectors in the stored dtype (bf16 for the authors' files).</returns>
    /// <exception cref="InvalidDataException">The file is not a readable PyTorch pickle, is a weighted-combination policy, has unexpected keys, a gap in the indices, a count different from <paramref name="targetOrder"/>, or a bad vector.</exception>
    public static Expert ImportPolicyParams(string path, IReadOnlyList<string> targetOrder, ExpertMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(targetOrder);
        ArgumentNullException.ThrowIfNull(metadata);
        var entries = Unpickle(path);
        try
        {
            if (entries.ContainsKey("adaptive_weights"))
                throw new InvalidDataException($"'{path}' is a weighted-combination (mixture) policy, not an SVF expert: it holds 'adaptive_weights'.");
            var byIndex = new SortedDictionary<int, (string Key, torch.Tensor Vector)>();
            foreach (var (key, vector) in entries)
            {
                var match = ListKey().Match(key);
                if (!match.Success || !int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                    throw new InvalidDataException($"'{path}': key '{key}' is not of the form '{ListPrefix}{{i}}' of an SVF policy_params state_dict.");
                byIndex.Add(index, (key, vector));
            }
            if (byIndex.Count != targetOrder.Count)
                throw new InvalidDataException($"'{path}' holds {byIndex.Count} vectors but {targetOrder.Count} target names were given.");
            int expected = 0;
            var vectors = new List<KeyValuePair<string, torch.Tensor>>();
            foreach (var (index, (key, vector)) in byIndex)
            {
                if (index != expected) throw new InvalidDataException($"'{path}' has no '{ListPrefix}{expected}' (indices must run from 0 to {targetOrder.Count - 1}).");
                CheckVector(path, key, vector);
                vectors.Add(new(targetOrder[index], vector));
                expected++;
            }
            var expert = new Expert(WithProvenance(metadata, path, "policy_params"), vectors);
            entries.Clear();
            return expert;
        }
        finally
        {
            foreach (var vector in entries.Values) vector.Dispose();
        }
    }

    /// <summary>Imports a legacy <c>learnable_params.pt</c> dict of HF parameter name → raw vector.</summary>
    /// <param name="path">The PyTorch pickle file.</param>
    /// <param name="metadata">Metadata for the expert; targets are filled in.</param>
    /// <param name="targetOrder">Optional order of the vectors (must list exactly the file's keys); by default keys are sorted with layer numbers compared numerically.</param>
    /// <exception cref="InvalidDataException">The file is not a readable PyTorch pickle, a value is not a 1-D finite floating-point tensor, or <paramref name="targetOrder"/> does not match the keys.</exception>
    public static Expert ImportLearnableParams(string path, ExpertMetadata metadata, IReadOnlyList<string>? targetOrder = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var entries = Unpickle(path);
        try
        {
            if (entries.Count == 0) throw new InvalidDataException($"'{path}' holds no vectors.");
            IEnumerable<string> order = targetOrder is not null ? targetOrder : entries.Keys.Order(NaturalComparer.Instance);
            var vectors = new List<KeyValuePair<string, torch.Tensor>>();
            foreach (string name in order)
            {
                if (!entries.TryGetValue(name, out var vector))
                    throw new InvalidDataException($"'{path}' has no vector for '{name}'.");
                CheckVector(path, name, vector);
                vectors.Add(new(name, vector));
            }
            if (vectors.Count != entries.Count)
            {
                string extra = entries.Keys.First(k => !vectors.Any(v => v.Key == k));
                throw new InvalidDataException($"'{path}' holds vector '{extra}', which the given target order does not list.");
            }
            var expert = new Expert(WithProvenance(metadata, path, "learnable_params"), vectors);
            entries.Clear();
            return expert;
        }
        finally
        {
            foreach (var vector in entries.Values) vector.Dispose();
        }
    }

    static Dictionary<string, torch.Tensor> Unpickle(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"PyTorch checkpoint '{path}' does not exist.", path);
        Hashtable table;
        try
        {
            table = PyTorchUnpickler.UnpickleStateDict(path);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or UnauthorizedAccessException))
        {
            // The pickle reader fails with many exception types on hostile or foreign files; callers need one.
            throw new InvalidDataException($"'{path}' is not a readable PyTorch checkpoint ({e.GetType().Name}: {e.Message}).", e);
        }
        var entries = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);
        string? error = null;
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Key is string key && entry.Value is torch.Tensor tensor) entries[key] = tensor;
            else error ??= $"'{path}': entry '{entry.Key}' is a {entry.Value?.GetType().Name ?? "null"}, not a tensor keyed by name.";
        }
        if (error is not null)
        {
            foreach (var tensor in entries.Values) tensor.Dispose();
            throw new InvalidDataException(error);
        }
        return entries;
    }

    static void CheckVector(string path, string key, torch.Tensor vector)
    {
        if (vector.dim() != 1)
            throw new InvalidDataException($"'{path}': '{key}' has shape [{string.Join(", ", vector.shape)}]; an SVF vector must be 1-D.");
        if (!vector.is_floating_point())
            throw new InvalidDataException($"'{path}': '{key}' has dtype {vector.dtype}; an SVF vector must be floating point.");
        if (!TensorChecks.AllFinite(vector))
            throw new InvalidDataException($"'{path}': '{key}' contains NaN or infinite values.");
    }

    static ExpertMetadata WithProvenance(ExpertMetadata metadata, string path, string format)
    {
        var provenance = new Dictionary<string, string>(metadata.Provenance)
        {
            ["imported_from"] = Path.GetFileName(path),
            ["source_format"] = format,
        };
        return metadata with { Targets = [], Provenance = provenance };
    }

    [GeneratedRegex(@"^learnable_params_module_list\.(\d+)$", RegexOptions.CultureInvariant)]
    private static partial Regex ListKey();

    /// <summary>Orders names so that embedded numbers compare numerically (layers.2 before layers.10).</summary>
    sealed class NaturalComparer : IComparer<string>
    {
        public static readonly NaturalComparer Instance = new();

        public int Compare(string? x, string? y)
        {
            if (x is null || y is null) return string.CompareOrdinal(x, y);
            var a = NumberRuns().Split(x);
            var b = NumberRuns().Split(y);
            for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
            {
                int c = long.TryParse(a[i], NumberStyles.None, CultureInfo.InvariantCulture, out long na) && long.TryParse(b[i], NumberStyles.None, CultureInfo.InvariantCulture, out long nb)
                    ? na.CompareTo(nb)
                    : string.CompareOrdinal(a[i], b[i]);
                if (c != 0) return c;
            }
            return a.Length.CompareTo(b.Length);
        }
    }

    [GeneratedRegex(@"(\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex NumberRuns();
}
