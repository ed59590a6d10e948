using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Gguf;

/// <summary>
/// How a Hugging Face LLaMA/Mistral tensor maps onto llama.cpp's <c>llama</c> architecture: its GGUF name, and the
/// row order of the q/k projections (HF rotates the pair (i, i + D/2), llama.cpp's normal rope the adjacent pair (2i, 2i + 1)).
/// </summary>
internal static class LlamaGgufLayout
{
    /// <summary>The GGUF name of the HF key (<c>model.layers.3.mlp.up_proj.weight</c> → <c>blk.3.ffn_up.weight</c>), or null when llama.cpp has no such tensor.</summary>
    public static string? TensorName(string hfKey)
    {
        switch (hfKey)
        {
            case "model.embed_tokens.weight": return "token_embd.weight";
            case "model.norm.weight": return "output_norm.weight";
            case "lm_head.weight": return "output.weight";
        }
        const string layers = "model.layers.";
        if (!hfKey.StartsWith(layers, StringComparison.Ordinal)) return null;
        int dot = hfKey.IndexOf('.', layers.Length);
        if (dot < 0 || !int.TryParse(hfKey.AsSpan(layers.Length, dot - layers.Length), out int layer)) return null;
        string? suffix = hfKey[(dot + 1)..] switch
        {
            "input_layernorm.weight" => "attn_norm.weight",
            "self_attn.q_proj.weight" => "attn_q.weight",
            "self_attn.k_proj.weight" => "attn_k.weight",
            "self_attn.v_proj.weight" => "attn_v.weight",
            "self_attn.o_proj.weight" => "attn_output.weight",
            "post_attention_layernorm.weight" => "ffn_norm.weight",
            "mlp.gate_proj.weight" => "ffn_gate.weight",
            "mlp.up_proj.weight" => "ffn_up.weight",
            "mlp.down_proj.weight" => "ffn_down.weight",
            _ => null,
        };
        return suffix is null ? null : $"blk.{layer}.{suffix}";
    }

    /// <summary>The number of rotary heads whose rows must be reordered for <paramref name="hfKey"/> (q: attention heads, k: KV heads), or 0.</summary>
    public static int RotaryHeads(string hfKey, LlamaConfig config) =>
        hfKey.EndsWith(".self_attn.q_proj.weight", StringComparison.Ordinal) ? config.NumAttentionHeads
        : hfKey.EndsWith(".self_attn.k_proj.weight", StringComparison.Ordinal) ? config.NumKeyValueHeads
        : 0;

    /// <summary>
    /// Reorders each head's rows [h, 2, D/2] → [h, D/2, 2]: row <c>i</c> of the first half moves to <c>2i</c> and of the
    /// second to <c>2i + 1</c>. Works on any tensor whose rows are the projection's outputs (a weight, or a LoRA B).
    /// </summary>
    public static Tensor PermuteRotaryRows(Tensor weight, int heads)
    {
        long rows = weight.shape[0], columns = weight.shape[1];
        return weight.reshape(heads, 2, rows / heads / 2, columns).transpose(1, 2).reshape(rows, columns);
    }

    /// <summary>Writes the architecture keys of <paramref name="config"/> (what every llama.cpp <c>llama</c> GGUF carries).</summary>
    public static void AddArchitecture(GgufWriter gguf, LlamaConfig config, string name)
    {
        const string arch = LlamaGguf.Architecture;
        gguf.AddString("general.architecture", arch);
        gguf.AddString("general.name", name);
        gguf.AddUInt32($"{arch}.context_length", (uint)config.MaxPositionEmbeddings);
        gguf.AddUInt32($"{arch}.embedding_length", (uint)config.HiddenSize);
        gguf.AddUInt32($"{arch}.block_count", (uint)config.NumHiddenLayers);
        gguf.AddUInt32($"{arch}.feed_forward_length", (uint)config.IntermediateSize);
        gguf.AddUInt32($"{arch}.attention.head_count", (uint)config.NumAttentionHeads);
        gguf.AddUInt32($"{arch}.attention.head_count_kv", (uint)config.NumKeyValueHeads);
        gguf.AddUInt32($"{arch}.attention.key_length", (uint)config.HeadDim);
        gguf.AddUInt32($"{arch}.attention.value_length", (uint)config.HeadDim);
        gguf.AddUInt32($"{arch}.rope.dimension_count", (uint)config.HeadDim);
        gguf.AddFloat32($"{arch}.rope.freq_base", (float)config.RopeTheta);
        gguf.AddFloat32($"{arch}.attention.layer_norm_rms_epsilon", (float)config.RmsNormEps);
        gguf.AddUInt32($"{arch}.vocab_size", (uint)config.VocabSize);
        if (config.RopeScaling is { Type: RopeScaling.LinearType } linear)
        {
            gguf.AddString($"{arch}.rope.scaling.type", "linear");
            gguf.AddFloat32($"{arch}.rope.scaling.factor", (float)linear.Factor);
        }
    }
}
