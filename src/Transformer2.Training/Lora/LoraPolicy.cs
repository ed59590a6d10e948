using TorchSharp.Modules;
using Transformer2.Training.Reinforce;
using static TorchSharp.torch;

namespace Transformer2.Training.Lora;

/// <summary>
/// LoRA adapters as a <see cref="ReinforceTrainer"/> policy: the paper's ablation that trains LoRA by the same policy gradient
/// as SVF (t2-reference §6, Table 4 row 5). The trainable tensors are the A and B weights of every <see cref="LoraLinear"/> in the model.
/// </summary>
/// <remarks>
/// The adapters live in the model, so activating the policy only switches them on (and the base model is the model with them
/// switched off). Dropout follows the model's train/eval mode; the trainer leaves the mode alone, so an eval-mode model gives
/// deterministic log-probabilities that match its rollouts. The best adapter is saved in PEFT layout.
/// </remarks>
public sealed class LoraPolicy : ITrainablePolicy
{
    readonly IReadOnlyList<LoraLinear> _layers;
    readonly List<string> _names;
    readonly List<Parameter> _parameters;

    /// <summary>Wraps the LoRA layers already injected in <paramref name="model"/> (see <see cref="LoraInjector.Inject"/>).</summary>
    /// <param name="model">A model with LoRA layers.</param>
    /// <param name="config">The config the layers were injected with; written with the saved adapter.</param>
    /// <exception cref="ArgumentException">The model has no LoRA layers, or they disagree with <paramref name="config"/>.</exception>
    public LoraPolicy(nn.Module model, LoraConfig config)
    {
        ArgumentNullException.ThrowIfNull(model);
        Config = config ?? throw new ArgumentNullException(nameof(config));
        config.Validate();
        var layers = LoraInjector.Find(model);
        if (layers.Count == 0) throw new ArgumentException("The model has no LoRA layers: call LoraInjector.Inject on it before training.", nameof(model));
        foreach (var (name, layer) in layers)
            if (layer.Rank != config.Rank || Math.Abs(layer.Scaling - config.Scaling) > 1e-12)
                throw new ArgumentException($"LoRA layer '{name}' has r = {layer.Rank}, scaling = {layer.Scaling}; the config says r = {config.Rank}, scaling = {config.Scaling}.", nameof(config));
        _layers = layers.Values.ToList();
        var named = LoraInjector.Parameters(model);
        _names = named.Select(p => p.Key).ToList();
        _parameters = named.Select(p => p.Value).ToList();
    }

    /// <summary>The adapters' config.</summary>
    public LoraConfig Config { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> Names => _names;

    /// <inheritdoc />
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <inheritdoc />
    public long ParameterCount => _parameters.Sum(p => p.numel());

    /// <summary>Switches the adapters on for the scope (gradients flow to A and B whenever autograd is on).</summary>
    /// <exception cref="InvalidOperationException">A layer is merged: its forward would not depend on A and B.</exception>
    public IDisposable Activate(bool withGradient)
    {
        if (_layers.FirstOrDefault(l => l.IsMerged) is { } merged)
            throw new InvalidOperationException($"LoRA layer '{merged.ModulePath}' is merged; unmerge it before training.");
        return new EnabledScope(_layers, true);
    }

    /// <summary>Switches the adapters off for the scope: the base model.</summary>
    public IDisposable ActivateBase()
    {
        if (_layers.FirstOrDefault(l => l.IsMerged) is { } merged)
            throw new InvalidOperationException($"LoRA layer '{merged.ModulePath}' is merged, so the base model is not available; unmerge it first.");
        return new EnabledScope(_layers, false);
    }

    /// <inheritdoc />
    public List<KeyValuePair<string, Tensor>> Snapshot()
    {
        using var noGrad = no_grad();
        return _names.Select((n, i) => new KeyValuePair<string, Tensor>(n, _parameters[i].detach().clone())).ToList();
    }

    /// <inheritdoc />
    public void Load(IReadOnlyDictionary<string, Tensor> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        for (int i = 0; i < _names.Count; i++)
        {
            if (!values.TryGetValue(_names[i], out var v)) throw new KeyNotFoundException($"No tensor for '{_names[i]}'.");
            if (!v.shape.SequenceEqual(_parameters[i].shape))
                throw new ArgumentException($"Tensor for '{_names[i]}' has shape [{string.Join(", ", v.shape)}], expected [{string.Join(", ", _parameters[i].shape)}].", nameof(values));
        }
        using var noGrad = no_grad();
        for (int i = 0; i < _names.Count; i++) _parameters[i].copy_(values[_names[i]]);
    }

    /// <summary>Saves <paramref name="snapshot"/> as a PEFT adapter (<c>adapter_model.safetensors</c>, <c>adapter_config.json</c>).</summary>
    public void SaveBest(string folder, IReadOnlyList<KeyValuePair<string, Tensor>> snapshot, PolicySaveInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        LoraAdapterFile.Save(folder, Config, snapshot, info.Options.BaseModelIdentity);
    }

    /// <summary>Nothing to release: the adapters belong to the model.</summary>
    public void Dispose()
    {
    }

    sealed class EnabledScope : IDisposable
    {
        readonly IReadOnlyList<LoraLinear> _layers;
        readonly bool[] _previous;

        public EnabledScope(IReadOnlyList<LoraLinear> layers, bool enabled)
        {
            _layers = layers;
            _previous = layers.Select(l => l.Enabled).ToArray();
            foreach (var l in layers) l.Enabled = enabled;
        }

        public void Dispose()
        {
            for (int i = 0; i < _layers.Count; i++) _layers[i].Enabled = _previous[i];
        }
    }
}
