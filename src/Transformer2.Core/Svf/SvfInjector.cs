using System.Reflection;
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
            .Where(m => m.module is Linear && isTarget(Qualify(m.name, "weight")))
            .Select(m => (m.name, linear: (Linear)m.module))
            .ToList();
        if (plan.Count == 0) throw new ArgumentException("No Linear layer's weight matched the SVF target selector.", nameof(isTarget));
        foreach (var (name, linear) in plan)
        {
            string target = Qualify(name, "weight");
            var (u, s, v) = factors(target, linear.weight!);
            var svf = new SvfLinear(target, linear.weight!, linear.bias, u, s, v);
            Swap(root, name, svf);
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
            var linear = nn.Linear(svf.weight.shape[1], svf.weight.shape[0], hasBias: svf.bias is not null, device: svf.weight.device, dtype: svf.weight.dtype);
            using (no_grad())
            {
                linear.weight = new TorchSharp.Modules.Parameter(svf.weight.detach(), requires_grad: false);
                if (svf.bias is not null) linear.bias = new TorchSharp.Modules.Parameter(svf.bias.detach(), requires_grad: false);
            }
            Swap(root, name, linear);
        }
    }

    static string Qualify(string prefix, string leaf) => prefix.Length == 0 ? leaf : prefix + "." + leaf;

    /// <summary>Replaces the child at dotted path <paramref name="path"/>: both the registered child and the backing field.</summary>
    static void Swap(nn.Module root, string path, nn.Module replacement)
    {
        int dot = path.LastIndexOf('.');
        string parentPath = dot < 0 ? "" : path[..dot];
        string leaf = dot < 0 ? path : path[(dot + 1)..];
        nn.Module parent = parentPath.Length == 0
            ? root
            : root.named_modules().First(m => m.name == parentPath).module;

        // 1. The field the parent's forward reads. Sequential/ModuleList children have no field: the registry is enough.
        var field = FindField(parent.GetType(), leaf);
        if (field is not null)
        {
            if (!field.FieldType.IsAssignableFrom(replacement.GetType()))
                throw new ArgumentException(
                    $"Cannot swap '{path}': field {parent.GetType().Name}.{field.Name} is declared as {field.FieldType.Name}; declare it as Module<Tensor, Tensor> so SVF layers can stand in.");
            field.SetValue(parent, replacement);
        }

        // 2. The parent's child registry, at the same position (keeps state-dict order).
        var registryField = typeof(nn.Module).GetField("_internal_submodules", BindingFlags.Instance | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException("This TorchSharp version has no Module._internal_submodules; SVF injection needs updating.");
        var registry = (TorchSharp.Utils.OrderedDict<string, nn.Module>)registryField.GetValue(parent)!;
        int index = -1;
        for (int i = 0; i < registry.Count; i++)
        {
            if (registry[i].Item1 == leaf) { index = i; break; }
        }
        if (index < 0) throw new InvalidOperationException($"'{path}' is not a registered child of its parent.");
        registry.RemoveAt(index);
        registry.Insert(index, (leaf, replacement));
    }

    static FieldInfo? FindField(Type type, string name)
    {
        for (var t = type; t is not null && t != typeof(nn.Module); t = t.BaseType)
        {
            var f = t.GetField(name, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly);
            if (f is not null) return f;
        }
        return null;
    }
}
