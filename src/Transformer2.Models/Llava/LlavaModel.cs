using TorchSharp;
using TorchSharp.Modules;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Llava;

/// <summary>
/// HF <c>LlavaModel</c> / <c>LlavaNextModel</c> (checkpoint prefix <c>model.</c>): the vision tower, the projector,
/// <c>image_newline</c> (NeXT only) and the language model's decoder stack.
/// </summary>
public sealed class LlavaModel : nn.Module
{
    readonly LlavaConfig _config;

    /// <summary>The CLIP vision tower (frozen in SVF training).</summary>
    public ClipVisionModel vision_tower;

    /// <summary>Vision features → text width.</summary>
    public LlavaMultiModalProjector multi_modal_projector;

    /// <summary>LLaVA-NeXT: the feature appended after every row of an image's tile grid, [text_hidden]; <see langword="null"/> for LLaVA-1.5.</summary>
    public Parameter? image_newline;

    /// <summary>The language model's decoder stack (shared with <see cref="LlavaForConditionalGeneration.LanguageModel"/>).</summary>
    public LlamaModel language_model;

    internal LlavaModel(LlavaConfig config, LlamaModel languageModel, ParameterFactory factory) : base(nameof(LlavaModel))
    {
        _config = config;
        vision_tower = new ClipVisionModel(config.VisionConfig, factory);
        multi_modal_projector = new LlavaMultiModalProjector(config, factory);
        language_model = languageModel;
        register_module(nameof(vision_tower), vision_tower);
        register_module(nameof(multi_modal_projector), multi_modal_projector);
        if (config.IsNext)
        {
            image_newline = factory.Normal(config.TextConfig.HiddenSize);
            register_parameter(nameof(image_newline), image_newline);
        }
        register_module(nameof(language_model), language_model);
    }

    /// <summary>
    /// Projected features [N, text_hidden] of one image, in the order its N image tokens take them: for LLaVA-1.5 the
    /// selected patch features; for LLaVA-NeXT the base image, then the unpadded tile grid row by row with
    /// <c>image_newline</c> after each row.
    /// </summary>
    /// <exception cref="ArgumentException">The image's patch count or size does not fit the config.</exception>
    public Tensor ImageFeatures(LlavaImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        int side = _config.VisionConfig.ImageSize;
        if (image.Side != side)
            throw new ArgumentException($"the image was preprocessed to {image.Side}×{image.Side} patches but the vision tower takes {side}×{side}.", nameof(image));
        int tileRows = 0, tileColumns = 0;
        if (_config.IsNext)
        {
            (tileRows, tileColumns) = LlavaNextLayout.TileGrid(_config, image.OriginalHeight, image.OriginalWidth);
            if (image.Patches != 1 + tileRows * tileColumns)
                throw new ArgumentException(
                    $"an image of {image.OriginalHeight}×{image.OriginalWidth} is tiled {tileRows}×{tileColumns}, so it needs {1 + tileRows * tileColumns} patches (base + tiles); got {image.Patches}.", nameof(image));
        }
        else if (image.Patches != 1)
        {
            throw new ArgumentException($"LLaVA-1.5 takes one patch per image; got {image.Patches}.", nameof(image));
        }

        using var scope = NewDisposeScope();
        var features = multi_modal_projector.call(SelectFeatures(image.ToTensor(VisionDevice))); // [P, tokens, H]
        if (!_config.IsNext) return features[0].MoveToOuterDisposeScope();

        int n = _config.VisionConfig.PatchesPerSide;
        long hidden = features.shape[2];
        var baseFeatures = features[0]; // [n², H]
        // [tiles, n², H] → (rows, cols, n, n, H) → (H, rows, n, cols, n) → (H, rows·n, cols·n)
        var grid = features.narrow(0, 1, tileRows * tileColumns)
            .view(tileRows, tileColumns, n, n, hidden)
            .permute(4, 0, 2, 1, 3)
            .reshape(hidden, tileRows * n, tileColumns * n);
        var (firstRow, rows, firstColumn, columns) = LlavaNextLayout.Unpad(image.OriginalHeight, image.OriginalWidth, tileRows * n, tileColumns * n);
        grid = grid.narrow(1, firstRow, rows).narrow(2, firstColumn, columns);
        var newline = image_newline!.to_type(grid.dtype).view(hidden, 1, 1).expand(hidden, rows, 1);
        var packed = cat([grid, newline], 2).flatten(1).transpose(0, 1); // [rows·(cols + 1), H]
        return cat([baseFeatures, packed], 0).MoveToOuterDisposeScope();
    }

    Device VisionDevice => vision_tower.vision_model.pre_layrnorm.weight.device;

    /// <summary>Vision tower → the configured hidden states, class token dropped for <c>default</c>, concatenated: [P, tokens, D·layers].</summary>
    Tensor SelectFeatures(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var indices = _config.VisionFeatureLayers.Select(_config.HiddenStateIndex).ToList();
        var states = vision_tower.HiddenStates(pixels, indices.Max());
        bool dropClass = _config.VisionFeatureSelectStrategy == LlavaConfig.DefaultSelectStrategy;
        var selected = indices.Select(i => dropClass ? states[i].narrow(1, 1, states[i].shape[1] - 1) : states[i]).ToArray();
        return (selected.Length == 1 ? selected[0] : cat(selected, 2)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Token embeddings of <paramref name="inputIds"/> [B, T] with the image positions (id <c>image_token_index</c>)
    /// overwritten, in row-major order, by <paramref name="imageFeatures"/> [N, text_hidden]: [B, T, text_hidden].
    /// </summary>
    /// <exception cref="ArgumentException">The number of image positions differs from the number of feature rows.</exception>
    public Tensor EmbedInputs(Tensor inputIds, Tensor? imageFeatures) => EmbedInputs(inputIds, imageFeatures, null);

    /// <summary>
    /// As <see cref="EmbedInputs(Tensor, Tensor?)"/>, but with <paramref name="rowTokenCounts"/> given only the first
    /// <c>rowTokenCounts[b]</c> image tokens of row b take features; later ones (an image id the model generated) stay plain tokens.
    /// </summary>
    /// <exception cref="ArgumentException">A row holds fewer image tokens than its count, or the counts do not add up to the features.</exception>
    public Tensor EmbedInputs(Tensor inputIds, Tensor? imageFeatures, IReadOnlyList<int>? rowTokenCounts)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        if (inputIds.dim() != 2 || inputIds.dtype != ScalarType.Int64)
            throw new ArgumentException($"input ids must be an int64 tensor [batch, seq]; got {inputIds.dtype} [{string.Join(", ", inputIds.shape)}].", nameof(inputIds));
        using var scope = NewDisposeScope();
        var device = language_model.embed_tokens.weight.device;
        var ids = inputIds.to(device);
        long min = ids.numel() == 0 ? 0 : ids.min().item<long>(), max = ids.numel() == 0 ? 0 : ids.max().item<long>();
        if (min < 0 || max >= _config.TextConfig.VocabSize)
            throw new ArgumentException($"token id {(min < 0 ? min : max)} is outside the vocabulary [0, {_config.TextConfig.VocabSize}).", nameof(inputIds));
        var embeds = language_model.embed_tokens.call(ids); // [B, T, H]
        var isImage = ids.eq(_config.ImageTokenIndex); // [B, T]
        if (rowTokenCounts is not null)
        {
            if (rowTokenCounts.Count != ids.shape[0])
                throw new ArgumentException($"{rowTokenCounts.Count} row token counts were given for {ids.shape[0]} rows.", nameof(rowTokenCounts));
            var counts = tensor(rowTokenCounts.Select(c => (long)c).ToArray(), device: device).unsqueeze(1); // [B, 1]
            var available = isImage.sum(1).cpu().data<long>().ToArray();
            for (int b = 0; b < available.Length; b++)
                if (available[b] < rowTokenCounts[b])
                    throw new ArgumentException($"row {b} holds {available[b]} image tokens (id {_config.ImageTokenIndex}) but its images need {rowTokenCounts[b]}.", nameof(inputIds));
            isImage = isImage.logical_and(isImage.to_type(ScalarType.Int64).cumsum(1).le(counts)); // the first count_b per row
        }
        long positions = isImage.sum().item<long>();
        long rows = imageFeatures is null ? 0 : imageFeatures.shape[0];
        if (positions != rows)
            throw new ArgumentException(
                $"the text holds {positions} image tokens (id {_config.ImageTokenIndex}) but the images give {rows} features; expand each image placeholder to its token count (LlavaPrompt.ExpandImageTokens).", nameof(imageFeatures));
        if (rows == 0) return embeds.MoveToOuterDisposeScope();
        if (imageFeatures!.dim() != 2 || imageFeatures.shape[1] != embeds.shape[2])
            throw new ArgumentException($"image features must be [N, {embeds.shape[2]}]; got [{string.Join(", ", imageFeatures.shape)}].", nameof(imageFeatures));
        var mask = isImage.unsqueeze(2).expand_as(embeds);
        return embeds.masked_scatter(mask, imageFeatures.to(device).to_type(embeds.dtype)).MoveToOuterDisposeScope();
    }
}
