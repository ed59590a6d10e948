using Microsoft.Extensions.Logging;
using TorchSharp;
using Transformer2.Core.Kernels;
using Transformer2.Core.Quantization;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>
/// A LLaMA-family causal language model (LLaMA 2/3, Mistral) whose parameter names equal Hugging Face's checkpoint keys
/// (<c>model.layers.N.self_attn.q_proj.weight</c>, …). Every projection is a field typed <c>Module&lt;Tensor, Tensor&gt;</c>,
/// so it can be replaced (for example by an SVF-adapted layer) without the model knowing.
/// </summary>
public sealed class LlamaForCausalLM : nn.Module<Tensor, Tensor>
{
    /// <summary>The decoder stack.</summary>
    public LlamaModel model;

    /// <summary>The LM head [vocab, hidden]; shares <c>model.embed_tokens.weight</c> when embeddings are tied.</summary>
    public nn.Module<Tensor, Tensor> lm_head;

    /// <summary>Builds a randomly initialised model (normal(0, 0.02) weights, unit norms), as a Hugging Face model built from a config.</summary>
    /// <param name="config">The architecture; validated first.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="device">Where the parameters live; the <c>meta</c> device allocates nothing (for shape inspection).</param>
    public LlamaForCausalLM(LlamaConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null)
        : this(config, new ParameterFactory(dtype, device ?? CPU, initialize: true))
    {
    }

    internal LlamaForCausalLM(LlamaConfig config, ParameterFactory factory) : base(nameof(LlamaForCausalLM))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        DType = factory.DType;
        model = new LlamaModel(config, factory);
        lm_head = config.TieWordEmbeddings
            ? ParameterFactory.LinearSharing(model.embed_tokens.weight)
            : factory.Linear(config.HiddenSize, config.VocabSize);
        RegisterComponents();
    }

    /// <summary>The architecture.</summary>
    public LlamaConfig Config { get; }

    /// <summary>The dtype the parameters were created in.</summary>
    public ScalarType DType { get; }

    /// <summary>The device of the parameters.</summary>
    public Device Device => model.embed_tokens.weight.device;

    /// <summary>Logits [B, T, vocab] for unpadded token ids [B, T].</summary>
    public override Tensor forward(Tensor inputIds) => Forward(inputIds);

    /// <summary>Logits [B, T, vocab] (or [B, 1, vocab] with <paramref name="lastPositionOnly"/>).</summary>
    /// <param name="inputIds">Token ids, int64 [B, T].</param>
    /// <param name="attentionMask">1 for real tokens and 0 for padding, [B, past + T]; <see langword="null"/> when nothing is padded.</param>
    /// <param name="positionIds">Positions [B, T]; by default derived from the mask (left padding) or the cache length.</param>
    /// <param name="cache">Keys and values of earlier steps; the new ones are appended.</param>
    /// <param name="lastPositionOnly">Apply the LM head to the last position only (what a decoding step needs).</param>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? positionIds = null, KvCache? cache = null, bool lastPositionOnly = false)
    {
        using var scope = NewDisposeScope();
        var hidden = ForwardHidden(inputIds, attentionMask, positionIds, cache); // [B, T, hidden]
        if (lastPositionOnly) hidden = hidden.narrow(1, hidden.shape[1] - 1, 1); // [B, 1, hidden]
        return DecodeGemv.Call(lm_head, hidden).MoveToOuterDisposeScope();
    }

    /// <summary>Final-normed hidden states [B, T, hidden], before the LM head (same arguments as <see cref="Forward"/>).</summary>
    public Tensor ForwardHidden(Tensor inputIds, Tensor? attentionMask = null, Tensor? positionIds = null, KvCache? cache = null)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        return model.Forward(inputIds, attentionMask, positionIds, cache);
    }

    /// <summary>
    /// Logits from input embeddings [B, T, hidden] instead of token ids: the entry point for inputs that are not all
    /// tokens (LLaVA writes image features into the embedded prompt). Other arguments as in <see cref="Forward"/>.
    /// </summary>
    public Tensor ForwardFromEmbeddings(Tensor inputsEmbeds, Tensor? attentionMask = null, Tensor? positionIds = null, KvCache? cache = null, bool lastPositionOnly = false)
    {
        using var scope = NewDisposeScope();
        var hidden = ForwardHiddenFromEmbeddings(inputsEmbeds, attentionMask, positionIds, cache); // [B, T, hidden]
        if (lastPositionOnly) hidden = hidden.narrow(1, hidden.shape[1] - 1, 1); // [B, 1, hidden]
        return DecodeGemv.Call(lm_head, hidden).MoveToOuterDisposeScope();
    }

    /// <summary>Final-normed hidden states [B, T, hidden] from input embeddings (see <see cref="ForwardFromEmbeddings"/>).</summary>
    public Tensor ForwardHiddenFromEmbeddings(Tensor inputsEmbeds, Tensor? attentionMask = null, Tensor? positionIds = null, KvCache? cache = null)
    {
        ArgumentNullException.ThrowIfNull(inputsEmbeds);
        return model.ForwardEmbeddings(inputsEmbeds, attentionMask, positionIds, cache);
    }

    /// <summary>A cache sized for this model: <paramref name="batchSize"/> rows of up to <paramref name="capacity"/> positions.</summary>
    public KvCache CreateCache(int batchSize, int capacity) => new(Config, batchSize, capacity, DType, Device);

    /// <summary>
    /// Loads a Hugging Face model folder: <c>config.json</c> plus <c>model.safetensors</c>, or shards listed in
    /// <c>model.safetensors.index.json</c>. F32, F16 and BF16 tensors on disk are converted to <paramref name="dtype"/>.
    /// </summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="dtype">Parameter dtype: Float32, Float16 or BFloat16.</param>
    /// <param name="device">Where to place the parameters (CPU by default).</param>
    /// <param name="progress">Reports each tensor as it is copied in.</param>
    /// <param name="cancellationToken">Stops the load between tensors.</param>
    /// <param name="logger">Optional log of what is loaded.</param>
    /// <exception cref="FileNotFoundException">The config, the weights or a shard the index names is missing.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, or a tensor is missing, unexpected or of the wrong shape or dtype; the message names the key and file.</exception>
    /// <param name="quantization">
    /// <see cref="WeightQuantization.Int8"/> stores every projection and the LM head as int8 blocks after loading (see
    /// <see cref="QuantizeWeights"/>); the load itself still peaks at the model in <paramref name="dtype"/>.
    /// </param>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static LlamaForCausalLM FromPretrained(string folder, ScalarType dtype = ScalarType.Float32, Device? device = null,
        IProgress<LoadProgress>? progress = null, CancellationToken cancellationToken = default, ILogger? logger = null,
        WeightQuantization quantization = WeightQuantization.None)
    {
        if (!Enum.IsDefined(quantization)) throw new ArgumentOutOfRangeException(nameof(quantization), quantization, "Unknown weight quantization.");
        var model = PretrainedLoader.Load(folder, dtype, device, progress, cancellationToken, logger);
        if (quantization == WeightQuantization.None) return model;
        try
        {
            var quantized = model.QuantizeWeights(cancellationToken);
            logger?.LogInformation("Stored {Count} projection weights of {Folder} as int8 blocks", quantized.Count, folder);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Replaces every projection that is still a plain <c>Linear</c> (q/k/v/o, gate/up/down, the LM head) by an int8
    /// <see cref="Q8Linear"/>: llama.cpp's Q8_0 layout, 1.125 bytes per weight, read directly by batch-1 decoding. Layers an
    /// adapter already replaced (SVF, LoRA) keep the working dtype, so inject adapters first. The embedding table, the
    /// norms and a tied head's shared table stay as they are (a tied head gets an int8 copy), and so does a projection whose
    /// input size is not a multiple of 32. The model can no longer be saved as a checkpoint.
    /// </summary>
    /// <returns>The int8 layers by weight name.</returns>
    public IReadOnlyDictionary<string, Q8Linear> QuantizeWeights(CancellationToken cancellationToken = default) =>
        WeightQuantizer.QuantizeLinears(this, cancellationToken: cancellationToken);

    /// <summary>
    /// Writes <c>config.json</c> and the weights in Hugging Face's layout: one <c>model.safetensors</c>, or shards of at most
    /// <paramref name="maxShardBytes"/> with a <c>model.safetensors.index.json</c>.
    /// </summary>
    /// <param name="folder">Created if needed; existing files of the same names are replaced.</param>
    /// <param name="dtype">Store the weights in this dtype (the model's own by default).</param>
    /// <param name="maxShardBytes">Split the weights into shards of at most this size (a tensor larger than it gets a shard of its own).</param>
    public void SavePretrained(string folder, ScalarType? dtype = null, long? maxShardBytes = null) =>
        PretrainedLoader.Save(this, folder, dtype, maxShardBytes);

    /// <summary>Every parameter's checkpoint key and shape, in registration order; the LM head is left out when tied, as in HF files.</summary>
    public IReadOnlyList<(string Key, long[] Shape)> StateDictShapes() =>
        CheckpointParameters().Select(p => (p.Key, p.Value.shape)).ToList();

    /// <summary>The parameters a checkpoint stores, by key (without the tied LM head).</summary>
    internal IEnumerable<KeyValuePair<string, TorchSharp.Modules.Parameter>> CheckpointParameters()
    {
        foreach (var (name, parameter) in named_parameters())
        {
            if (Config.TieWordEmbeddings && name == "lm_head.weight") continue;
            yield return new(name, parameter);
        }
    }
}
