using TorchSharp.Modules;
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
    /// <exception cref="ArgumentException">No layer matched, or a matching layer cannot be swapped (its field type is <c>Linear</c>).</exception>
    public static IReadOnlyDictionary<string, SvfLinear> Inject(nn.Module root, Func<string, bool> isTarget, FactorSource factors)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(isTarget);
        ArgumentNullException.ThrowIfNull(factors);
        var replaced = new Dictionary<string, SvfLinear>(StringComparer.Ordinal);
        var plan = root.named_modules()
            .Where(m => m.module is Linear && isTarget(ModuleSwap.Qualify(m.name, "weight")))
            .Select(m => (m.name, linear: (Linear)m.module))
            .ToList();
        if (plan.Count == 0) throw new ArgumentException("No Linear layer's weight matched the SVF target selector.", nameof(isTarget));
        foreach (var (name, linear) in plan)
        {
            string target = ModuleSwap.Qualify(name, "weight");
            var (u, s, v) = factors(target, linear.weight!);
            var svf = new SvfLinear(target, linear.weight!, linear.bias, u, s, v);
            ModuleSwap.Replace(root, name, svf);
            replaced[target] = svf;
        }
        return replaced;
    }

    /// <summary>Finds the <see cref="SvfLinear"/> layers already in a model, by target name.</summary>
    public static IReadOnlyDictionary<string, SvfLinear> Find(nn.Module root) =>
        root.named_modules().Where(m => m.module is SvfLinear).ToDictionary(m => ((SvfLinear)m.module).TargetName, m => (SvfLinear)m.module, StringComparer.Ordinal);

    /// <summary>Puts plain <c>Linear</c> layers (sharing the base weights) back in place of every <see cref="SvfLinear"/>.</summary>
    public static void Remove(nn.Module root)
    {
        foreach (var (name, module) in root.named_modules().Where(m => m.module is SvfLinear).ToList())
        {
            var svf = (SvfLinear)module;
            svf.Unmerge();
            ModuleSwap.Replace(root, name, ModuleSwap.FrozenLinear(svf.weight, svf.bias));
        }
    }
}
