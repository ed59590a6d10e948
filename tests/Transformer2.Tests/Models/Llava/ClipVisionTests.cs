using Transformer2.Models.Llava;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Llava;

/// <summary>The CLIP tower against the same maths written out independently: patches by unfold + matmul, attention by hand.</summary>
public class ClipVisionTests
{
    [TestCase(ClipVisionConfig.QuickGelu)]
    [TestCase(ClipVisionConfig.Gelu)]
    public void HiddenStatesMatchDirectComputation(string activation)
    {
        var config = TinyLlava.Config(next: false) with { VisionConfig = TinyLlava.Vision() with { HiddenAct = activation } };
        using var model = TinyLlava.Create(config);
        var tower = model.model.vision_tower;
        using var scope = NewDisposeScope();
        var pixels = randn(2, 3, 8, 8, generator: new Generator(3));
        var states = tower.HiddenStates(pixels, 3);
        var expected = Reference(tower, pixels, activation);
        Assert.That(states, Has.Count.EqualTo(4));
        for (int i = 0; i < 4; i++)
        {
            double difference = (states[i] - expected[i]).abs().max().item<float>();
            Assert.That(difference, Is.LessThan(1e-4), $"hidden state {i}");
        }
        // The state LLaVA takes (-2) is the output of the second-to-last layer: it must not equal the last one.
        Assert.That((states[2] - states[3]).abs().max().item<float>(), Is.GreaterThan(1e-3));
    }

    [Test]
    public void RejectsPixelsOfTheWrongShape()
    {
        using var model = TinyLlava.Create(TinyLlava.Config(next: false));
        using var pixels = zeros(1, 3, 10, 10);
        var e = Assert.Throws<ArgumentException>(() => model.model.vision_tower.HiddenStates(pixels, 1));
        Assert.That(e!.Message, Does.Contain("[batch, 3, 8, 8]"));
    }

    static List<Tensor> Reference(ClipVisionModel tower, Tensor pixels, string activation)
    {
        var vm = tower.vision_model;
        int p = 2, n = 4, d = 32, heads = 4, headDim = 8;
        long batch = pixels.shape[0];
        // Unfold into row-major patches, each flattened channel-first like the conv kernel: [B, n², 3·p·p].
        var patches = pixels.view(batch, 3, n, p, n, p).permute(0, 2, 4, 1, 3, 5).reshape(batch, n * n, 3 * p * p);
        var kernel = vm.embeddings.patch_embedding.weight.reshape(d, 3 * p * p);
        var embedded = patches.matmul(kernel.t());
        var cls = vm.embeddings.class_embedding.view(1, 1, d).expand(batch, 1, d);
        var x = cat([cls, embedded], 1) + vm.embeddings.position_embedding.weight;
        x = LayerNorm(x, vm.pre_layrnorm.weight, vm.pre_layrnorm.bias);
        var states = new List<Tensor> { x };
        foreach (var layer in vm.encoder.layers)
        {
            var h = LayerNorm(x, layer.layer_norm1.weight, layer.layer_norm1.bias);
            Tensor Project(nn.Module<Tensor, Tensor> linear, Tensor input)
            {
                var l = (TorchSharp.Modules.Linear)linear;
                return input.matmul(l.weight!.t()) + l.bias!;
            }
            var q = Project(layer.self_attn.q_proj, h).view(batch, -1, heads, headDim).transpose(1, 2);
            var k = Project(layer.self_attn.k_proj, h).view(batch, -1, heads, headDim).transpose(1, 2);
            var v = Project(layer.self_attn.v_proj, h).view(batch, -1, heads, headDim).transpose(1, 2);
            var weights = (q.matmul(k.transpose(2, 3)) / Math.Sqrt(headDim)).softmax(-1);
            var attended = weights.matmul(v).transpose(1, 2).reshape(batch, -1, d);
            x = x + Project(layer.self_attn.out_proj, attended);
            h = LayerNorm(x, layer.layer_norm2.weight, layer.layer_norm2.bias);
            var f = Project(layer.mlp.fc1, h);
            f = activation == ClipVisionConfig.QuickGelu ? f / (1 + (-1.702 * f).exp()) : 0.5 * f * (1 + special.erf(f / Math.Sqrt(2)));
            x = x + Project(layer.mlp.fc2, f);
            states.Add(x);
        }
        return states;
    }

    static Tensor LayerNorm(Tensor x, Tensor weight, Tensor bias)
    {
        var mean = x.mean([-1], keepdim: true);
        var variance = (x - mean).pow(2).mean([-1], keepdim: true);
        return (x - mean) / (variance + 1e-5).sqrt() * weight + bias;
    }
}
