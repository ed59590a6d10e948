namespace Transformer2.Models.Llama;

/// <summary>The published <c>config.json</c> values of well-known checkpoints, for building a model's shape without its files.</summary>
public static class LlamaPresets
{
    const int Llama3Vocab = 128256;
    const int Llama3Bos = 128000;
    const int Llama3EndOfText = 128001;
    const int Llama3EndOfMessage = 128008;
    const int Llama3EndOfTurn = 128009;

    static LlamaConfig Llama3(int hidden, int intermediate, int layers, int heads, int maxPositions, int[] eos, RopeScaling? scaling = null, bool tied = false) => new()
    {
        ModelType = LlamaConfig.LlamaModelType,
        HiddenSize = hidden,
        IntermediateSize = intermediate,
        NumHiddenLayers = layers,
        NumAttentionHeads = heads,
        NumKeyValueHeads = 8,
        HeadDim = hidden / heads,
        RmsNormEps = 1e-5,
        RopeTheta = 500000,
        RopeScaling = scaling,
        MaxPositionEmbeddings = maxPositions,
        VocabSize = Llama3Vocab,
        TieWordEmbeddings = tied,
        BosTokenId = Llama3Bos,
        EosTokenIds = eos,
        TorchDtype = "bfloat16",
    };

    static RopeScaling Llama31Scaling => RopeScaling.Llama3(8, 1, 4, 8192);
    static RopeScaling Llama32Scaling => RopeScaling.Llama3(32, 1, 4, 8192);

    /// <summary>meta-llama/Meta-Llama-3-8B.</summary>
    public static LlamaConfig Llama3_8B => Llama3(4096, 14336, 32, 32, 8192, [Llama3EndOfText]);

    /// <summary>meta-llama/Meta-Llama-3-8B-Instruct.</summary>
    public static LlamaConfig Llama3_8BInstruct => Llama3(4096, 14336, 32, 32, 8192, [Llama3EndOfTurn]);

    /// <summary>meta-llama/Meta-Llama-3-70B.</summary>
    public static LlamaConfig Llama3_70B => Llama3(8192, 28672, 80, 64, 8192, [Llama3EndOfText]);

    /// <summary>meta-llama/Meta-Llama-3-70B-Instruct.</summary>
    public static LlamaConfig Llama3_70BInstruct => Llama3(8192, 28672, 80, 64, 8192, [Llama3EndOfTurn]);

    /// <summary>meta-llama/Llama-3.1-8B.</summary>
    public static LlamaConfig Llama31_8B => Llama3(4096, 14336, 32, 32, 131072, [Llama3EndOfText], Llama31Scaling);

    /// <summary>meta-llama/Llama-3.1-8B-Instruct.</summary>
    public static LlamaConfig Llama31_8BInstruct => Llama3(4096, 14336, 32, 32, 131072, [Llama3EndOfText, Llama3EndOfMessage, Llama3EndOfTurn], Llama31Scaling);

    /// <summary>meta-llama/Llama-3.1-70B.</summary>
    public static LlamaConfig Llama31_70B => Llama3(8192, 28672, 80, 64, 131072, [Llama3EndOfText], Llama31Scaling);

    /// <summary>meta-llama/Llama-3.1-70B-Instruct.</summary>
    public static LlamaConfig Llama31_70BInstruct => Llama3(8192, 28672, 80, 64, 131072, [Llama3EndOfText, Llama3EndOfMessage, Llama3EndOfTurn], Llama31Scaling);

    /// <summary>meta-llama/Llama-3.2-1B (tied embeddings, head_dim 64).</summary>
    public static LlamaConfig Llama32_1B => Llama3(2048, 8192, 16, 32, 131072, [Llama3EndOfText], Llama32Scaling, tied: true);

    /// <summary>meta-llama/Llama-3.2-3B (tied embeddings, head_dim 128).</summary>
    public static LlamaConfig Llama32_3B => Llama3(3072, 8192, 28, 24, 131072, [Llama3EndOfText], Llama32Scaling, tied: true);

    /// <summary>mistralai/Mistral-7B-v0.3 (the Instruct variant has the same config).</summary>
    public static LlamaConfig Mistral7B_v03 => new()
    {
        ModelType = LlamaConfig.MistralModelType,
        HiddenSize = 4096,
        IntermediateSize = 14336,
        NumHiddenLayers = 32,
        NumAttentionHeads = 32,
        NumKeyValueHeads = 8,
        HeadDim = 128,
        RmsNormEps = 1e-5,
        RopeTheta = 1000000,
        MaxPositionEmbeddings = 32768,
        VocabSize = 32768,
        TieWordEmbeddings = false,
        SlidingWindow = null,
        BosTokenId = 1,
        EosTokenIds = [2],
        TorchDtype = "bfloat16",
    };

    /// <summary>Every preset by its Hugging Face repository name.</summary>
    public static IReadOnlyDictionary<string, LlamaConfig> All => new Dictionary<string, LlamaConfig>
    {
        ["meta-llama/Meta-Llama-3-8B"] = Llama3_8B,
        ["meta-llama/Meta-Llama-3-8B-Instruct"] = Llama3_8BInstruct,
        ["meta-llama/Meta-Llama-3-70B"] = Llama3_70B,
        ["meta-llama/Meta-Llama-3-70B-Instruct"] = Llama3_70BInstruct,
        ["meta-llama/Llama-3.1-8B"] = Llama31_8B,
        ["meta-llama/Llama-3.1-8B-Instruct"] = Llama31_8BInstruct,
        ["meta-llama/Llama-3.1-70B"] = Llama31_70B,
        ["meta-llama/Llama-3.1-70B-Instruct"] = Llama31_70BInstruct,
        ["meta-llama/Llama-3.2-1B"] = Llama32_1B,
        ["meta-llama/Llama-3.2-3B"] = Llama32_3B,
        ["mistralai/Mistral-7B-v0.3"] = Mistral7B_v03,
        ["mistralai/Mistral-7B-Instruct-v0.3"] = Mistral7B_v03,
    };
}
