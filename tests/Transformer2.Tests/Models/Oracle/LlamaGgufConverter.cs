using Transformer2.Core.IO;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Oracle;

/// <summary>
/// Converts LLaMA/Mistral weights in Hugging Face's layout to a GGUF file for llama.cpp's <c>llama</c> architecture, the
/// way llama.cpp's <c>convert_hf_to_gguf.py</c> does: F32 tensors under llama.cpp's names, q/k rows permuted from
/// rotate-half to interleaved pairs, llama3 rope scaling as a <c>rope_freqs.weight</c> tensor, and no tokenizer
/// (<c>tokenizer.ggml.model = "no_vocab"</c>), so token ids are fed directly.
/// </summary>
/// <remarks>
/// llama.cpp's <c>llama</c> architecture has no sliding window: a Mistral config converts correctly only while
/// the window is at least as long as the sequences evaluated.
/// </remarks>
internal static class LlamaGgufConverter
{
    /// <summary>Converts an HF folder (<c>config.json</c> plus one or more <c>*.safetensors</c> files) to <paramref name="ggufPath"/>.</summary>
    public static void ConvertFolder(string hfFolder, string ggufPath)
    {
        var config = LlamaConfig.Load(Path.Combine(hfFolder, "config.json"));
        var files = Directory.GetFiles(hfFolder, "*.safetensors").Order(StringComparer.Ordinal).Select(SafetensorsFile.Open).ToList();
        try
        {
            var sources = new Dictionary<string, (long[] Shape, Func<Tensor> Read)>();
            foreach (var file in files)
                foreach (string name in file.Names)
                    sources.Add(name, (file.GetInfo(name).Shape.ToArray(), () => file.Read(name, ScalarType.Float32)));
            Write(config, sources, ggufPath);
        }
        finally
        {
            foreach (var file in files) file.Dispose();
        }
    }

    /// <summary>Converts an in-memory model's parameters (the tied LM head is left out, as in HF files).</summary>
    /// <param name="model">The weights and config.</param>
    /// <param name="ggufPath">The file to write.</param>
    /// <param name="permuteRotary">Only for showing that the oracle can fail: <see langword="false"/> leaves q/k rows in rotate-half order.</param>
    public static void ConvertModel(LlamaForCausalLM model, string ggufPath, bool permuteRotary = true)
    {
        var sources = model.named_parameters()
            .Where(p => !(model.Config.TieWordEmbeddings && p.name == "lm_head.weight"))
            .ToDictionary(p => p.name, p => (p.parameter.shape, (Func<Tensor>)(() => p.parameter.detach())));
        Write(model.Config, sources, ggufPath, permuteRotary);
    }

    static void Write(LlamaConfig config, IReadOnlyDictionary<string, (long[] Shape, Func<Tensor> Read)> sources, string ggufPath, bool permuteRotary = true)
    {
        var gguf = new GgufWriter();
        const string arch = "llama";
        gguf.AddString("general.architecture", arch);
        gguf.AddString("general.name", "transformer2-oracle");
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
        gguf.AddString("tokenizer.ggml.model", "no_vocab");
        if (config.RopeScaling is { Type: RopeScaling.LinearType } linear)
        {
            gguf.AddString($"{arch}.rope.scaling.type", "linear");
            gguf.AddFloat32($"{arch}.rope.scaling.factor", (float)linear.Factor);
        }

        var expected = new HashSet<string>(sources.Keys);
        void Add(string hfKey, string ggufName, Func<Tensor, Tensor>? transform = null)
        {
            if (!sources.TryGetValue(hfKey, out var source))
                throw new InvalidDataException($"Checkpoint has no tensor '{hfKey}' (needed for GGUF tensor '{ggufName}').");
            expected.Remove(hfKey);
            gguf.AddTensor(ggufName, source.Shape, transform is null ? source.Read : () => transform(source.Read()));
        }

        Add("model.embed_tokens.weight", "token_embd.weight");
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string hf = $"model.layers.{i}.", blk = $"blk.{i}.";
            Add(hf + "input_layernorm.weight", blk + "attn_norm.weight");
            Add(hf + "self_attn.q_proj.weight", blk + "attn_q.weight", permuteRotary ? w => PermuteRotaryRows(w, config.NumAttentionHeads) : null);
            Add(hf + "self_attn.k_proj.weight", blk + "attn_k.weight", permuteRotary ? w => PermuteRotaryRows(w, config.NumKeyValueHeads) : null);
            Add(hf + "self_attn.v_proj.weight", blk + "attn_v.weight");
            Add(hf + "self_attn.o_proj.weight", blk + "attn_output.weight");
            Add(hf + "post_attention_layernorm.weight", blk + "ffn_norm.weight");
            Add(hf + "mlp.gate_proj.weight", blk + "ffn_gate.weight");
            Add(hf + "mlp.up_proj.weight", blk + "ffn_up.weight");
            Add(hf + "mlp.down_proj.weight", blk + "ffn_down.weight");
        }
        Add("model.norm.weight", "output_norm.weight");
        // Tied embeddings: llama.cpp reuses token_embd when output.weight is absent.
        if (!config.TieWordEmbeddings) Add("lm_head.weight", "output.weight");
        else expected.Remove("lm_head.weight");
        if (config.RopeScaling is { Type: RopeScaling.Llama3Type } llama3)
        {
            float[] divisors = Llama3FrequencyDivisors(config.HeadDim, config.RopeTheta, llama3);
            gguf.AddTensor("rope_freqs.weight", [divisors.Length], () => tensor(divisors));
        }
        if (expected.Count > 0) throw new InvalidDataException($"Checkpoint tensors with no GGUF counterpart: {string.Join(", ", expected.Order())}.");
        gguf.Write(ggufPath);
    }

    /// <summary>
    /// Reorders each head's rows [h, 2, D/2] → [h, D/2, 2]: HF rotates the pair (i, i + D/2), llama.cpp's normal rope
    /// rotates the adjacent pair (2i, 2i + 1), so row <c>i</c> of the first half moves to <c>2i</c> and of the second to <c>2i + 1</c>.
    /// </summary>
    internal static Tensor PermuteRotaryRows(Tensor weight, int heads)
    {
        long rows = weight.shape[0], columns = weight.shape[1];
        return weight.reshape(heads, 2, rows / heads / 2, columns).transpose(1, 2).reshape(rows, columns);
    }

    /// <summary>
    /// llama3 scaling as per-frequency divisors of the base frequencies <c>theta^(-2i/D)</c> (1 for short wavelengths,
    /// the factor for long ones, a smooth blend between), what llama.cpp's converter stores in <c>rope_freqs.weight</c>.
    /// </summary>
    internal static float[] Llama3FrequencyDivisors(int headDim, double theta, RopeScaling scaling)
    {
        double lowFreqWavelength = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
        double highFreqWavelength = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
        var divisors = new float[headDim / 2];
        for (int i = 0; i < divisors.Length; i++)
        {
            // The converter computes base frequencies in float32: 1 / theta ** (arange(0, D, 2).float() / D).
            float frequency = 1f / MathF.Pow((float)theta, (float)(2 * i) / headDim);
            double wavelength = 2 * Math.PI / frequency;
            if (wavelength < highFreqWavelength) divisors[i] = 1;
            else if (wavelength > lowFreqWavelength) divisors[i] = (float)scaling.Factor;
            else
            {
                double smooth = (scaling.OriginalMaxPositionEmbeddings / wavelength - scaling.LowFreqFactor) / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                divisors[i] = (float)(1 / ((1 - smooth) / scaling.Factor + smooth));
            }
        }
        return divisors;
    }
}
