using Transformer2.Core.Svd;

namespace Transformer2.Tests.Core.Svd;

public class TargetSelectorTests
{
    [TestCase("model.layers.0.mlp.gate_proj.weight", true)]
    [TestCase("model.layers.31.mlp.up_proj.weight", true)]
    [TestCase("model.layers.7.mlp.down_proj.weight", true)]
    [TestCase("model.language_model.layers.3.mlp.down_proj.weight", true)]
    [TestCase("model.layers.0.mlp.gate_proj.bias", false)]
    [TestCase("model.layers.0.self_attn.q_proj.weight", false)]
    [TestCase("model.layers.0.post_attention_layernorm.weight", false)]
    [TestCase("model.embed_tokens.weight", false)]
    [TestCase("lm_head.weight", false)]
    [TestCase("model.vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight", false)]
    public void Mlp_IsTheAuthorsChoice(string name, bool expected)
    {
        Assert.That(TargetSelector.Mlp.IsTarget(name), Is.EqualTo(expected));
        Assert.That(TargetSelector.Default.IsTarget(name), Is.EqualTo(expected));
    }

    [TestCase("model.layers.0.self_attn.q_proj.weight", true)]
    [TestCase("model.layers.0.self_attn.k_proj.weight", true)]
    [TestCase("model.layers.0.self_attn.v_proj.weight", true)]
    [TestCase("model.layers.0.self_attn.o_proj.weight", true)]
    [TestCase("model.layers.0.mlp.up_proj.weight", false)]
    [TestCase("model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight", false)]
    public void Attention_MatchesProjectionsOfTheLanguageModel(string name, bool expected) =>
        Assert.That(TargetSelector.Attention.IsTarget(name), Is.EqualTo(expected));

    [Test]
    public void MlpAndAttention_IsTheUnion()
    {
        Assert.That(TargetSelector.MlpAndAttention.IsTarget("model.layers.0.mlp.up_proj.weight"), Is.True);
        Assert.That(TargetSelector.MlpAndAttention.IsTarget("model.layers.0.self_attn.v_proj.weight"), Is.True);
        Assert.That(TargetSelector.MlpAndAttention.IsTarget("model.norm.weight"), Is.False);
    }

    [Test]
    public void FromPatterns_MatchesAnyAndValidates()
    {
        var selector = TargetSelector.FromPatterns(@"\.q_proj\.weight$", @"\.v_proj\.weight$");
        Assert.That(selector.IsTarget("model.layers.0.self_attn.q_proj.weight"), Is.True);
        Assert.That(selector.IsTarget("model.layers.0.self_attn.k_proj.weight"), Is.False);
        Assert.That(selector, Is.EqualTo(TargetSelector.FromPatterns(@"\.q_proj\.weight$", @"\.v_proj\.weight$")));
        Assert.That(selector, Is.Not.EqualTo(TargetSelector.Mlp));
        Assert.That(() => TargetSelector.FromPatterns("(unclosed"), Throws.ArgumentException.With.Message.Contains("(unclosed"));
        Assert.Throws<ArgumentException>(() => TargetSelector.FromPatterns());
    }
}
