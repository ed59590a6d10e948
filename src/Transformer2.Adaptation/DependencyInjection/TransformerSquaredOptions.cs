using Transformer2.Adaptation.Pipeline;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;

namespace Transformer2.Adaptation.DependencyInjection;

/// <summary>Configuration of a pipeline registered with <c>AddTransformerSquared</c> (bindable from configuration).</summary>
public sealed class TransformerSquaredOptions
{
    /// <summary>
    /// Hugging Face model folder (config.json, safetensors, tokenizer files). Required. A LLaVA folder (<c>model_type</c>
    /// <c>llava</c> or <c>llava_next</c>, with <c>preprocessor_config.json</c>) gives a pipeline that takes images.
    /// </summary>
    public string? ModelFolder { get; set; }

    /// <summary>Weights dtype: <c>float32</c>, <c>bfloat16</c> or <c>float16</c>.</summary>
    public string DType { get; set; } = "float32";

    /// <summary>The identity experts must carry (default: the folder's name).</summary>
    public string? ModelIdentity { get; set; }

    /// <summary>Where the SVD of the targets is kept (strongly advised for real models).</summary>
    public string? DecompositionCache { get; set; }

    /// <summary>The dtype of U and V in a cache built for <see cref="DecompositionCache"/> (WeightDType halves a bf16 model's cache).</summary>
    public FactorStorage DecompositionCacheStorage { get; set; } = FactorStorage.Float32;

    /// <summary>Expert files to register.</summary>
    public IList<string> ExpertFiles { get; } = [];

    /// <summary>Folders whose <c>*.safetensors</c> experts are registered.</summary>
    public IList<string> ExpertFolders { get; } = [];

    /// <summary>Prompt-dispatch categories: label → expert name. Empty means no first pass (base model).</summary>
    public IDictionary<string, string> Categories { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Descriptions of categories other than code, math and reasoning, by label.</summary>
    public IDictionary<string, string> CategoryDescriptions { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>An expert applied while classifying (the classification-expert strategy).</summary>
    public string? ClassificationExpert { get; set; }

    /// <summary>How experts reach the weights.</summary>
    public ExpertApplicationMode Mode { get; set; } = ExpertApplicationMode.Factored;

    /// <summary>
    /// Keep only the SVD factors of adapted matrices, not their dense weights (<see cref="TransformerSquaredBuilder.UseFactoredOnlyLayers"/>):
    /// less memory (an 8B model with its MLP adapted fits in 24 GB), every forward reads U and V instead of W. Needs
    /// <see cref="Mode"/> = <see cref="ExpertApplicationMode.Factored"/>.
    /// </summary>
    public bool FactoredOnlyLayers { get; set; }

    /// <summary>
    /// Store the frozen projections SVF does not adapt as int8 blocks, llama.cpp's Q8_0 layout
    /// (<see cref="TransformerSquaredBuilder.UseInt8Weights"/>): 1.125 bytes per weight, read directly by batch-1 decoding.
    /// </summary>
    public bool Int8Weights { get; set; }

    /// <summary>Memory budget of composed weights in merged mode, in bytes.</summary>
    public long MergedBudgetBytes { get; set; } = 2L << 30;

    /// <summary>What mixtures add up.</summary>
    public MixtureSemantics MixtureSemantics { get; set; } = MixtureSemantics.Multipliers;

    /// <summary>Default maximum answer length.</summary>
    public int MaxNewTokens { get; set; } = 512;

    /// <summary>Default temperature (0 = greedy).</summary>
    public double Temperature { get; set; }

    /// <summary>
    /// Sends prompt dispatch's classification (the first pass) to the keyed <c>IChatClient</c> registered under this key;
    /// null classifies locally. Needs <see cref="Categories"/> and no <see cref="ClassificationExpert"/> (which must be
    /// applied to the local weights). See <see cref="TransformerSquaredBuilder.UseRemoteFirstPass"/>.
    /// </summary>
    public string? RemoteFirstPassClientKey { get; set; }

    /// <summary>With a remote first pass: the remote model that classifies (for example the server's unadapted model).</summary>
    public string RemoteFirstPassModel { get; set; } = "base";

    /// <summary>
    /// Sends the second pass to the keyed <c>IChatClient</c> registered under this key (for example an OpenAI client on a
    /// vLLM endpoint); null answers locally. See <see cref="TransformerSquaredBuilder.UseRemoteSecondPass"/>.
    /// </summary>
    public string? RemoteSecondPassClientKey { get; set; }

    /// <summary>With a remote second pass: expert name → remote model name (an expert not listed is asked for by its own name).</summary>
    public IDictionary<string, string> RemoteExpertModels { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>With a remote second pass: the remote name of the unadapted model.</summary>
    public string RemoteBaseModel { get; set; } = "base";
}
