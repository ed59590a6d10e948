using TorchSharp;
using Transformer2.Core.IO;

namespace Transformer2.Core.Svd;

/// <summary>Ready-made <see cref="IWeightSource"/>s: in-memory tensors, a module's parameters, safetensors files.</summary>
public static class WeightSource
{
    /// <summary>Weights already in memory. <see cref="IWeightSource.Load"/> returns detached aliases (no copy).</summary>
    /// <param name="weights">Name → tensor, in model order. The tensors stay owned by the caller.</param>
    public static IWeightSource FromTensors(IEnumerable<KeyValuePair<string, torch.Tensor>> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return new TensorSource(weights.ToList());
    }

    /// <summary>The parameters of <paramref name="module"/> (as <c>named_parameters()</c>), loaded as detached aliases.</summary>
    /// <param name="module">A model.</param>
    public static IWeightSource FromModule(torch.nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return new TensorSource(module.named_parameters().Select(p => new KeyValuePair<string, torch.Tensor>(p.name, p.parameter)).ToList());
    }

    /// <summary>
    /// The tensors of one or more safetensors files (for example a sharded HF checkpoint), read from disk one at a
    /// time. Dispose the returned source to close the files.
    /// </summary>
    /// <param name="files">Safetensors files; a name may appear in only one.</param>
    /// <exception cref="InvalidDataException">A file is invalid or two files hold the same name.</exception>
    public static SafetensorsWeightSource FromSafetensors(params string[] files) => new(files);

    sealed class TensorSource : IWeightSource
    {
        readonly Dictionary<string, torch.Tensor> _weights = new(StringComparer.Ordinal);

        public TensorSource(List<KeyValuePair<string, torch.Tensor>> weights)
        {
            foreach (var (name, tensor) in weights)
                if (!_weights.TryAdd(name, tensor)) throw new ArgumentException($"Weight '{name}' appears twice.", nameof(weights));
            Names = weights.Select(w => w.Key).ToArray();
        }

        public IReadOnlyList<string> Names { get; }

        public long[] Shape(string name) => Get(name).shape;

        public torch.Tensor Load(string name) => Get(name).detach();

        torch.Tensor Get(string name) => _weights.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"No weight named '{name}'.");
    }
}

/// <summary>An <see cref="IWeightSource"/> over safetensors files that reads each weight from disk on demand.</summary>
public sealed class SafetensorsWeightSource : IWeightSource, IDisposable
{
    readonly List<SafetensorsFile> _files = [];
    readonly Dictionary<string, SafetensorsFile> _owner = new(StringComparer.Ordinal);

    internal SafetensorsWeightSource(string[] files)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (files.Length == 0) throw new ArgumentException("Give at least one safetensors file.", nameof(files));
        var names = new List<string>();
        try
        {
            foreach (string path in files)
            {
                var file = SafetensorsFile.Open(path);
                _files.Add(file);
                // Data order (by offset) follows the writer's layout, which is close to the model's order.
                foreach (string name in file.Names.OrderBy(n => file.GetInfo(n).Offset))
                {
                    if (!_owner.TryAdd(name, file))
                        throw new InvalidDataException($"Tensor '{name}' is in both '{_owner[name].Path}' and '{file.Path}'.");
                    names.Add(name);
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        Names = names;
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> Names { get; }

    /// <inheritdoc/>
    public long[] Shape(string name) => File(name).GetInfo(name).Shape.ToArray();

    /// <inheritdoc/>
    public torch.Tensor Load(string name) => File(name).Read(name);

    /// <summary>Closes the files.</summary>
    public void Dispose()
    {
        foreach (var file in _files) file.Dispose();
    }

    SafetensorsFile File(string name) => _owner.TryGetValue(name, out var file)
        ? file
        : throw new KeyNotFoundException($"No safetensors file of this source holds '{name}'.");
}
