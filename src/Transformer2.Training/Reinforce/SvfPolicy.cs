using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using Transformer2.Core.Experts;
using Transformer2.Core.Svf;
using static TorchSharp.torch;

namespace Transformer2.Training.Reinforce;

/// <summary>
/// The trainable part of an SVF expert: one raw vector p per target matrix, in a fixed order.
/// </summary>
/// <remarks>
/// The order is the order the targets are given in (for injected models, the model's module order: per layer gate, up,
/// down), which is also the order of the authors' <c>learnable_params_module_list</c>. Vectors are fp32 leaves with
/// <c>requires_grad</c>; the multipliers are recomputed from them inside each forward so that autograd reaches p.
/// </remarks>
public sealed class SvfPolicy : ITrainablePolicy
{
    readonly List<string> _targets;
    readonly List<Parameter> _vectors;

    /// <summary>A fresh policy: each vector drawn from the parameterisation's initial distribution.</summary>
    public SvfPolicy(IEnumerable<KeyValuePair<string, long>> targetLengths, SvfParameterization parameterization, long seed)
    {
        ArgumentNullException.ThrowIfNull(targetLengths);
        ArgumentNullException.ThrowIfNull(parameterization);
        parameterization.Validate();
        Parameterization = parameterization;
        var generator = new Generator((ulong)seed);
        _targets = new List<string>();
        _vectors = new List<Parameter>();
        foreach (var (target, length) in targetLengths)
        {
            using var initial = parameterization.InitialVector(length, generator);
            Add(target, initial);
        }
        if (_targets.Count == 0) throw new ArgumentException("A policy needs at least one target.", nameof(targetLengths));
    }

    /// <summary>A policy starting from given raw vectors (copied).</summary>
    public SvfPolicy(IEnumerable<KeyValuePair<string, Tensor>> vectors, SvfParameterization parameterization)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(parameterization);
        parameterization.Validate();
        Parameterization = parameterization;
        _targets = new List<string>();
        _vectors = new List<Parameter>();
        foreach (var (target, vector) in vectors) Add(target, vector);
        if (_targets.Count == 0) throw new ArgumentException("A policy needs at least one target.", nameof(vectors));
    }

    void Add(string target, Tensor vector)
    {
        if (vector.ndim != 1) throw new ArgumentException($"SVF vector for '{target}' must be 1-D, got [{string.Join(", ", vector.shape)}].");
        if (_targets.Contains(target)) throw new ArgumentException($"Target '{target}' appears twice.");
        _targets.Add(target);
        var p = new Parameter(vector.detach().to_type(ScalarType.Float32).clone(), requires_grad: true);
        _vectors.Add((Parameter)p.DetachFromDisposeScope());
    }

    /// <summary>How p maps to the multiplier.</summary>
    public SvfParameterization Parameterization { get; }

    /// <summary>Target names, in order.</summary>
    public IReadOnlyList<string> Targets => _targets;

    /// <summary>The target names (same as <see cref="Targets"/>).</summary>
    public IReadOnlyList<string> Names => _targets;

    /// <summary>Which adapted forward <see cref="Activate"/> uses with a gradient (both give the same gradient).</summary>
    public SvfPath GradientPath { get; set; } = SvfPath.Factored;

    /// <summary>The trainable vectors, in target order.</summary>
    public IReadOnlyList<Parameter> Parameters => _vectors;

    /// <summary>The raw vector of one target.</summary>
    public Parameter this[string target] => _vectors[IndexOf(target)];

    /// <summary>Number of trainable scalars.</summary>
    public long ParameterCount => _vectors.Sum(v => v.shape[0]);

    /// <summary>
    /// z for every target, differentiable through p. Create inside a dispose scope that outlives the forward using them.
    /// </summary>
    public Dictionary<string, Tensor> Multipliers()
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < _targets.Count; i++) result[_targets[i]] = Parameterization.Multiplier(_vectors[i]);
        return result;
    }

    /// <summary>z for every target with no autograd history (for rollouts and evaluation).</summary>
    public Dictionary<string, Tensor> DetachedMultipliers()
    {
        using var noGrad = no_grad();
        return Multipliers().ToDictionary(kv => kv.Key, kv => kv.Value.detach(), StringComparer.Ordinal);
    }

    /// <summary>
    /// Routes every <see cref="SvfLinear"/> forward inside the scope through the ambient <see cref="SvfContext"/> with the current
    /// multipliers (differentiable through p with <paramref name="withGradient"/>, on <see cref="GradientPath"/>); no weight is mutated.
    /// </summary>
    public IDisposable Activate(bool withGradient) =>
        withGradient ? SvfContext.Use(Multipliers(), GradientPath) : SvfContext.Use(DetachedMultipliers());

    /// <summary>Runs every <see cref="SvfLinear"/> on its base weight inside the scope.</summary>
    public IDisposable ActivateBase() => SvfContext.UseBase();

    /// <summary>Saves <paramref name="snapshot"/> as an SVF expert, <c>expert.safetensors</c>, with the run's provenance.</summary>
    public void SaveBest(string folder, IReadOnlyList<KeyValuePair<string, Tensor>> snapshot, PolicySaveInfo info)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        WriteExpert(Path.Combine(folder, ExpertFileName), snapshot, info);
    }

    /// <summary>
    /// Writes the best vectors of <paramref name="result"/> (a run of this policy) as an expert file at <paramref name="path"/>,
    /// atomically, with the run's provenance and its validation accuracy under <see cref="ValidationAccuracyScore"/>.
    /// The result keeps its tensors (the file gets copies).
    /// </summary>
    /// <param name="path">The expert file to write (<c>.safetensors</c>, with its JSON metadata beside it).</param>
    /// <param name="result">What <see cref="ReinforceTrainer.TrainAsync"/> returned for this policy.</param>
    /// <param name="options">The run's options (name, base model identity, seed, learning rate).</param>
    /// <param name="taskName">The task trained on; the expert's name when <see cref="ReinforceOptions.ExpertName"/> is null.</param>
    /// <exception cref="ArgumentException">The result's vectors are not this policy's targets.</exception>
    public void SaveExpert(string path, TrainingResult result, ReinforceOptions options, string taskName)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(taskName);
        if (!result.BestVectors.Select(v => v.Key).SequenceEqual(_targets))
            throw new ArgumentException("The training result's vectors are not this policy's SVF targets (was it trained with another policy?).", nameof(result));
        WriteExpert(path, result.BestVectors, new PolicySaveInfo(options, taskName, result.BestIteration, result.BestValidationAccuracy ?? double.NaN));
    }

    /// <summary>The score under which <see cref="SaveBest"/> and <see cref="SaveExpert"/> record the validation accuracy.</summary>
    public const string ValidationAccuracyScore = "validation_accuracy";

    void WriteExpert(string path, IReadOnlyList<KeyValuePair<string, Tensor>> snapshot, PolicySaveInfo info)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(info);
        var options = info.Options;
        var metadata = new ExpertMetadata
        {
            Name = options.ExpertName ?? info.TaskName,
            BaseModelIdentity = options.BaseModelIdentity,
            Targets = snapshot.Select(v => v.Key).ToList(),
            Parameterization = Parameterization,
            Provenance = new Dictionary<string, string>
            {
                ["trainer"] = "REINFORCE",
                ["task"] = info.TaskName,
                ["iteration"] = info.Iteration.ToString(CultureInfo.InvariantCulture),
                ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
                ["learning_rate"] = options.LearningRate.ToString("R", CultureInfo.InvariantCulture),
                ["kl_coefficient"] = options.KlCoefficient.ToString("R", CultureInfo.InvariantCulture),
                ["created_utc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            },
            // Never validated: no score rather than a NaN that JSON cannot hold.
            Scores = double.IsNaN(info.ValidationAccuracy)
                ? new Dictionary<string, double>()
                : new Dictionary<string, double> { [ValidationAccuracyScore] = info.ValidationAccuracy },
        };
        using var expert = new Expert(metadata, snapshot.Select(v => new KeyValuePair<string, Tensor>(v.Key, v.Value.detach().clone())).ToList());
        ExpertFile.Save(expert, path);
    }

    /// <summary>The file <see cref="SaveBest"/> writes.</summary>
    public const string ExpertFileName = "expert.safetensors";

    /// <summary>Copies of the raw vectors (detached, fp32), keyed by target, in order.</summary>
    public List<KeyValuePair<string, Tensor>> Snapshot()
    {
        using var noGrad = no_grad();
        return _targets.Select((t, i) => new KeyValuePair<string, Tensor>(t, _vectors[i].detach().clone())).ToList();
    }

    /// <summary>Overwrites the vectors with <paramref name="vectors"/> (same targets and lengths).</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> vectors)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < _targets.Count; i++)
        {
            if (!vectors.TryGetValue(_targets[i], out var v)) throw new KeyNotFoundException($"No vector for target '{_targets[i]}'.");
            if (v.shape.Length != 1 || v.shape[0] != _vectors[i].shape[0])
                throw new ArgumentException($"Vector for '{_targets[i]}' has shape [{string.Join(", ", v.shape)}], expected [{_vectors[i].shape[0]}].");
            _vectors[i].copy_(v);
        }
    }

    int IndexOf(string target)
    {
        int i = _targets.IndexOf(target);
        return i >= 0 ? i : throw new KeyNotFoundException($"The policy has no target '{target}'.");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var v in _vectors) v.Dispose();
        _vectors.Clear();
    }
}
