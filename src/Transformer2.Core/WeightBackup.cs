using static TorchSharp.torch;

namespace Transformer2.Core;

/// <summary>
/// The original bits of a weight while an adapted one is merged into it, so layers that merge (SVF, LoRA) can restore
/// it exactly. Owns its copy; keeps it on the weight's device and dtype when the module moves.
/// </summary>
public sealed class WeightBackup : IDisposable
{
    Tensor? _copy;

    /// <summary>True while a copy is held (the layer is merged).</summary>
    public bool HasCopy => _copy is not null;

    /// <summary>Copies <paramref name="weight"/> unless a copy is already held (merging twice keeps the first original).</summary>
    public void SaveOnce(Tensor weight)
    {
        if (_copy is not null) return;
        using var noGrad = no_grad();
        _copy = weight.detach().clone().DetachFromDisposeScope();
    }

    /// <summary>Writes the saved bits back into <paramref name="weight"/> and drops the copy. A no-op without one.</summary>
    public void Restore(Tensor weight)
    {
        if (_copy is null) return;
        using (no_grad()) weight.copy_(_copy);
        _copy.Dispose();
        _copy = null;
    }

    /// <summary>Moves the copy to <paramref name="weight"/>'s dtype and device (call after the module was moved).</summary>
    public void Follow(Tensor weight)
    {
        if (_copy is null) return;
        var moved = _copy.to(weight.dtype, weight.device).DetachFromDisposeScope();
        if (!ReferenceEquals(moved, _copy)) _copy.Dispose();
        _copy = moved;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _copy?.Dispose();
        _copy = null;
    }
}
