using Transformer2.Models.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

/// <summary>
/// A deliberately naive float64 forward pass written from the published LLaMA equations, reading weights by checkpoint key:
/// explicit per-head loops, explicit masks, rotation pair by pair. It shares nothing with the library's forward.
/// </summary>
internal static class ReferenceLlama
{
    public static Tensor Logits(LlamaForCausalLM model, long[] ids)
    {
        var config = model.Config;
        var weights = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().to_type(ScalarType.Float64));
        int length = ids.Length, heads = config.NumAttentionHeads, kvHeads = config.NumKeyValueHeads, d = config.HeadDim;
        var frequencies = RotaryEmbedding.InverseFrequencies(d, config.RopeTheta, config.RopeScaling);

        Tensor Norm(Tensor x, string key) => x / (x.pow(2).mean([-1], keepdim: true) + config.RmsNormEps).sqrt() * weights[key];
        Tensor Rope(Tensor x) // [T, D]
        {
            var result = x.clone();
            for (int t = 0; t < length; t++)
                for (int i = 0; i < d / 2; i++)
                {
                    double angle = t * (double)frequencies[i], c = Math.Cos(angle), s = Math.Sin(angle);
                    double a = x[t, i].item<double>(), b = x[t, i + d / 2].item<double>();
                    result[t, i] = a * c - b * s;
                    result[t, i + d / 2] = b * c + a * s;
                }
            return result;
        }

        var hidden = weights["model.embed_tokens.weight"].index_select(0, tensor(ids)); // [T, hidden]
        for (int l = 0; l < config.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            var x = Norm(hidden, p + "input_layernorm.weight");
            var q = x.matmul(weights[p + "self_attn.q_proj.weight"].t());
            var k = x.matmul(weights[p + "self_attn.k_proj.weight"].t());
            var v = x.matmul(weights[p + "self_attn.v_proj.weight"].t());
            var outputs = new List<Tensor>();
            for (int h = 0; h < heads; h++)
            {
                int g = h / (heads / kvHeads);
                var qh = Rope(q.narrow(1, h * d, d));
                var kh = Rope(k.narrow(1, g * d, d));
                var vh = v.narrow(1, g * d, d);
                var scores = qh.matmul(kh.t()) / Math.Sqrt(d);
                for (int i = 0; i < length; i++)
                    for (int j = 0; j < length; j++)
                        if (j > i || (config.SlidingWindow is { } w && i - j >= w)) scores[i, j] = double.NegativeInfinity;
                outputs.Add(scores.softmax(-1).matmul(vh));
            }
            hidden = hidden + cat(outputs, 1).matmul(weights[p + "self_attn.o_proj.weight"].t());
            x = Norm(hidden, p + "post_attention_layernorm.weight");
            var gate = x.matmul(weights[p + "mlp.gate_proj.weight"].t());
            var up = x.matmul(weights[p + "mlp.up_proj.weight"].t());
            hidden = hidden + (gate * gate.sigmoid() * up).matmul(weights[p + "mlp.down_proj.weight"].t());
        }
        var head = config.TieWordEmbeddings ? weights["model.embed_tokens.weight"] : weights["lm_head.weight"];
        return Norm(hidden, "model.norm.weight").matmul(head.t()); // [T, vocab]
    }
}
