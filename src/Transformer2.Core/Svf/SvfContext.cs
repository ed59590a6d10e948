using static TorchSharp.torch;

namespace Transformer2.Core.Svf;

/// <summary>
/// Ambient SVF multipliers for the forwards that run inside a <see cref="Use"/> block, keyed by target weight name
/// (for example <c>model.layers.0.mlp.up_proj.weight</c>).
/// </summary>
/// <remarks>
/// The multipliers flow with the async context (<see cref="AsyncLocal{T}"/>), not with the model, so two requests
/// running concurrently on one model each see only their own experts. A target missing from the map runs its base weight.
/// Inside a block the map overrides each layer's own <see cref="SvfLinear.Multiplier"/>. The caller owns the tensors
/// and must keep them alive for the block.
/// </remarks>
public static class SvfContext
{
    static readonly AsyncLocal<Frame?> Current = new();

    sealed record Frame(IReadOnlyDictionary<string, Tensor> Multipliers, SvfPath Path);

    /// <summary>Runs the enclosed forwards with <paramref name="multipliers"/> ([k] for the whole batch or [batch, k] per row).</summary>
    public static IDisposable Use(IReadOnlyDictionary<string, Tensor> multipliers, SvfPath path = SvfPath.Factored)
    {
        ArgumentNullException.ThrowIfNull(multipliers);
        var previous = Current.Value;
        Current.Value = new Frame(multipliers, path);
        return new Restore(previous);
    }

    /// <summary>Runs the enclosed forwards with no adaptation at all, whatever the layers hold.</summary>
    public static IDisposable UseBase() => Use(new Dictionary<string, Tensor>());

    internal static bool TryGet(string target, out Tensor? multiplier, out SvfPath path)
    {
        var frame = Current.Value;
        multiplier = null;
        path = SvfPath.Factored;
        if (frame is null) return false;
        frame.Multipliers.TryGetValue(target, out multiplier);
        path = frame.Path;
        return true;
    }

    sealed class Restore(Frame? previous) : IDisposable
    {
        bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            Current.Value = previous;
        }
    }
}
