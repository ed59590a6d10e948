using BenchmarkDotNet.Attributes;
using TorchSharp;
using Transformer2.Core.Kernels;
using Transformer2.Core.Quantization;
using Transformer2.Models.Gguf;
using Transformer2.Models.Llama;
using Transformer2.Tests.Models.Oracle;
using static TorchSharp.torch;

namespace Transformer2.Benchmarks;

/// <summary>
/// Our LLaMA forward vs llama.cpp (LLamaSharp's CPU backend) on the same random ~200M-parameter F32 model, batch 1, same
/// thread count: prefill of <see cref="PromptLength"/> tokens and greedy-style decoding of <see cref="DecodeSteps"/>
/// tokens after it. Means are per token (OperationsPerInvoke), so tokens/s = 1 / mean. Our decode runs twice: through the
/// managed batch-1 kernels (<see cref="DecodeGemv"/>, the default) and through libtorch's <c>linear</c>; the bandwidth
/// baseline reads the same projection and head weights once per "token" with a plain reduction.
/// </summary>
[Config(typeof(DecodeComparisonConfig))]
public class LlamaVsLlamaCppBenchmarks
{
    const int PromptLength = 128;
    const int DecodeSteps = 8;
    const int ContextSize = 256;
    const long Seed = 2024;

    /// <summary>LLaMA-shaped: GQA 16/4 heads of 64, SwiGLU 2816, 12 layers, 32k vocabulary, untied head: 201M parameters.</summary>
    internal static readonly LlamaConfig Config = new()
    {
        HiddenSize = 1024,
        IntermediateSize = 2816,
        NumHiddenLayers = 12,
        NumAttentionHeads = 16,
        NumKeyValueHeads = 4,
        HeadDim = 64,
        RmsNormEps = 1e-5,
        RopeTheta = 500000,
        MaxPositionEmbeddings = 4096,
        VocabSize = 32000,
    };

    LlamaForCausalLM? _ours;
    KvCache? _cache;
    LlamaCpp? _llamaCpp;
    Tensor _prompt = null!;
    int[] _promptTokens = [];
    int[] _decodeTokens = [];

    Tensor[] _decodeWeights = [];

    [GlobalSetup(Targets = [nameof(OursPrefill), nameof(OursDecode), nameof(WeightReductionF32), nameof(ManagedWeightReductionF32)])]
    public void SetupOursF32() => SetupOurs(ScalarType.Float32);

    [GlobalSetup(Targets = [nameof(OursDecodeBf16), nameof(WeightReductionBf16), nameof(ManagedWeightReductionBf16)])]
    public void SetupOursBf16() => SetupOurs(ScalarType.BFloat16);

    [GlobalSetup(Target = nameof(OursDecodeLibtorch))]
    public void SetupOursF32Libtorch()
    {
        DecodeGemv.Enabled = false;
        SetupOurs(ScalarType.Float32);
    }

    [GlobalSetup(Target = nameof(OursDecodeBf16Libtorch))]
    public void SetupOursBf16Libtorch()
    {
        DecodeGemv.Enabled = false;
        SetupOurs(ScalarType.BFloat16);
    }

    [GlobalSetup(Target = nameof(OursDecodeInt8))]
    public void SetupOursInt8()
    {
        SetupOurs(ScalarType.Float32);
        _ours!.QuantizeWeights();
        _decodeWeights = DecodeWeights(_ours);
        Console.WriteLine($"// decode weights: {_decodeWeights.Sum(w => w.NumberOfElements * w.ElementSize) / 1e6:F1} MB per token (int8 blocks)");
    }

    [GlobalSetup(Target = nameof(ManagedWeightReductionInt8))]
    public void SetupInt8Weights() => SetupOursInt8();

    [GlobalSetup(Targets = [nameof(LlamaCppPrefill), nameof(LlamaCppDecode)])]
    public void SetupLlamaCpp() => SetupLlamaCpp(F32Gguf());

    [GlobalSetup(Target = nameof(LlamaCppDecodeBf16))]
    public void SetupLlamaCppBf16() => SetupLlamaCpp(Gguf("bf16", path =>
    {
        using var model = CreateModel(ScalarType.Float32);
        LlamaGguf.WriteModel(model, path, GgufTensorType.BF16);
    }));

    [GlobalSetup(Target = nameof(LlamaCppDecodeQ8))]
    public void SetupLlamaCppQ8() => SetupLlamaCpp(Gguf("q8_0", path => LlamaCpp.QuantizeQ8(F32Gguf(), path)));

    void SetupLlamaCpp(string gguf)
    {
        SetupTokens();
        // llama.cpp's CPU backend uses the system libgomp, which reads OMP_WAIT_POLICY when it loads: it runs with its own
        // default (spinning), not the PASSIVE policy this library sets for libtorch.
        Transformer2.Core.Native.OpenMpWaitPolicy.ClearDefault();
        _llamaCpp = LlamaCpp.Load(gguf, ContextSize, Environment.ProcessorCount);
    }

    /// <summary>The benchmark model as an F32 GGUF in the temp folder (written once, reused across runs).</summary>
    static string F32Gguf() => Gguf("f32", path =>
    {
        using var model = CreateModel(ScalarType.Float32);
        LlamaGguf.WriteModel(model, path);
    });

    static string Gguf(string type, Action<string> write)
    {
        string gguf = Path.Combine(Path.GetTempPath(), $"t2-bench-llama-h{Config.HiddenSize}-l{Config.NumHiddenLayers}-v{Config.VocabSize}-seed{Seed}-{type}.gguf");
        if (!File.Exists(gguf))
        {
            string partial = gguf + ".partial";
            write(partial);
            File.Move(partial, gguf, overwrite: true);
        }
        return gguf;
    }

    void SetupOurs(ScalarType dtype)
    {
        SetupTokens();
        _ours = CreateModel(dtype);
        _cache = _ours.CreateCache(1, ContextSize);
        _prompt = tensor(_promptTokens.Select(t => (long)t).ToArray()).view(1, -1);
        _decodeWeights = DecodeWeights(_ours);
        Console.WriteLine($"// decode weights: {_decodeWeights.Sum(w => w.NumberOfElements * w.ElementSize) / 1e6:F1} MB per token ({dtype})");
    }

    /// <summary>What one decode step streams: every 2-D weight but the embedding table (one row of it is read), int8 values and scales included.</summary>
    static Tensor[] DecodeWeights(LlamaForCausalLM model) =>
        model.named_parameters().Where(p => p.parameter.ndim == 2 && p.name != "model.embed_tokens.weight").Select(p => (Tensor)p.parameter)
            .Concat(model.modules().OfType<Q8Linear>().SelectMany(q => new[] { q.Quantized, q.Scales }))
            .ToArray();

    void SetupTokens()
    {
        BenchmarkSetup.Initialize();
        var random = new Random(5);
        _promptTokens = Enumerable.Range(0, PromptLength).Select(_ => random.Next(Config.VocabSize)).ToArray();
        _decodeTokens = Enumerable.Range(0, DecodeSteps).Select(_ => random.Next(Config.VocabSize)).ToArray();
    }

    static LlamaForCausalLM CreateModel(ScalarType dtype)
    {
        manual_seed(Seed);
        var model = new LlamaForCausalLM(Config, dtype);
        model.eval();
        return model;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _cache?.Dispose();
        _ours?.Dispose();
        _llamaCpp?.Dispose();
        _prompt?.Dispose();
        DecodeGemv.Enabled = true;
    }

    [IterationSetup(Targets = [nameof(OursDecode), nameof(OursDecodeBf16), nameof(OursDecodeLibtorch), nameof(OursDecodeBf16Libtorch), nameof(OursDecodeInt8)])]
    public void PrefillOurs()
    {
        _cache!.Reset();
        using var _ = no_grad();
        using var logits = _ours!.Forward(_prompt, cache: _cache, lastPositionOnly: true);
    }

    [IterationSetup(Targets = [nameof(LlamaCppDecode), nameof(LlamaCppDecodeBf16), nameof(LlamaCppDecodeQ8)])]
    public void PrefillLlamaCpp()
    {
        _llamaCpp!.Reset();
        _llamaCpp.Decode(_promptTokens, lastOnly: true);
    }

    [Benchmark(OperationsPerInvoke = PromptLength, Description = "prefill 128, ours F32 (per token)")]
    public void OursPrefill()
    {
        _cache!.Reset();
        using var _ = no_grad();
        using var logits = _ours!.Forward(_prompt, cache: _cache, lastPositionOnly: true);
    }

    [Benchmark(OperationsPerInvoke = PromptLength, Description = "prefill 128, llama.cpp F32 (per token)")]
    public void LlamaCppPrefill()
    {
        _llamaCpp!.Reset();
        _llamaCpp.Decode(_promptTokens, lastOnly: true);
    }

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "decode after 128, ours F32 (per token)")]
    public void OursDecode() => DecodeOurs();

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "decode after 128, ours F32 via libtorch linear (per token)")]
    public void OursDecodeLibtorch() => DecodeOurs();

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "decode after 128, ours BF16 (per token)")]
    public void OursDecodeBf16() => DecodeOurs();

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "decode after 128, ours BF16 via libtorch linear (per token)")]
    public void OursDecodeBf16Libtorch() => DecodeOurs();

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "bandwidth baseline: sum() over the decode weights, F32 (per token)")]
    public void WeightReductionF32() => ReduceWeights();

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "bandwidth baseline: sum() over the decode weights, BF16 (per token)")]
    public void WeightReductionBf16() => ReduceWeights();

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "decode after 128, llama.cpp F32 (per token)")]
    public void LlamaCppDecode() => DecodeLlamaCpp();

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "decode after 128, llama.cpp BF16 GGUF (per token)")]
    public void LlamaCppDecodeBf16() => DecodeLlamaCpp();

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "decode after 128, llama.cpp Q8_0 (per token)")]
    public void LlamaCppDecodeQ8() => DecodeLlamaCpp();

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "decode after 128, ours int8 weights (Q8_0 blocks, per token)")]
    public void OursDecodeInt8() => DecodeOurs();

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "bandwidth baseline: managed SIMD sum over the decode weights, all cores, int8 + scales (per token)")]
    public void ManagedWeightReductionInt8() => ReduceWeightsManaged();

    void DecodeLlamaCpp()
    {
        for (int i = 0; i < DecodeSteps; i++) _llamaCpp!.Decode([_decodeTokens[i]], PromptLength + i, lastOnly: true);
    }

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "bandwidth baseline: managed SIMD sum over the decode weights, all cores, F32 (per token)")]
    public void ManagedWeightReductionF32() => ReduceWeightsManaged();

    [Benchmark(OperationsPerInvoke = DecodeSteps, Description = "bandwidth baseline: managed SIMD sum over the decode weights, all cores, BF16 (per token)")]
    public void ManagedWeightReductionBf16() => ReduceWeightsManaged();

    /// <summary>Reads every decode weight once per step with a plain managed reduction on the kernels' worker pool.</summary>
    void ReduceWeightsManaged()
    {
        float total = 0;
        for (int i = 0; i < DecodeSteps; i++)
            foreach (var weight in _decodeWeights) total += WeightStreaming.Sum(weight);
        GC.KeepAlive(total);
    }

    /// <summary>Reads every decode weight once per step with libtorch's reduction (all threads): the streaming limit.</summary>
    void ReduceWeights()
    {
        using var _ = no_grad();
        for (int i = 0; i < DecodeSteps; i++)
        {
            using var scope = NewDisposeScope();
            foreach (var weight in _decodeWeights) weight.sum(type: ScalarType.Float32);
        }
    }

    void DecodeOurs()
    {
        using var _ = no_grad();
        for (int i = 0; i < DecodeSteps; i++)
        {
            using var token = tensor(new long[] { _decodeTokens[i] }).view(1, 1);
            using var logits = _ours!.Forward(token, cache: _cache, lastPositionOnly: true);
        }
    }
}
