using System.Runtime.CompilerServices;
using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Models.Generation;
using Transformer2.Models.Llama;
using Transformer2.Models.Llava;
using Transformer2.Models.Tokenization;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>A loaded model with SVF layers on its targets, its tokenizer and its chat template.</summary>
/// <param name="Model">The model (for LLaVA: its language model); its target projections are <see cref="SvfLinear"/> layers.</param>
/// <param name="Tokenizer">The model's tokenizer.</param>
/// <param name="Template">The chat template prompts are rendered with.</param>
/// <param name="Identity">The model's identity, checked against experts' metadata.</param>
/// <remarks>
/// A text backbone refuses messages with images. A LLaVA backbone (<see cref="ForLlava"/>) accepts them: each image takes
/// the place of one <c>&lt;image&gt;</c> in its message (or is put in front of the text), is preprocessed by
/// <see cref="ImageProcessor"/>, expanded to its token count, and its features are written into the prompt's embeddings;
/// SVF experts act on the language model's layers only.
/// </remarks>
public sealed record AdaptationBackbone(LlamaForCausalLM Model, ITextTokenizer Tokenizer, IChatTemplate Template, string Identity)
{
    IReadOnlyDictionary<string, SvfLinear>? _layers;
    readonly ConditionalWeakTable<ChatImage, LlavaImage> _preprocessed = new();

    /// <summary>The LLaVA model whose language model is <see cref="Model"/>, or <see langword="null"/> for a text backbone.</summary>
    public LlavaForConditionalGeneration? Llava { get; private init; }

    /// <summary>Turns request images into model inputs (LLaVA backbones only).</summary>
    public LlavaImageProcessor? ImageProcessor { get; private init; }

    /// <summary>True when requests may carry images.</summary>
    public bool AcceptsImages => Llava is not null;

    /// <summary>
    /// A LLaVA backbone: <paramref name="llava"/>'s language model answers, its vision tower and projector turn the requests'
    /// images into features.
    /// </summary>
    /// <exception cref="ArgumentException">The processor does not fit the model (LLaVA vs LLaVA-NeXT, patch size), or the tokenizer does not map <c>&lt;image&gt;</c> to the model's image token.</exception>
    public static AdaptationBackbone ForLlava(LlavaForConditionalGeneration llava, LlavaImageProcessor processor, ITextTokenizer tokenizer, IChatTemplate template, string identity)
    {
        ArgumentNullException.ThrowIfNull(llava);
        ArgumentNullException.ThrowIfNull(processor);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(identity);
        var config = llava.Config;
        if (processor.Config.IsNext != config.IsNext)
            throw new ArgumentException(
                $"The image processor is a {processor.Config.ImageProcessorType} but the model is {config.ModelType}; use the preprocessor_config.json of the same checkpoint.", nameof(processor));
        if (processor.Config.CropSize != config.VisionConfig.ImageSize)
            throw new ArgumentException(
                $"The image processor makes {processor.Config.CropSize}×{processor.Config.CropSize} patches but the vision tower takes {config.VisionConfig.ImageSize}×{config.VisionConfig.ImageSize}.", nameof(processor));
        var placeholder = tokenizer.Encode(LlavaPrompt.ImagePlaceholder);
        if (placeholder.Count(id => id == config.ImageTokenIndex) != 1)
            throw new ArgumentException(
                $"The tokenizer encodes '{LlavaPrompt.ImagePlaceholder}' as [{string.Join(", ", placeholder)}], not as the model's image token {config.ImageTokenIndex}; use the LLaVA checkpoint's own tokenizer.", nameof(tokenizer));
        return new AdaptationBackbone(llava.LanguageModel, tokenizer, template, identity) { Llava = llava, ImageProcessor = processor };
    }

    /// <summary>The SVF layers by target weight name.</summary>
    public IReadOnlyDictionary<string, SvfLinear> Layers => _layers ??= SvfInjector.Find(Model) is { Count: > 0 } found
        ? found
        : throw new InvalidOperationException("The model has no SVF layers; inject them (SvfInjector.Inject) or build the pipeline with a decomposition cache.");

    /// <summary>Vector length of each target.</summary>
    public IReadOnlyDictionary<string, long> TargetLengths => Layers.ToDictionary(l => l.Key, l => l.Value.Rank, StringComparer.Ordinal);

    /// <summary>Renders and tokenises a conversation, ready for generation (for LLaVA with each image's tokens expanded).</summary>
    /// <exception cref="ArgumentException">The messages carry images the backbone cannot take, or placeholders and images do not match.</exception>
    public int[] EncodePrompt(IReadOnlyList<ChatMessage> messages) => Prepare(messages).Ids;

    /// <summary>The prompt ids of <paramref name="messages"/> and their preprocessed images, in placeholder order.</summary>
    internal PreparedPrompt Prepare(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        int imageCount = messages.Sum(m => m.Images.Count);
        if (imageCount == 0 && Llava is null) return new PreparedPrompt(Tokenizer.EncodePrompt(Template.Render(messages, addGenerationPrompt: true)), []);
        if (Llava is null)
            throw new ArgumentException(
                $"The request carries {imageCount} image(s) but the backbone is a text-only model; build the pipeline on a LLaVA model (UseLlava, or a LLaVA model folder) to answer about images.", nameof(messages));

        var rendered = messages.Select(WithPlaceholders).ToList();
        var ids = Tokenizer.EncodePrompt(Template.Render(rendered, addGenerationPrompt: true));
        var images = messages.SelectMany(m => m.Images).Select(Preprocess).ToList();
        try
        {
            return new PreparedPrompt(Llava.ExpandImageTokens(ids, images), images);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The rendered prompt does not hold one image token per image: {e.Message}", nameof(messages), e);
        }
    }

    /// <summary>An embedder writing each row's image features into its prompt, or <see langword="null"/> when no row has images.</summary>
    internal PromptEmbedder? Embedder(IReadOnlyList<PreparedPrompt> rows) =>
        rows.All(r => r.Images.Count == 0) ? null : Llava!.ImageEmbedderPerRow(rows.Select(r => r.Images).ToList());

    /// <summary>
    /// The image features of <paramref name="rows"/> computed once, for prompts generated again and again (few-shot search):
    /// the vision tower carries no SVF layer, so its output does not depend on the plan. <see langword="null"/> without images.
    /// </summary>
    internal PrecomputedImageEmbedder? Precompute(IReadOnlyList<PreparedPrompt> rows) =>
        rows.All(r => r.Images.Count == 0) ? null : new PrecomputedImageEmbedder(Llava!, rows.Select(r => r.Images).ToList());

    /// <summary>The message with one placeholder per image: the text's own, or new ones put in front of it.</summary>
    static ChatMessage WithPlaceholders(ChatMessage message, int index)
    {
        int images = message.Images.Count;
        if (images == 0) return message;
        int placeholders = CountPlaceholders(message.Content);
        if (placeholders == images) return message;
        if (placeholders == 0)
            return message with { Content = string.Concat(Enumerable.Repeat(LlavaPrompt.ImagePlaceholder + "\n", images)) + message.Content };
        throw new ArgumentException(
            $"Message {index} ({message.Role}) holds {placeholders} '{LlavaPrompt.ImagePlaceholder}' placeholder(s) but carries {images} image(s); put one placeholder per image, or none to have the images put in front of the text.", "messages");
    }

    static int CountPlaceholders(string text)
    {
        int count = 0;
        for (int at = text.IndexOf(LlavaPrompt.ImagePlaceholder, StringComparison.Ordinal); at >= 0;
             at = text.IndexOf(LlavaPrompt.ImagePlaceholder, at + LlavaPrompt.ImagePlaceholder.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    /// <summary>Preprocesses once per image object (both passes of a request see the same images).</summary>
    LlavaImage Preprocess(ChatImage image)
    {
        var processed = _preprocessed.GetValue(image, i => i.Preprocess(ImageProcessor!));
        var config = Llava!.Config;
        if (processed.Side != config.VisionConfig.ImageSize)
            throw new ArgumentException($"Image '{image.Name}' was preprocessed to {processed.Side}×{processed.Side} patches but the vision tower takes {config.VisionConfig.ImageSize}×{config.VisionConfig.ImageSize}.", "messages");
        if (config.IsNext)
        {
            var (rows, columns) = LlavaNextLayout.TileGrid(config, processed.OriginalHeight, processed.OriginalWidth);
            if (processed.Patches != 1 + rows * columns)
                throw new ArgumentException($"Image '{image.Name}' has {processed.Patches} patches; a {processed.OriginalHeight}×{processed.OriginalWidth} picture needs {1 + rows * columns} (base + tiles).", "messages");
        }
        else if (processed.Patches != 1)
        {
            throw new ArgumentException($"Image '{image.Name}' has {processed.Patches} patches; LLaVA-1.5 takes one.", "messages");
        }
        return processed;
    }
}
