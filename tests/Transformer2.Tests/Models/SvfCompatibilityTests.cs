using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

/// <summary>Core's SVF injector must be able to adapt the LLaMA modules without the model knowing about SVF.</summary>
public class SvfCompatibilityTests
{
    static (Tensor U, Tensor S, Tensor V) ExactFactors(string name, Tensor weight)
    {
        var (u, s, vh) = linalg.svd(weight.detach(), fullMatrices: false);
        return (u, s, vh.t());
    }

    [Test]
    public void InjectedLayersKeepKeysAndLogits()
    {
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config);
        using var ids = TinyModels.RandomIds(config, 1, 7);
        using var before = model.Forward(ids);
        var keysBefore = model.StateDictShapes().Select(s => s.Key).ToList();

        var layers = SvfInjector.Inject(model, TargetSelector.MlpAndAttention.IsTarget, ExactFactors);
        Assert.That(layers, Has.Count.EqualTo(config.NumHiddenLayers * 7));
        Assert.That(layers.Keys, Does.Contain("model.layers.1.self_attn.k_proj.weight"));
        Assert.That(model.model.layers[1].self_attn.k_proj, Is.InstanceOf<SvfLinear>());
        Assert.That(model.StateDictShapes().Select(s => s.Key), Is.EqualTo(keysBefore));

        using var unchanged = model.Forward(ids);
        Assert.That((unchanged - before).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f));

        using var identity = ones(layers["model.layers.0.mlp.up_proj.weight"].Rank);
        layers["model.layers.0.mlp.up_proj.weight"].Multiplier = identity;
        using (var same = model.Forward(ids)) Assert.That((same - before).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-4f));
        // Uniform scaling is normalised away (c = ΣS / Σ(S·z)), so boost only the top singular value.
        using var boosted = identity.clone();
        boosted[0] = 3f;
        layers["model.layers.0.mlp.up_proj.weight"].Multiplier = boosted;
        using (var changed = model.Forward(ids)) Assert.That((changed - before).abs().max().item<float>(), Is.GreaterThan(1e-3f));
        layers["model.layers.0.mlp.up_proj.weight"].Multiplier = null;
    }
}
