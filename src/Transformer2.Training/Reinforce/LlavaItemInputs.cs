using Transformer2.Models.Generation;
using Transformer2.Models.Llava;
using Transformer2.Training.Tasks;

namespace Transformer2.Training.Reinforce;

/// <summary>
/// Feeds each item's image (<see cref="TaskItem.ImageBytes"/> or <see cref="TaskItem.ImagePath"/>) to a LLaVA model: the prompt's image token is expanded to
/// the image's token count and the image features are written into the embeddings. Train the SVF expert on
/// <see cref="LlavaForConditionalGeneration.LanguageModel"/> (the vision tower stays frozen).
/// </summary>
/// <remarks>Preprocessed images are kept in a small cache keyed by path (or by the item's byte array), so a batch's rollout and update decode each image once.</remarks>
/// <param name="model">The LLaVA model whose language model is trained.</param>
/// <param name="processor">Turns image files into model inputs (the checkpoint's processor).</param>
/// <param name="cacheSize">How many preprocessed images to keep.</param>
public sealed class LlavaItemInputs(LlavaForConditionalGeneration model, LlavaImageProcessor processor, int cacheSize = 256) : IItemInputs
{
    readonly LlavaForConditionalGeneration _model = model ?? throw new ArgumentNullException(nameof(model));
    readonly LlavaImageProcessor _processor = processor ?? throw new ArgumentNullException(nameof(processor));
    readonly Dictionary<object, LlavaImage> _cache = [];
    readonly Queue<object> _order = new();
    readonly Lock _lock = new();

    /// <inheritdoc />
    public int[] PreparePrompt(TaskItem item, int[] promptIds)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(promptIds);
        try
        {
            return _model.ExpandImageTokens(promptIds, [Image(item)]);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Item '{item.Id}': {e.Message}", nameof(promptIds), e);
        }
    }

    /// <inheritdoc />
    public PromptEmbedder Embedder(IReadOnlyList<TaskItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return _model.ImageEmbedderPerRow(items.Select(item => (IReadOnlyList<LlavaImage>)[Image(item)]).ToList());
    }

    /// <summary>The preprocessed image of <paramref name="item"/>: <see cref="TaskItem.ImageBytes"/> when set, else the file <see cref="TaskItem.ImagePath"/>.</summary>
    /// <exception cref="ArgumentException">The item has no image.</exception>
    /// <exception cref="InvalidDataException">The image cannot be read; the message names the item or file.</exception>
    public LlavaImage Image(TaskItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        // Paths are keyed by value, embedded bytes by the array itself (an item's bytes are not copied).
        object key = (object?)item.ImageBytes ?? item.ImagePath
            ?? throw new ArgumentException($"Item '{item.Id}' has no image (TaskItem.ImagePath and ImageBytes are null).", nameof(item));
        lock (_lock)
        {
            if (_cache.TryGetValue(key, out var cached)) return cached;
        }
        var image = item.ImageBytes is { } bytes
            ? _processor.Process(RgbImage.Decode(bytes, ImageName(item), _processor.MaxPixels))
            : _processor.Process(item.ImagePath!);
        lock (_lock)
        {
            if (_cache.TryAdd(key, image))
            {
                _order.Enqueue(key);
                while (_order.Count > Math.Max(1, cacheSize)) _cache.Remove(_order.Dequeue());
            }
        }
        return image;
    }

    /// <summary>How an item's embedded image is named in errors: the item and, when the dataset kept it, the original file name.</summary>
    internal static string ImageName(TaskItem item) =>
        item.Metadata.TryGetValue("image_path", out var name) ? $"item '{item.Id}' image ({name})" : $"item '{item.Id}' image";
}
