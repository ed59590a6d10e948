using LLama;
using LLama.Common;
using LLama.Native;

namespace Transformer2.Tests.Models.Oracle;

/// <summary>
/// llama.cpp (through LLamaSharp's CPU backend) as an independent implementation: loads a GGUF file and returns the
/// logits of every position, computed with an F32 KV cache and flash attention off (its F16 defaults add ~1e-2 of error).
/// </summary>
internal sealed class LlamaCpp : IDisposable
{
    static readonly object InitializeGate = new();
    static bool _initialized;

    readonly LLamaWeights _weights;
    readonly LLamaContext _context;

    LlamaCpp(LLamaWeights weights, LLamaContext context)
    {
        _weights = weights;
        _context = context;
        VocabSize = weights.Vocab.Count;
    }

    /// <summary>Logits per token.</summary>
    public int VocabSize { get; }

    /// <summary>
    /// Loads <paramref name="ggufPath"/> with a context of <paramref name="contextSize"/> positions, with the GGUF LoRA
    /// <paramref name="loraPath"/> applied at scale 1 when given.
    /// </summary>
    public static LlamaCpp Load(string ggufPath, int contextSize, int threads = 1, string? loraPath = null)
    {
        InitializeOnce();
        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = (uint)contextSize,
            BatchSize = (uint)contextSize,
            UBatchSize = (uint)contextSize,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        var weights = LLamaWeights.LoadFromFile(parameters);
        try
        {
            var context = weights.CreateContext(parameters);
            if (loraPath is not null)
            {
                try
                {
                    var adapter = weights.NativeHandle.LoadLoraFromFile(loraPath);
                    context.NativeHandle.SetLoraAdapters([(adapter, 1f)]);
                }
                catch
                {
                    context.Dispose();
                    throw;
                }
            }
            return new LlamaCpp(weights, context);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes <paramref name="destination"/>: llama.cpp's Q8_0 quantization of the F32 GGUF <paramref name="source"/>,
    /// the output (LM head) tensor included, as <c>llama-quantize … Q8_0</c> does.
    /// </summary>
    public static void QuantizeQ8(string source, string destination)
    {
        InitializeOnce();
        NativeApi.llama_empty_call();   // loads the native library: the quantizer's P/Invoke alone does not resolve it
        if (!LLamaQuantizer.Quantize(source, destination, LLamaFtype.MOSTLY_Q8_0, nthread: Environment.ProcessorCount, allowRequantize: false, quantizeOutputTensor: true))
            throw new InvalidOperationException($"llama.cpp could not quantize '{source}' to Q8_0.");
    }

    /// <summary>llama.cpp's own tokenization of <paramref name="text"/> (from the GGUF's tokenizer metadata), no BOS added, special tokens parsed.</summary>
    public int[] Tokenize(string text) => _context.Tokenize(text, addBos: false, special: true).Select(t => (int)t).ToArray();

    /// <summary>Forgets every cached position.</summary>
    public void Reset() => _context.NativeHandle.MemoryClear(true);

    /// <summary>
    /// Evaluates <paramref name="tokens"/> at positions <paramref name="firstPosition"/>… after what is cached and returns
    /// their logits [tokens.Count, vocab], or only the last token's [1, vocab] with <paramref name="lastOnly"/>.
    /// </summary>
    public float[,] Decode(IReadOnlyList<int> tokens, int firstPosition = 0, bool lastOnly = false)
    {
        ArgumentOutOfRangeException.ThrowIfZero(tokens.Count);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++)
            batch.Add((LLamaToken)tokens[i], (LLamaPos)(firstPosition + i), (LLamaSeqId)0, logits: !lastOnly || i == tokens.Count - 1);
        var result = _context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {result}.");
        int first = lastOnly ? tokens.Count - 1 : 0;
        var logits = new float[tokens.Count - first, VocabSize];
        for (int i = first; i < tokens.Count; i++)
        {
            // Indexed by the token's place in the batch.
            var row = _context.NativeHandle.GetLogitsIth(i);
            for (int v = 0; v < VocabSize; v++) logits[i - first, v] = row[v];
        }
        return logits;
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }

    static void InitializeOnce()
    {
        lock (InitializeGate)
        {
            if (_initialized) return;
            // Quiet: llama.cpp logs every tensor it loads. Errors still surface as exceptions.
            NativeLibraryConfig.All.WithLogCallback((level, message) => { });
            _initialized = true;
        }
    }
}
