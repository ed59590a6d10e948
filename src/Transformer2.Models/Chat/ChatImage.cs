using Transformer2.Models.Llava;

namespace Transformer2.Models.Chat;

/// <summary>
/// An image attached to a <see cref="ChatMessage"/> for a vision-language model: a file, encoded bytes (PNG, JPEG, …),
/// decoded pixels, or an already preprocessed <see cref="LlavaImage"/>. Nothing is read or decoded until the model needs it.
/// </summary>
public sealed class ChatImage
{
    readonly string? _path;
    readonly byte[]? _bytes;
    readonly RgbImage? _pixels;
    readonly LlavaImage? _processed;

    ChatImage(string name, string? path, byte[]? bytes, RgbImage? pixels, LlavaImage? processed)
    {
        Name = name;
        _path = path;
        _bytes = bytes;
        _pixels = pixels;
        _processed = processed;
    }

    /// <summary>How the image is named in error messages (the file, or the name given).</summary>
    public string Name { get; }

    /// <summary>An image file, read when the image is first used.</summary>
    public static ChatImage FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new ChatImage(path, path, null, null, null);
    }

    /// <summary>An encoded image in memory (not copied); <paramref name="name"/> names it in errors.</summary>
    public static ChatImage FromBytes(byte[] encoded, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        return new ChatImage(string.IsNullOrEmpty(name) ? "image bytes" : name, null, encoded, null, null);
    }

    /// <summary>Decoded pixels.</summary>
    public static ChatImage FromPixels(RgbImage image, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        return new ChatImage(string.IsNullOrEmpty(name) ? $"{image.Width}×{image.Height} image" : name, null, null, image, null);
    }

    /// <summary>An image already preprocessed for the model (used as is).</summary>
    public static ChatImage FromProcessed(LlavaImage image, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        return new ChatImage(string.IsNullOrEmpty(name) ? "preprocessed image" : name, null, null, null, image);
    }

    /// <summary>The image as the model takes it, preprocessed by <paramref name="processor"/> (a preprocessed image is returned as is).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file or bytes are not a readable image, or it is too large; the message names it.</exception>
    public LlavaImage Preprocess(LlavaImageProcessor processor)
    {
        ArgumentNullException.ThrowIfNull(processor);
        if (_processed is not null) return _processed;
        if (_pixels is not null) return processor.Process(_pixels);
        if (_bytes is not null) return processor.Process(RgbImage.Decode(_bytes, Name, processor.MaxPixels));
        return processor.Process(_path!);
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
