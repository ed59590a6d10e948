using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer2.Core.Quantization;

/// <summary>
/// Swaps the plain <c>Linear</c> layers of a TorchSharp model for <see cref="Q8Linear"/> (int8 weights, Q8_0 layout),
/// one at a time, freeing each dense weight as soon as its int8 copy exists.
/// </summary>
/// <remarks>
/// Only layers that are still plain <c>Linear</c> are touched, so adapter layers already in place (SVF's
/// <c>SvfLinear</c>, LoRA) keep their weights and factors in the working dtype: inject adapters first, then quantize
/// what stays frozen. A weight shared with another parameter (a tied LM head shares the embedding table) gets an int8
/// copy for the product and the shared tensor is left alone.
/// </remarks>
public static class WeightQuantizer
{
    /// <summary>
    /// Replaces every <c>Linear</c> whose weight name satisfies <paramref name="include"/> (all of them by default).
    /// Returns the new layers by weight name. A layer whose input size is not a multiple of 32 is left as it is (llama.cpp
    /// keeps such rows out of Q8_0 too).
    /// </summary>
    /// <param name="root">The model (its own layers are replaced; the root itself cannot be).</param>
    /// <param name="include">Selects weights by full name, e.g. <c>model.layers.0.self_attn.q_proj.weight</c>.</param>
    /// <param name="cancellationToken">Checked between layers; layers quantized before a cancellation stay quantized.</param>
    /// <exception cref="ArgumentException">A selected layer cannot be swapped (its field is typed <c>Linear</c>); earlier layers stay quantized, the model stays usable.</exception>
    public static IReadOnlyDictionary<string, Q8Linear> QuantizeLinears(nn.Module root, Func<string, bool>? include = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        include ??= _ => true;
        var plan = root.named_modules()
            .Where(m => m.name.Length > 0 && m.module is Linear linear && linear.weight is { ndim: 2 } weight && weight.shape[1] % Q8Linear.BlockSize == 0 && include(ModuleSwap.Qualify(m.name, "weight")))
            .Select(m => (m.name, linear: (Linear)m.module))
            .ToList();
        // Storage shared by two parameter names (a tied head) must not be freed with the layer.
        // (named_parameters() lists a shared parameter once, so count each module's own parameters instead.)
        var uses = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        foreach (var module in root.modules())
            foreach (var (_, parameter) in module.named_parameters(recurse: false)) uses[parameter] = uses.GetValueOrDefault(parameter) + 1;
        var replaced = new Dictionary<string, Q8Linear>(StringComparer.Ordinal);
        foreach (var (name, linear) in plan)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string target = ModuleSwap.Qualify(name, "weight");
            var weight = linear.weight!;
            bool shared = uses.GetValueOrDefault(weight) > 1;
            var quantized = new Q8Linear(target, weight, linear.bias);
            try
            {
                ModuleSwap.Replace(root, name, quantized);
            }
            catch
            {
                quantized.Dispose();
                throw;
            }
            replaced[target] = quantized;
            if (!shared) linear.Dispose();
        }
        return replaced;
    }

    /// <summary>Whether <paramref name="root"/> holds any int8 layer, and the name of the first one.</summary>
    public static bool IsQuantized(nn.Module root, out string? firstLayer)
    {
        ArgumentNullException.ThrowIfNull(root);
        firstLayer = root.modules().OfType<Q8Linear>().FirstOrDefault()?.Name;
        return firstLayer is not null;
    }
}
