using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Gguf;

/// <summary>
/// Writes a LoRA adapter as a GGUF file llama.cpp loads with <c>--lora</c> (<c>llama_adapter_lora_init</c>), in the layout
/// of llama.cpp's <c>convert_lora_to_gguf.py</c>: <c>general.type = "adapter"</c>, <c>adapter.type = "lora"</c>,
/// <c>adapter.lora.alpha</c>, and for each adapted weight <c>&lt;gguf name&gt;.lora_a</c> (A [r, in]) and
/// <c>&lt;gguf name&gt;.lora_b</c> (B [out, r]); llama.cpp adds scale·(α/r)·B·A·x.
/// </summary>
/// <remarks>q/k adapters get B's rows permuted like the base weight's (the update B·A is a change of those rows).</remarks>
public static class LlamaGgufLora
{
    /// <summary>Writes the adapter of <paramref name="factors"/> (HF weight key → A [r, in], B [out, r]) to <paramref name="ggufPath"/> atomically.</summary>
    /// <param name="config">The base model's config (its architecture keys must match the base GGUF's).</param>
    /// <param name="factors">A and B by HF weight key, e.g. <c>model.layers.0.mlp.up_proj.weight</c>.</param>
    /// <param name="alpha">LoRA α; llama.cpp scales the update by α / r.</param>
    /// <param name="ggufPath">The file to write.</param>
    /// <param name="type">Storage type of A and B.</param>
    /// <param name="progress">Reports each tensor written.</param>
    /// <param name="cancellationToken">Checked between tensors.</param>
    /// <exception cref="ArgumentException">A key has no llama.cpp counterpart, or A and B do not fit together.</exception>
    public static void Write(LlamaConfig config, IReadOnlyDictionary<string, (Tensor A, Tensor B)> factors, double alpha, string ggufPath,
        GgufTensorType type = GgufTensorType.F32, IProgress<ExportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(factors);
        if (factors.Count == 0) throw new ArgumentException("A LoRA adapter needs at least one adapted weight.", nameof(factors));
        if (!(alpha > 0) || !double.IsFinite(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "LoRA alpha must be positive and finite.");
        var gguf = new GgufWriter();
        LlamaGgufLayout.AddArchitecture(gguf, config, "transformer2-lora");
        gguf.AddString("general.type", "adapter");
        gguf.AddString("adapter.type", "lora");
        gguf.AddFloat32("adapter.lora.alpha", (float)alpha);
        foreach (var (key, (a, b)) in factors.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            string name = LlamaGgufLayout.TensorName(key) ?? throw new ArgumentException($"LoRA target '{key}' has no llama.cpp tensor.", nameof(factors));
            if (a.ndim != 2 || b.ndim != 2 || a.shape[0] != b.shape[1])
                throw new ArgumentException($"LoRA target '{key}': A [{string.Join(", ", a.shape)}] and B [{string.Join(", ", b.shape)}] must be [r, in] and [out, r].", nameof(factors));
            int heads = LlamaGgufLayout.RotaryHeads(key, config);
            gguf.AddTensor(name + ".lora_a", a.shape, () => a.detach(), type);
            gguf.AddTensor(name + ".lora_b", b.shape, heads > 0 ? () => LlamaGgufLayout.PermuteRotaryRows(b.detach(), heads) : () => b.detach(), type);
        }
        gguf.Write(ggufPath, progress, cancellationToken);
    }
}
