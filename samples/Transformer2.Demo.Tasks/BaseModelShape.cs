using Transformer2.Models.Llama;

namespace Transformer2.Demo.Tasks;

/// <summary>Size of the from-scratch LLaMA and its tokenizer.</summary>
/// <param name="Hidden">Hidden size.</param>
/// <param name="Intermediate">MLP intermediate size.</param>
/// <param name="Layers">Decoder layers.</param>
/// <param name="Heads">Attention heads.</param>
/// <param name="KeyValueHeads">Key/value heads (grouped-query attention).</param>
/// <param name="Merges">BPE merges learned on top of the 256 byte tokens.</param>
public sealed record BaseModelShape(int Hidden, int Intermediate, int Layers, int Heads, int KeyValueHeads, int Merges)
{
    /// <summary>The bundled model: 862,080 parameters with its 582-token vocabulary.</summary>
    public static BaseModelShape Full { get; } = new(128, 384, 4, 4, 2, 320);

    /// <summary>A toy for the smoke test.</summary>
    public static BaseModelShape Smoke { get; } = new(32, 64, 2, 4, 2, 48);

    /// <summary>The LLaMA config for a vocabulary of <paramref name="vocabSize"/> with the given special token ids.</summary>
    public LlamaConfig ToConfig(int vocabSize, int bos, IReadOnlyList<int> eos) => new()
    {
        HiddenSize = Hidden,
        IntermediateSize = Intermediate,
        NumHiddenLayers = Layers,
        NumAttentionHeads = Heads,
        NumKeyValueHeads = KeyValueHeads,
        HeadDim = Hidden / Heads,
        RmsNormEps = 1e-5,
        RopeTheta = 10000,
        MaxPositionEmbeddings = 512,
        VocabSize = vocabSize,
        TieWordEmbeddings = true,
        BosTokenId = bos,
        EosTokenIds = eos,
        TorchDtype = "float32",
    };
}
