using TorchSharp.Modules;
using Transformer2.Core.Quantization;
using Transformer2.Core.Svd;
using static TorchSharp.torch;

namespace Transformer2.Core.Svf;

/// <summary>
/// Swaps chosen <c>Linear</c> layers of any TorchSharp model for <see cref="SvfLinear"/>, by weight name, and back.
/// </summary>
/// <remarks>
/// Models need no SVF-specific code: a projection only has to be held in a field (or registered child) whose name
/// equals its checkpoint key and whose declared type accepts a <c>Module&lt;Tensor, Tensor&gt;</c>. The swap keeps the
/// child's position in the module tree, so state-dict keys and their order are unchanged.
/// </remarks>
public static class SvfInjector
{
    /// <summary>The SVD factors (U [out, k], S [k], V [in, k]) for one target weight.</summary>
    public delegate (Tensor U, Tensor S, Tensor V) FactorSource(string targetName, Tensor weight);

    /// <summary>
    /// Replaces every <c>Linear</c> whose weight name satisfies <paramref name="isTarget"/>. Returns the new layers by target name.
    /// </summary>
    /// <param name="root">The model.</param>
    /// <param name="isTarget">Selects weights by full name.</param>
    /// <param name="factors">Gives each target's factors.</param>
    /// <param name="storage">
    /// <see cref="SvfWeightStorage.FactoredOnly"/> frees each dense weight as soon as its layer is swapped, so peak memory
    /// is the model plus one matrix's factors, not the model plus all factors.
    /// </param>
    /// <exception cref="ArgumentException">No layer matched, or a matching layer cannot be swapped (its field type is <c>Linear</c>).</exception>
    public static IReadOnlyDictionary<string, SvfLinear> Inject(nn.Module root, Func<string, bool> isTarget, FactorSource factors, SvfWeightStorage storage = SvfWeightStorage.Dense)
    {
        if (!Enum.IsDefined(storage)) throw new ArgumentOutOfRangeException(nameof(storage), storage, "Unknown SVF weight storage.");
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(isTarget);
        ArgumentNullException.ThrowIfNull(factors);
        var replaced = new Dictionary<string, SvfLinear>(StringComparer.Ordinal);
        var plan = root.named_modules()
            .Where(m => m.module is Linear && isTarget(ModuleSwap.Qualify(m.name, "weight")))
            .Select(m => (m.name, linear: (Linear)m.module))
            .ToList();
        if (plan.Count == 0)
        {
            if (root.modules().OfType<Q8Linear>().FirstOrDefault(q => isTarget(q.Name)) is { } quantized)
                throw new ArgumentException($"The SVF target '{quantized.Name}' holds int8 weights; decompose before quantizing (quantize after injecting SVF, as TransformerSquaredBuilder.UseInt8Weights does).", nameof(isTarget));
            throw new ArgumentException("No Linear layer's weight matched the SVF target selector.", nameof(isTarget));
        }
        foreach (var (name, linear) in plan)
        {
            string target = ModuleSwap.Qualify(name, "weight");
            var (u, s, v) = factors(target, linear.weight!);
            var svf = new SvfLinear(target, linear.weight!, linear.bias, u, s, v);
            ModuleSwap.Replace(root, name, svf);
            replaced[target] = svf;
            if (storage == SvfWeightStorage.FactoredOnly)
            {
                // Both handles on W must go before the next matrix, or the model's memory grows by every set of factors.
                svf.DropDenseWeight();
                linear.Dispose();
            }
        }
        return replaced;
    }

    /// <summary>
    /// Replaces the layers <paramref name="targets"/> selects (default: the MLP projections, as the paper), decomposing each
    /// weight in memory: the one call a training or inference program needs before it can use SVF vectors.
    /// </summary>
    /// <param name="root">The model.</param>
    /// <param name="targets">Which weights; <see cref="TargetSelector.Default"/> when null.</param>
    /// <param name="cancellationToken">Checked between matrices (a large model takes minutes; see <see cref="DecompositionCache"/> to keep the result).</param>
    /// <param name="storage">Whether the layers keep their dense weights (see <see cref="SvfWeightStorage"/>).</param>
    /// <exception cref="ArgumentException">No layer matched <paramref name="targets"/>.</exception>
    public static IReadOnlyDictionary<string, SvfLinear> InjectDecomposed(nn.Module root, TargetSelector? targets = null, CancellationToken cancellationToken = default,
        SvfWeightStorage storage = SvfWeightStorage.Dense)
    {
        var selector = targets ?? TargetSelector.Default;
        return Inject(root, selector.IsTarget, (_, weight) =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var factors = SvdFactors.Decompose(weight);
            return (factors.U.alias(), factors.S.alias(), factors.V.alias());
        }, storage);
    }

    /// <summary>Replaces the layers of every target in <paramref name="cache"/>, reading their factors from it.</summary>
    /// <param name="root">The model.</param>
    /// <param name="cache">The decomposition; each matrix's factors are read when its layer is swapped.</param>
    /// <param name="storage">Whether the layers keep their dense weights (see <see cref="SvfWeightStorage"/>).</param>
    /// <exception cref="ArgumentException">No layer matched the cache's targets.</exception>
    public static IReadOnlyDictionary<string, SvfLinear> InjectFromCache(nn.Module root, DecompositionCache cache, SvfWeightStorage storage = SvfWeightStorage.Dense)
    {
        ArgumentNullException.ThrowIfNull(cache);
        var names = cache.Targets.ToHashSet(StringComparer.Ordinal);
        return Inject(root, names.Contains, (name, _) =>
        {
            using var factors = cache.GetFactors(name);
            return (factors.U.alias(), factors.S.alias(), factors.V.alias());
        }, storage);
    }

    /// <summary>Refuses an operation that reads dense weights (saving a checkpoint, for example) on a model with factored-only layers.</summary>
    /// <param name="root">The model.</param>
    /// <param name="operation">What the caller was about to do, for the message (for example <c>save the checkpoint</c>).</param>
    /// <exception cref="InvalidOperationException">A layer of <paramref name="root"/> has dropped its dense weight.</exception>
    public static void RequireDenseWeights(nn.Module root, string operation)
    {
        ArgumentNullException.ThrowIfNull(root);
        var factoredOnly = root.modules().OfType<SvfLinear>().Where(l => !l.HasDenseWeight).Select(l => l.TargetName).ToList();
        if (factoredOnly.Count > 0)
            throw new InvalidOperationException(
                $"Cannot {operation}: {factoredOnly.Count} SVF layer(s) are factored-only and hold no dense weight (first: {factoredOnly[0]}). Call SvfInjector.Remove (which rebuilds W = U·diag(S)·Vᵀ) or SvfLinear.RestoreDenseWeight first.");
        if (WeightQuantizer.IsQuantized(root, out var quantized))
            throw new InvalidOperationException(
                $"Cannot {operation}: the model holds int8 weights (first: {quantized}), which a checkpoint cannot store. Use a model loaded without weight quantization.");
    }

    /// <summary>Finds the <see cref="SvfLinear"/> layers already in a model, by target name.</summary>
    public static IReadOnlyDictionary<string, SvfLinear> Find(nn.Module root) =>
        root.named_modules().Where(m => m.module is SvfLinear).ToDictionary(m => ((SvfLinear)m.module).TargetName, m => (SvfLinear)m.module, StringComparer.Ordinal);

    /// <summary>
    /// Puts plain <c>Linear</c> layers (sharing the base weights) back in place of every <see cref="SvfLinear"/>; a
    /// factored-only layer gets its weight rebuilt from U, S and V first.
    /// </summary>
    public static void Remove(nn.Module root)
    {
        foreach (var (name, module) in root.named_modules().Where(m => m.module is SvfLinear).ToList())
        {
            var svf = (SvfLinear)module;
            svf.Unmerge();
            svf.RestoreDenseWeight();
            ModuleSwap.Replace(root, name, ModuleSwap.FrozenLinear(svf.weight!, svf.bias));
        }
    }
}
