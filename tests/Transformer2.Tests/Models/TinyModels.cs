using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

/// <summary>Small random configurations that exercise the same code paths as the real checkpoints.</summary>
internal static class TinyModels
{
    public static LlamaConfig Llama(bool tied = false, RopeScaling? scaling = null, int layers = 2) => new()
    {
        ModelType = LlamaConfig.LlamaModelType,
        HiddenSize = 64,
        IntermediateSize = 96,
        NumHiddenLayers = layers,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 16,
        RmsNormEps = 1e-5,
        RopeTheta = 500000,
        RopeScaling = scaling ?? RopeScaling.Llama3(8, 1, 4, 32),
        MaxPositionEmbeddings = 256,
        VocabSize = 101,
        TieWordEmbeddings = tied,
        BosTokenId = 1,
        EosTokenIds = [2, 3],
        TorchDtype = "float32",
    };

    public static LlamaConfig Mistral(int? slidingWindow = 4, int layers = 2) => new()
    {
        ModelType = LlamaConfig.MistralModelType,
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = layers,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 1,
        HeadDim = 8,
        RmsNormEps = 1e-5,
        RopeTheta = 1000000,
        MaxPositionEmbeddings = 128,
        VocabSize = 53,
        SlidingWindow = slidingWindow,
        BosTokenId = 1,
        EosTokenIds = [2],
        TorchDtype = "float32",
    };

    public static LlamaForCausalLM Create(LlamaConfig config, long seed = 1234, ScalarType dtype = ScalarType.Float32)
    {
        manual_seed(seed);
        var model = new LlamaForCausalLM(config, dtype);
        model.eval();
        return model;
    }

    public static Tensor RandomIds(LlamaConfig config, long batch, long length, long seed = 7)
    {
        var generator = new Generator((ulong)seed);
        return randint(0, config.VocabSize, [batch, length], ScalarType.Int64, generator: generator);
    }

    /// <summary>Logits [1, T, V] of <paramref name="ids"/> [1, T]: a <paramref name="prefill"/>-token prefill through a KV cache, then one token per step.</summary>
    public static Tensor DecodeTokenByToken(LlamaForCausalLM model, Tensor ids, int prefill)
    {
        using var noGrad = no_grad();
        long length = ids.shape[1];
        using var cache = model.CreateCache(1, (int)length);
        var steps = new List<Tensor> { model.Forward(ids.narrow(1, 0, prefill), cache: cache) };
        for (long t = prefill; t < length; t++) steps.Add(model.Forward(ids.narrow(1, t, 1), cache: cache));
        var logits = cat(steps, 1);
        foreach (var step in steps) step.Dispose();
        return logits;
    }

    /// <summary>Logits [B, T, V] of the whole sequence in one pass, without gradients.</summary>
    public static Tensor FullLogits(LlamaForCausalLM model, Tensor ids)
    {
        using var noGrad = no_grad();
        return model.Forward(ids);
    }

    public static string TempFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "t2-models-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }
}
