using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer2.Training.Reinforce;

/// <summary>
/// What <see cref="ReinforceTrainer"/> trains: a set of named tensors that adapt a model's forward pass. Implemented by
/// <see cref="SvfPolicy"/> (singular-value vectors) and <see cref="Lora.LoraPolicy"/> (LoRA adapters, the paper's ablation).
/// </summary>
public interface ITrainablePolicy : IDisposable
{
    /// <summary>Names of the trainable tensors, in a fixed order (SVF: target weight names; LoRA: <c>….lora_A.weight</c>/<c>….lora_B.weight</c>).</summary>
    IReadOnlyList<string> Names { get; }

    /// <summary>The trainable tensors, in <see cref="Names"/> order; leaves that require a gradient.</summary>
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Number of trainable scalars.</summary>
    long ParameterCount { get; }

    /// <summary>
    /// Makes the model's forwards inside the returned scope use the current policy; with <paramref name="withGradient"/> the
    /// outputs are differentiable with respect to <see cref="Parameters"/>. Tensors it creates belong to the caller's dispose scope.
    /// </summary>
    IDisposable Activate(bool withGradient);

    /// <summary>Makes the model's forwards inside the returned scope run the unadapted base model (the KL reference).</summary>
    IDisposable ActivateBase();

    /// <summary>Detached copies of the trainable tensors, keyed by name, in order. The caller owns them.</summary>
    List<KeyValuePair<string, Tensor>> Snapshot();

    /// <summary>Overwrites the trainable tensors (same names and shapes).</summary>
    /// <exception cref="KeyNotFoundException">A name is missing.</exception>
    /// <exception cref="ArgumentException">A shape differs.</exception>
    void Load(IReadOnlyDictionary<string, Tensor> values);

    /// <summary>Saves <paramref name="snapshot"/> (from <see cref="Snapshot"/>) as this policy's deliverable in <paramref name="folder"/>, atomically.</summary>
    void SaveBest(string folder, IReadOnlyList<KeyValuePair<string, Tensor>> snapshot, PolicySaveInfo info);
}
