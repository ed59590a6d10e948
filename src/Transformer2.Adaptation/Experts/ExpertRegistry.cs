using System.Collections.Concurrent;
using Transformer2.Core.Experts;
using static TorchSharp.torch;

namespace Transformer2.Adaptation.Experts;

/// <summary>
/// The experts a pipeline can apply, each checked against the loaded model when it is registered.
/// </summary>
/// <remarks>
/// Thread-safe. Registering a name twice replaces the older expert (and disposes it, with its cached multipliers): do
/// not replace an expert while answers that use it are running.
/// </remarks>
public sealed class ExpertRegistry : IDisposable
{
    readonly ConcurrentDictionary<string, Expert> _experts = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, Lazy<IReadOnlyDictionary<string, Tensor>>> _multipliers = new(StringComparer.Ordinal);
    readonly IReadOnlyDictionary<string, long> _targetLengths;
    readonly string? _baseModelIdentity;

    /// <summary>Creates a registry for a model whose SVF targets have the given vector lengths.</summary>
    /// <param name="targetLengths">Length of the SVF vector of each adaptable matrix, by weight name.</param>
    /// <param name="baseModelIdentity">The model's identity; experts made for another model are refused. Null skips the check.</param>
    public ExpertRegistry(IReadOnlyDictionary<string, long> targetLengths, string? baseModelIdentity = null)
    {
        _targetLengths = targetLengths ?? throw new ArgumentNullException(nameof(targetLengths));
        _baseModelIdentity = string.IsNullOrEmpty(baseModelIdentity) ? null : baseModelIdentity;
    }

    /// <summary>Registered names.</summary>
    public IReadOnlyCollection<string> Names => _experts.Keys.ToList();

    /// <summary>True when <paramref name="name"/> is registered.</summary>
    public bool Contains(string name) => _experts.ContainsKey(name);

    /// <summary>The expert called <paramref name="name"/>.</summary>
    public Expert this[string name] => _experts.TryGetValue(name, out var e)
        ? e
        : throw new KeyNotFoundException($"No expert named '{name}' is registered (registered: {string.Join(", ", _experts.Keys.Order())}).");

    /// <summary>Validates and registers <paramref name="expert"/>, which the registry then owns, under <paramref name="name"/> (default: its own name).</summary>
    /// <exception cref="ExpertMismatchException">The expert does not fit the model.</exception>
    public void Register(Expert expert, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(expert);
        // An expert may adapt a subset of the model's targets; every vector it has must fit.
        var expected = expert.Targets.ToDictionary(t => t, t => _targetLengths.TryGetValue(t, out var n) ? n : -1, StringComparer.Ordinal);
        foreach (var (target, length) in expected)
        {
            if (length < 0)
                throw new ExpertMismatchException($"Expert '{expert.Name}' adapts '{target}', which is not an SVF target of the loaded model.", target);
        }
        expert.ValidateAgainst(expected, _baseModelIdentity);
        string key = name ?? expert.Name;
        ArgumentException.ThrowIfNullOrEmpty(key, nameof(name));
        if (_experts.TryGetValue(key, out var previous) && !ReferenceEquals(previous, expert)) previous.Dispose();
        _experts[key] = expert;
        // After the swap, so that a first use starting from now on computes the new expert's multipliers.
        DropMultipliers(key);
    }

    /// <summary>
    /// The singular-value multipliers z of the expert called <paramref name="name"/> (fp32, by target), computed from its
    /// vectors on first use and kept, so that applying one expert again is a dictionary lookup instead of a pass over
    /// every target. The registry owns the tensors: do not dispose or modify them.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> Multipliers(string name)
    {
        var expert = this[name];
        return _multipliers.GetOrAdd(name, _ => new Lazy<IReadOnlyDictionary<string, Tensor>>(() =>
        {
            using var noGrad = no_grad();
            var parameterization = expert.Metadata.Parameterization;
            return expert.Vectors.ToDictionary(kv => kv.Key,
                kv => { using var scope = NewDisposeScope(); return parameterization.Multiplier(kv.Value.to_type(ScalarType.Float32)).DetachFromDisposeScope(); },
                StringComparer.Ordinal);
        })).Value;
    }

    void DropMultipliers(string name)
    {
        if (_multipliers.TryRemove(name, out var cached) && cached.IsValueCreated)
            foreach (var t in cached.Value.Values) t.Dispose();
    }

    /// <summary>Loads, validates and registers an expert file.</summary>
    public string RegisterFile(string path, string? name = null)
    {
        var expert = ExpertFile.Load(path);
        try
        {
            Register(expert, name);
            return name ?? expert.Name;
        }
        catch
        {
            expert.Dispose();
            throw;
        }
    }

    /// <summary>Registers every <c>*.safetensors</c> expert file in <paramref name="folder"/>; returns their names.</summary>
    public IReadOnlyList<string> RegisterFolder(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Expert folder not found: {folder}");
        return Directory.GetFiles(folder, "*.safetensors").Order(StringComparer.Ordinal).Select(f => RegisterFile(f)).ToList();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var name in _multipliers.Keys.ToList()) DropMultipliers(name);
        foreach (var e in _experts.Values) e.Dispose();
        _experts.Clear();
    }
}
