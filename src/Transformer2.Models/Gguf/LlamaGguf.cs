using Transformer2.Core.IO;
using Transformer2.Core.Svf;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Gguf;

/// <summary>
/// Writes LLaMA/Mistral weights in Hugging Face's layout as a GGUF file for llama.cpp's <c>llama</c> architecture, the
/// way llama.cpp's <c>convert_hf_to_gguf.py</c> does: tensors under llama.cpp's names, q/k rows permuted from
/// rotate-half to interleaved pairs, llama3 rope scaling as a <c>rope_freqs.weight</c> tensor, 1-D tensors always F32,
/// and the tokenizer from <c>tokenizer.json</c> (or none: <c>tokenizer.ggml.model = "no_vocab"</c>, token ids fed directly).
/// </summary>
/// <remarks>
/// llama.cpp's <c>llama</c> architecture has no sliding window: a Mistral config converts correctly only while
/// the window is at least as long as the sequences evaluated.
/// </remarks>
public static class LlamaGguf
{
    /// <summary>llama.cpp's architecture name written to <c>general.architecture</c>.</summary>
    public const string Architecture = "llama";

    /// <summary>Converts an HF folder (<c>config.json</c>, one or more <c>*.safetensors</c>, and <c>tokenizer.json</c> when <paramref name="includeTokenizer"/>) to <paramref name="ggufPath"/>.</summary>
    /// <exception cref="InvalidDataException">A tensor is missing or has no GGUF counterpart, or the tokenizer cannot be exported; the message names it.</exception>
    public static void ConvertFolder(string hfFolder, string ggufPath, GgufTensorType type = GgufTensorType.F32, bool includeTokenizer = true,
        IProgress<ExportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(hfFolder);
        var config = LlamaConfig.Load(Path.Combine(hfFolder, "config.json"));
        var files = Directory.GetFiles(hfFolder, "*.safetensors").Order(StringComparer.Ordinal).Select(SafetensorsFile.Open).ToList();
        try
        {
            var sources = new Dictionary<string, (long[] Shape, Func<Tensor> Read)>(StringComparer.Ordinal);
            foreach (var file in files)
                foreach (string name in file.Names)
                    if (!sources.TryAdd(name, (file.GetInfo(name).Shape.ToArray(), () => file.Read(name, ScalarType.Float32))))
                        throw new InvalidDataException($"Tensor '{name}' appears in more than one safetensors file of '{hfFolder}' (last: '{file.Path}').");
            string tokenizer = Path.Combine(hfFolder, "tokenizer.json");
            Write(config, sources, ggufPath, type, includeTokenizer && File.Exists(tokenizer) ? tokenizer : null, Path.GetFileName(Path.GetFullPath(hfFolder)), progress, cancellationToken);
        }
        finally
        {
            foreach (var file in files) file.Dispose();
        }
    }

    /// <summary>Writes an in-memory model's weights as they are now (merged adaptations included; a tied LM head is left out, as in HF files).</summary>
    /// <param name="model">The weights and config.</param>
    /// <param name="ggufPath">The file to write (atomically).</param>
    /// <param name="type">Storage type of the 2-D weights.</param>
    /// <param name="tokenizerJsonPath">A <c>tokenizer.json</c> to embed, or null for <c>no_vocab</c>.</param>
    /// <param name="name">The <c>general.name</c> value.</param>
    /// <param name="progress">Reports each tensor written.</param>
    /// <param name="cancellationToken">Checked between tensors.</param>
    public static void WriteModel(LlamaForCausalLM model, string ggufPath, GgufTensorType type = GgufTensorType.F32, string? tokenizerJsonPath = null,
        string name = "transformer2", IProgress<ExportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        SvfInjector.RequireDenseWeights(model, $"write the GGUF '{ggufPath}'");
        var sources = model.CheckpointParameters()
            .ToDictionary(p => p.Key, p => (p.Value.shape, (Func<Tensor>)(() => p.Value.detach())), StringComparer.Ordinal);
        Write(model.Config, sources, ggufPath, type, tokenizerJsonPath, name, progress, cancellationToken);
    }

    /// <summary>Writes the model of <paramref name="config"/> from HF-named tensor sources (each read lazily, once).</summary>
    internal static void Write(LlamaConfig config, IReadOnlyDictionary<string, (long[] Shape, Func<Tensor> Read)> sources, string ggufPath, GgufTensorType type,
        string? tokenizerJsonPath, string name, IProgress<ExportProgress>? progress, CancellationToken cancellationToken, bool permuteRotary = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(ggufPath);
        if (!Enum.IsDefined(type)) throw new ArgumentOutOfRangeException(nameof(type), type, "GGUF export supports F32, F16 and BF16.");
        var gguf = new GgufWriter();
        LlamaGgufLayout.AddArchitecture(gguf, config, name);
        if (tokenizerJsonPath is null) gguf.AddString("tokenizer.ggml.model", "no_vocab");
        else GgufTokenizerMetadata.Add(gguf, tokenizerJsonPath, config);

        var unused = new HashSet<string>(sources.Keys, StringComparer.Ordinal);
        // Tied embeddings: llama.cpp reuses token_embd when output.weight is absent.
        if (config.TieWordEmbeddings) unused.Remove("lm_head.weight");
        void Add(string hfKey)
        {
            string ggufName = LlamaGgufLayout.TensorName(hfKey) ?? throw new InvalidOperationException($"No GGUF name for '{hfKey}'.");
            if (!sources.TryGetValue(hfKey, out var source))
                throw new InvalidDataException($"Checkpoint has no tensor '{hfKey}' (needed for GGUF tensor '{ggufName}').");
            unused.Remove(hfKey);
            int heads = permuteRotary ? LlamaGgufLayout.RotaryHeads(hfKey, config) : 0;
            Func<Tensor> read = heads > 0 ? () => LlamaGgufLayout.PermuteRotaryRows(source.Read(), heads) : source.Read;
            // convert_hf_to_gguf keeps 1-D tensors (norm gains) in F32 whatever the output type.
            gguf.AddTensor(ggufName, source.Shape, read, source.Shape.Length == 1 ? GgufTensorType.F32 : type);
        }

        Add("model.embed_tokens.weight");
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string hf = $"model.layers.{i}.";
            foreach (string part in (string[])["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                         "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"])
                Add(hf + part + ".weight");
        }
        Add("model.norm.weight");
        if (!config.TieWordEmbeddings) Add("lm_head.weight");
        if (config.RopeScaling is { Type: RopeScaling.Llama3Type } llama3)
        {
            float[] divisors = Llama3FrequencyDivisors(config.HeadDim, config.RopeTheta, llama3);
            gguf.AddTensor("rope_freqs.weight", [divisors.Length], () => tensor(divisors));
        }
        if (unused.Count > 0) throw new InvalidDataException($"Checkpoint tensors with no GGUF counterpart: {string.Join(", ", unused.Order(StringComparer.Ordinal))}.");
        gguf.Write(ggufPath, progress, cancellationToken);
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
