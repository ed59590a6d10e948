using TorchSharp;

namespace Transformer2.Core.Experts;

/// <summary>
/// An SVF expert: one raw vector p per adapted weight matrix, keyed by parameter name, plus its metadata.
/// </summary>
/// <remarks>The expert owns its vectors: <see cref="Dispose"/> disposes them.</remarks>
public sealed class Expert : IDisposable
{
    readonly Dictionary<string, torch.Tensor> _vectors;
    readonly string[] _order;

    /// <summary>Creates an expert that takes ownership of <paramref name="vectors"/>.</summary>
    /// <param name="metadata">Metadata; its <see cref="ExpertMetadata.Targets"/> may be empty (filled from the vectors) or must list exactly the vectors' keys.</param>
    /// <param name="vectors">Parameter name → 1-D floating-point vector, in the expert's order.</param>
    /// <exception cref="ArgumentException">A vector is not 1-D floating point, a key repeats, or the metadata's targets differ from the keys.</exception>
    public Expert(ExpertMetadata metadata, IEnumerable<KeyValuePair<string, torch.Tensor>> vectors)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentException.ThrowIfNullOrWhiteSpace(metadata.Name, nameof(metadata));
        _vectors = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var (name, vector) in vectors)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException($"Expert '{metadata.Name}': a vector has an empty name.", nameof(vectors));
            ArgumentNullException.ThrowIfNull(vector, $"vectors['{name}']");
            if (vector.dim() != 1)
                throw new ArgumentException($"Expert '{metadata.Name}': vector '{name}' has shape [{string.Join(", ", vector.shape)}]; it must be 1-D.", nameof(vectors));
            if (!vector.is_floating_point())
                throw new ArgumentException($"Expert '{metadata.Name}': vector '{name}' has dtype {vector.dtype}; it must be floating point.", nameof(vectors));
            if (!_vectors.TryAdd(name, vector))
                throw new ArgumentException($"Expert '{metadata.Name}': vector '{name}' appears twice.", nameof(vectors));
            order.Add(name);
        }
        _order = order.ToArray();
        if (metadata.Targets.Count > 0 && !metadata.Targets.SequenceEqual(_order, StringComparer.Ordinal))
        {
            string? missing = metadata.Targets.FirstOrDefault(t => !_vectors.ContainsKey(t));
            string? extra = _order.FirstOrDefault(k => !metadata.Targets.Contains(k, StringComparer.Ordinal));
            throw new ArgumentException(
                $"Expert '{metadata.Name}': metadata targets differ from the vectors' keys" +
                (missing is not null ? $" (no vector for target '{missing}')" : extra is not null ? $" (vector '{extra}' is not a listed target)" : " (order differs)") + ".",
                nameof(metadata));
        }
        Metadata = metadata with { Targets = _order };
    }

    /// <summary>The expert's name (same as <see cref="ExpertMetadata.Name"/>).</summary>
    public string Name => Metadata.Name;

    /// <summary>The expert's metadata; <see cref="ExpertMetadata.Targets"/> lists the vectors' keys in order.</summary>
    public ExpertMetadata Metadata { get; }

    /// <summary>Parameter names in the expert's order.</summary>
    public IReadOnlyList<string> Targets => _order;

    /// <summary>Vectors by parameter name. Enumeration follows <see cref="Targets"/>.</summary>
    public IReadOnlyDictionary<string, torch.Tensor> Vectors => new OrderedView(_vectors, _order);

    /// <summary>The raw vector p of parameter <paramref name="name"/>.</summary>
    /// <param name="name">Parameter name.</param>
    /// <exception cref="KeyNotFoundException">The expert has no vector for that name.</exception>
    public torch.Tensor this[string name] => _vectors.TryGetValue(name, out var v)
        ? v
        : throw new KeyNotFoundException($"Expert '{Name}' has no vector for '{name}'.");

    /// <summary>
    /// Checks that this expert fits a model: same base model (when <paramref name="baseModelIdentity"/> is given),
    /// exactly the expected keys, and the expected length for each.
    /// </summary>
    /// <param name="expectedLengths">Parameter name → required vector length (min(m, n) of the weight).</param>
    /// <param name="baseModelIdentity">The model's identity, or <c>null</c> to skip that check (also skipped when the expert records none).</param>
    /// <exception cref="ExpertMismatchException">Names the wrong base model, or the missing, extra or wrong-length key.</exception>
    public void ValidateAgainst(IReadOnlyDictionary<string, long> expectedLengths, string? baseModelIdentity)
    {
        ArgumentNullException.ThrowIfNull(expectedLengths);
        if (baseModelIdentity is not null && Metadata.BaseModelIdentity.Length > 0 && Metadata.BaseModelIdentity != baseModelIdentity)
            throw new ExpertMismatchException($"Expert '{Name}' was trained on base model '{Metadata.BaseModelIdentity}', not '{baseModelIdentity}'.");
        foreach (var (name, length) in expectedLengths)
        {
            if (!_vectors.TryGetValue(name, out var vector))
                throw new ExpertMismatchException($"Expert '{Name}' has no vector for '{name}', which the model expects.", name);
            if (vector.shape[0] != length)
                throw new ExpertMismatchException($"Expert '{Name}': vector '{name}' has length {vector.shape[0]}, but the model's weight needs {length}.", name);
        }
        foreach (string name in _order)
            if (!expectedLengths.ContainsKey(name))
                throw new ExpertMismatchException($"Expert '{Name}' has a vector for '{name}', which is not a target of the model.", name);
    }

    /// <summary>Disposes the vectors.</summary>
    public void Dispose()
    {
        foreach (var vector in _vectors.Values) vector.Dispose();
    }

    sealed class OrderedView(Dictionary<string, torch.Tensor> map, string[] order) : IReadOnlyDictionary<string, torch.Tensor>
    {
        public torch.Tensor this[string key] => map[key];
        public IEnumerable<string> Keys => order;
        public IEnumerable<torch.Tensor> Values => order.Select(k => map[k]);
        public int Count => order.Length;
        public bool ContainsKey(string key) => map.ContainsKey(key);
        public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out torch.Tensor value) => map.TryGetValue(key, out value);
        public IEnumerator<KeyValuePair<string, torch.Tensor>> GetEnumerator() => order.Select(k => new KeyValuePair<string, torch.Tensor>(k, map[k])).GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
