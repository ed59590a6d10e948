using Transformer2.Core.Svf;
using Transformer2.Models.Llama;
using Transformer2.Tests.Training.Reinforce;
using Transformer2.Training.Lora;
using static TorchSharp.torch;

namespace Transformer2.Tests.Training.Lora;

public class AdapterParameterCountsTests
{
    [Test]
    public void Llama3_8BReproducesThePapersArithmetic()
    {
        var config = LlamaPresets.Llama3_8BInstruct;
        Assert.That(AdapterParameterCounts.Svf(config, AdapterParameterCounts.MlpTargets), Is.EqualTo(393_216), "SVF MLP: 0.39M");
        Assert.That(AdapterParameterCounts.Svf(config, name => name.Contains("mlp")), Is.EqualTo(393_216), "the authors' \"mlp\" in name filter");
        Assert.That(AdapterParameterCounts.Svf(config, LoraConfig.AttentionTargets), Is.EqualTo(163_840), "SVF q+v: 0.16M");
        Assert.That(AdapterParameterCounts.Lora(config, new LoraConfig { TargetModules = LoraConfig.AttentionTargets }), Is.EqualTo(6_815_744), "LoRA q,v: 6.82M");
        Assert.That(AdapterParameterCounts.Lora(config, new LoraConfig { TargetModules = LoraConfig.MlpAndAttentionTargets }), Is.EqualTo(35_127_296), "LoRA q,v,gate,up,down: 35.13M");
    }

    [Test]
    public void Llama3_70BMlpSvf()
    {
        Assert.That(AdapterParameterCounts.Svf(LlamaPresets.Llama3_70B, AdapterParameterCounts.MlpTargets), Is.EqualTo(1_966_080));
    }

    [Test]
    public void CountsFromTheConfigEqualTheInjectedLayers()
    {
        var targets = new[] { "q_proj", "k_proj", "o_proj", "up_proj", "down_proj" };
        using (var model = LoraFixture.PlainModel())
        {
            var lora = new LoraConfig { Rank = 3, TargetModules = targets };
            var layers = LoraInjector.Inject(model, lora);
            long trainable = model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
            Assert.That(AdapterParameterCounts.Lora(TrainerFixture.Config, lora), Is.EqualTo(trainable).And.EqualTo(layers.Values.Sum(l => l.ParameterCount)));
        }
        using (var model = LoraFixture.PlainModel())
        {
            var matcher = new LoraConfig { TargetModules = targets };
            var svf = SvfInjector.Inject(model, name => matcher.Matches(name[..^".weight".Length]), (_, w) =>
            {
                var (u, s, vh) = linalg.svd(w.detach(), fullMatrices: false);
                return (u, s, vh.t());
            });
            Assert.That(AdapterParameterCounts.Svf(TrainerFixture.Config, targets), Is.EqualTo(svf.Values.Sum(l => l.Rank)));
        }
        Assert.That(AdapterParameterCounts.Projections(TrainerFixture.Config).Select(p => p.WeightName),
            Is.EquivalentTo(new LlamaForCausalLM(TrainerFixture.Config).state_dict().Keys.Where(k => k.EndsWith("_proj.weight") || k == "lm_head.weight")));
    }
}
