using TorchSharp.Modules;
using Transformer2.Core;
using static TorchSharp.torch;

namespace Transformer2.Training.Lora;

/// <summary>
/// Swaps a model's target <c>Linear</c> layers for <see cref="LoraLinear"/> (PEFT's <c>get_peft_model</c>), and back.
/// </summary>
/// <remarks>
/// Uses the same in-place swap as SVF injection (<see cref="ModuleSwap"/>): base weights keep their checkpoint keys and order;
/// each adapted module gains <c>lora_A.weight</c> and <c>lora_B.weight</c> under its own path.
/// </remarks>
public static class LoraInjector
{
    /// <summary>
    /// Replaces every <c>Linear</c> whose module path matches <paramref name="config"/>'s target modules and freezes every base
    /// parameter of the model. Returns the new layers by module path, in module order.
    /// </summary>
    /// <param name="root">The model.</param>
    /// <param name="config">Rank, α, dropout and targets (validated).</param>
    /// <param name="seed">Seed for the A matrices' initialisation; null draws from torch's global generator.</param>
    /// <exception cref="ArgumentException">No <c>Linear</c> matched the targets, or a matching layer cannot be swapped.</exception>
    public static IReadOnlyDictionary<string, LoraLinear> Inject(nn.Module root, LoraConfig config, long? seed = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var modules = root.named_modules().ToList();
        var plan = modules.Where(m => m.name.Length > 0 && m.module is Linear && config.Matches(m.name)).Select(m => (m.name, linear: (Linear)m.module)).ToList();
        if (plan.Count == 0)
        {
            var already = modules.Where(m => m.module is LoraLinear && config.Matches(m.name)).Select(m => m.name).FirstOrDefault();
            throw new ArgumentException(already is not null
                ? $"The LoRA targets [{string.Join(", ", config.TargetModules)}] are already LoRA layers (e.g. '{already}'); call LoraInjector.Remove first."
                : $"No Linear layer matched the LoRA targets [{string.Join(", ", config.TargetModules)}]; Linear layers of this model: [{string.Join(", ", modules.Where(m => m.module is Linear).Select(m => m.name).Take(8))}, …].",
                nameof(config));
        }

        foreach (var parameter in root.parameters()) parameter.requires_grad = false;
        using var generator = seed is { } s ? new Generator((ulong)s) : null;
        var replaced = new Dictionary<string, LoraLinear>(StringComparer.Ordinal);
        foreach (var (name, linear) in plan)
        {
            var lora = new LoraLinear(name, linear.weight!, linear.bias, config, generator);
            lora.train(linear.training);   // a new module starts in training mode: follow the layer it replaces (dropout!)
            ModuleSwap.Replace(root, name, lora);
            replaced[name] = lora;
        }
        return replaced;
    }

    /// <summary>The <see cref="LoraLinear"/> layers in a model, by module path, in module order.</summary>
    public static IReadOnlyDictionary<string, LoraLinear> Find(nn.Module root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var found = new Dictionary<string, LoraLinear>(StringComparer.Ordinal);
        foreach (var (name, module) in root.named_modules())
            if (module is LoraLinear lora) found[name] = lora;
        return found;
    }

    /// <summary>The trainable LoRA tensors (A then B of each layer, in module order), keyed by their names inside the model.</summary>
    public static IReadOnlyList<KeyValuePair<string, Parameter>> Parameters(nn.Module root) =>
        Find(root).SelectMany(l => new[]
        {
            new KeyValuePair<string, Parameter>(l.Key + ".lora_A.weight", l.Value.A),
            new KeyValuePair<string, Parameter>(l.Key + ".lora_B.weight", l.Value.B),
        }).ToList();

    /// <summary>Puts plain frozen <c>Linear</c> layers (sharing the base weights) back in place of every <see cref="LoraLinear"/>, discarding the adapters.</summary>
    public static void Remove(nn.Module root)
    {
        ArgumentNullException.ThrowIfNull(root);
        foreach (var (name, lora) in Find(root))
        {
            lora.Unmerge();
            ModuleSwap.Replace(root, name, ModuleSwap.FrozenLinear(lora.weight, lora.bias));
        }
    }

    /// <summary>Folds every adapter into its base weight and puts plain <c>Linear</c> layers back (PEFT's <c>merge_and_unload</c>).</summary>
    public static void MergeAndRemove(nn.Module root)
    {
        ArgumentNullException.ThrowIfNull(root);
        foreach (var (name, lora) in Find(root))
        {
            lora.Merge();
            ModuleSwap.Replace(root, name, ModuleSwap.FrozenLinear(lora.weight, lora.bias));
        }
    }
}
