using Microsoft.Extensions.Logging;
using TorchSharp;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Llava;

/// <summary>
/// A LLaVA vision-language model: Hugging Face's <c>LlavaForConditionalGeneration</c> (LLaVA-1.5) or
/// <c>LlavaNextForConditionalGeneration</c> (LLaVA-NeXT), chosen by <see cref="LlavaConfig.ModelType"/>. Parameter names
/// follow the current Hugging Face layout (<c>model.language_model.layers.N…</c>, <c>model.vision_tower.vision_model…</c>,
/// <c>model.multi_modal_projector…</c>, <c>model.image_newline</c>, <c>lm_head</c>); legacy files are mapped when loaded.
/// </summary>
/// <remarks>
/// <see cref="LanguageModel"/> is a <see cref="LlamaForCausalLM"/> over the same decoder and head, so text generation,
/// scoring, KV caches and SVF work unchanged once image features are written into the prompt's embeddings
/// (<see cref="EmbedInputs"/>). SVF layers injected into this model are seen by that view, and vice versa.
/// </remarks>
public sealed class LlavaForConditionalGeneration : nn.Module
{
    readonly LlamaForCausalLM _languageModel;

    /// <summary>Vision tower, projector and decoder stack.</summary>
    public LlavaModel model;

    /// <summary>The LM head [vocab, text_hidden].</summary>
    public nn.Module<Tensor, Tensor> lm_head;

    /// <summary>Builds a randomly initialised model (normal(0, 0.02) matrices, zero biases, unit norms).</summary>
    /// <param name="config">The architecture; validated first.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="device">Where the parameters live; the <c>meta</c> device allocates nothing (for shape inspection).</param>
    public LlavaForConditionalGeneration(LlavaConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null)
        : this(config, new ParameterFactory(dtype, device ?? CPU, initialize: true))
    {
    }

    internal LlavaForConditionalGeneration(LlavaConfig config, ParameterFactory factory) : base(nameof(LlavaForConditionalGeneration))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        _languageModel = new LlamaForCausalLM(config.TextConfig, factory);
        model = new LlavaModel(config, _languageModel.model, factory);
        lm_head = _languageModel.lm_head;
        register_module(nameof(model), model);
        register_module(nameof(lm_head), lm_head);
    }

    /// <summary>The architecture.</summary>
    public LlavaConfig Config { get; }

    /// <summary>The language model as a <see cref="LlamaForCausalLM"/> sharing this model's decoder and head.</summary>
    public LlamaForCausalLM LanguageModel => _languageModel;

    /// <summary>The dtype the parameters were created in.</summary>
    public ScalarType DType => _languageModel.DType;

    /// <summary>The device of the language model's parameters.</summary>
    public Device Device => _languageModel.Device;

    /// <summary>Image tokens <paramref name="image"/> takes in the text (see <see cref="LlavaNextLayout.TokenCount"/>).</summary>
    public int ImageTokenCount(LlavaImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return LlavaNextLayout.TokenCount(Config, image.OriginalHeight, image.OriginalWidth);
    }

    /// <summary>Projected features of several images, concatenated in order: [Σ Nᵢ, text_hidden].</summary>
    public Tensor ImageFeatures(IReadOnlyList<LlavaImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("At least one image is needed.", nameof(images));
        using var scope = NewDisposeScope();
        var parts = images.Select(model.ImageFeatures).ToArray();
        return (parts.Length == 1 ? parts[0] : cat(parts, 0)).MoveToOuterDisposeScope();
    }

    /// <summary>Token embeddings with image features written into the image positions (see <see cref="LlavaModel.EmbedInputs(Tensor, Tensor?)"/>).</summary>
    public Tensor EmbedInputs(Tensor inputIds, Tensor? imageFeatures) => model.EmbedInputs(inputIds, imageFeatures);

    /// <summary>
    /// A <see cref="Generation.PromptEmbedder"/> that writes the features of <paramref name="images"/> (in order) into the
    /// image positions of the ids it is given: pass it to <c>TextGenerator.GenerateBatch</c> or <c>SequenceScorer.ComputeLogProbs</c>
    /// with <see cref="LanguageModel"/>. The vision tower runs without gradients (it stays frozen).
    /// </summary>
    public Generation.PromptEmbedder ImageEmbedder(IReadOnlyList<LlavaImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var copy = images.ToArray();
        return ids =>
        {
            using var scope = NewDisposeScope();
            Tensor? features = null;
            if (copy.Length > 0)
                using (no_grad()) features = ImageFeatures(copy);
            return EmbedInputs(ids, features).MoveToOuterDisposeScope();
        };
    }

    /// <summary>
    /// A <see cref="Generation.PromptEmbedder"/> for a batch whose row b shows <paramref name="rowImages"/>[b]: only the
    /// first image tokens of each row (as many as its images need) take features, so an image id that appears later in a
    /// row (sampled by the model) cannot shift the images of other rows.
    /// </summary>
    public Generation.PromptEmbedder ImageEmbedderPerRow(IReadOnlyList<IReadOnlyList<LlavaImage>> rowImages)
    {
        ArgumentNullException.ThrowIfNull(rowImages);
        var rows = rowImages.Select(r => r.ToArray()).ToArray();
        var counts = rows.Select(r => r.Sum(ImageTokenCount)).ToArray();
        var all = rows.SelectMany(r => r).ToArray();
        return ids =>
        {
            using var scope = NewDisposeScope();
            Tensor? features = null;
            if (all.Length > 0)
                using (no_grad()) features = ImageFeatures(all);
            return model.EmbedInputs(ids, features, counts).MoveToOuterDisposeScope();
        };
    }

    /// <summary>The prompt ids with each image token expanded to the token count of the matching image.</summary>
    public int[] ExpandImageTokens(IReadOnlyList<int> promptIds, IReadOnlyList<LlavaImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        return LlavaPrompt.ExpandImageTokens(promptIds, Config.ImageTokenIndex, images.Select(ImageTokenCount).ToList());
    }

    /// <summary>
    /// Logits [B, T, vocab] (or [B, 1, vocab] with <paramref name="lastPositionOnly"/>) for ids whose image positions
    /// take the features of <paramref name="images"/>, in row-major order.
    /// </summary>
    /// <param name="inputIds">Token ids [B, T] with each image already expanded to its token count.</param>
    /// <param name="images">The images, in the order their tokens appear; <see langword="null"/> for text only.</param>
    /// <param name="attentionMask">1 for real tokens, 0 for padding, [B, past + T].</param>
    /// <param name="positionIds">Positions [B, T]; by default from the mask or the cache length.</param>
    /// <param name="cache">Keys and values of earlier steps.</param>
    /// <param name="lastPositionOnly">Apply the LM head to the last position only.</param>
    public Tensor Forward(Tensor inputIds, IReadOnlyList<LlavaImage>? images = null, Tensor? attentionMask = null, Tensor? positionIds = null,
        KvCache? cache = null, bool lastPositionOnly = false)
    {
        using var scope = NewDisposeScope();
        var features = images is { Count: > 0 } ? ImageFeatures(images) : null;
        var embeds = EmbedInputs(inputIds, features);
        return _languageModel.ForwardFromEmbeddings(embeds, attentionMask, positionIds, cache, lastPositionOnly).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Loads a Hugging Face LLaVA folder: <c>config.json</c> (<c>model_type</c> <c>llava</c> or <c>llava_next</c>) plus
    /// <c>model.safetensors</c> or shards listed in <c>model.safetensors.index.json</c>, in the current or the legacy key layout.
    /// </summary>
    /// <exception cref="FileNotFoundException">The config, the weights or a listed shard is missing.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, or a tensor is missing, unexpected or of the wrong shape or dtype; the message names the key and file.</exception>
    public static LlavaForConditionalGeneration FromPretrained(string folder, ScalarType dtype = ScalarType.Float32, Device? device = null,
        IProgress<LoadProgress>? progress = null, CancellationToken cancellationToken = default, ILogger? logger = null) =>
        LlavaLoader.Load(folder, dtype, device, progress, cancellationToken, logger);

    /// <summary>Writes <c>config.json</c> and the weights in the current Hugging Face layout (one file, or shards of at most <paramref name="maxShardBytes"/>).</summary>
    public void SavePretrained(string folder, ScalarType? dtype = null, long? maxShardBytes = null) =>
        LlavaLoader.Save(this, folder, dtype, maxShardBytes);

    /// <summary>Every parameter's checkpoint key and shape, in registration order (the tied head left out).</summary>
    public IReadOnlyList<(string Key, long[] Shape)> StateDictShapes() =>
        CheckpointParameters().Select(p => (p.Key, p.Value.shape)).ToList();

    /// <summary>The parameters a checkpoint stores, by current-layout key.</summary>
    internal IEnumerable<KeyValuePair<string, TorchSharp.Modules.Parameter>> CheckpointParameters()
    {
        foreach (var (name, parameter) in named_parameters())
        {
            if (Config.TextConfig.TieWordEmbeddings && name == "lm_head.weight") continue;
            yield return new(name, parameter);
        }
    }
}
