using System.Reflection;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer2.Core;

/// <summary>
/// Replaces a child module anywhere in a TorchSharp module tree, in place: the backing field the parent's forward reads
/// and the parent's child registry, at the same position so state-dict keys and their order are kept.
/// </summary>
/// <remarks>
/// This is the mechanism adapters (SVF, LoRA) use to stand in for a model's projections. A projection can be replaced when
/// it is held in a field (or registered child) whose name equals its checkpoint key and whose declared type accepts the
/// replacement, e.g. <c>Module&lt;Tensor, Tensor&gt;</c>.
/// </remarks>
public static class ModuleSwap
{
    /// <summary>Joins a module path and a leaf name with a dot (no dot for the root).</summary>
    public static string Qualify(string prefix, string leaf) => prefix.Length == 0 ? leaf : prefix + "." + leaf;

    /// <summary>Replaces the child at dotted path <paramref name="path"/> (as in <c>named_modules()</c>) by <paramref name="replacement"/>.</summary>
    /// <exception cref="ArgumentException">The path names no child, or the parent's field cannot hold the replacement's type.</exception>
    public static void Replace(nn.Module root, string path, nn.Module replacement)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(replacement);
        int dot = path.LastIndexOf('.');
        string parentPath = dot < 0 ? "" : path[..dot];
        string leaf = dot < 0 ? path : path[(dot + 1)..];
        nn.Module parent = parentPath.Length == 0
            ? root
            : root.named_modules().FirstOrDefault(m => m.name == parentPath).module
              ?? throw new ArgumentException($"Cannot swap '{path}': the model has no module '{parentPath}'.", nameof(path));

        // 1. The field the parent's forward reads. Sequential/ModuleList children have no field: the registry is enough.
        var field = FindField(parent.GetType(), leaf);
        if (field is not null)
        {
            if (!field.FieldType.IsAssignableFrom(replacement.GetType()))
                throw new ArgumentException(
                    $"Cannot swap '{path}': field {parent.GetType().Name}.{field.Name} is declared as {field.FieldType.Name}; declare it as Module<Tensor, Tensor> so adapter layers can stand in.");
            field.SetValue(parent, replacement);
        }

        // 2. The parent's child registry, at the same position (keeps state-dict order).
        var registryField = typeof(nn.Module).GetField("_internal_submodules", BindingFlags.Instance | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException("This TorchSharp version has no Module._internal_submodules; module swapping needs updating.");
        var registry = (TorchSharp.Utils.OrderedDict<string, nn.Module>)registryField.GetValue(parent)!;
        int index = -1;
        for (int i = 0; i < registry.Count; i++)
        {
            if (registry[i].Item1 == leaf) { index = i; break; }
        }
        if (index < 0) throw new ArgumentException($"Cannot swap '{path}': it is not a registered child of its parent.", nameof(path));
        registry.RemoveAt(index);
        registry.Insert(index, (leaf, replacement));
    }

    /// <summary>A plain frozen <c>Linear</c> over <paramref name="weight"/> [out, in] and an optional <paramref name="bias"/>, sharing their storage.</summary>
    public static Linear FrozenLinear(Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(weight);
        var linear = nn.Linear(weight.shape[1], weight.shape[0], hasBias: bias is not null, device: weight.device, dtype: weight.dtype);
        using (no_grad())
        {
            linear.weight = new Parameter(weight.detach(), requires_grad: false);
            if (bias is not null) linear.bias = new Parameter(bias.detach(), requires_grad: false);
        }
        return linear;
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
