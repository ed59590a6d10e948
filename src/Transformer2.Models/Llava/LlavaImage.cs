using static TorchSharp.torch;

namespace Transformer2.Models.Llava;

/// <summary>
/// One preprocessed image: normalised pixels of its patches [P, 3, s, s] (P = 1 for LLaVA-1.5; the base image plus the
/// tiles, row-major, for LLaVA-NeXT) and the size of the original picture, which LLaVA-NeXT needs for unpadding.
/// </summary>
/// <remarks>Pixels are kept as a managed array, so an image outlives any dispose scope; tensors are made per use.</remarks>
public sealed class LlavaImage
{
    readonly float[] _pixels;

    /// <summary>Wraps <paramref name="pixels"/> (not copied), laid out [patches, 3, side, side].</summary>
    /// <exception cref="ArgumentException">The array length does not match the shape, or a size is not positive.</exception>
    public LlavaImage(float[] pixels, int patches, int side, int originalHeight, int originalWidth)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (patches <= 0 || side <= 0) throw new ArgumentException($"patches ({patches}) and side ({side}) must be positive.");
        if (originalHeight <= 0 || originalWidth <= 0)
            throw new ArgumentException($"the original size must be positive (got {originalHeight}×{originalWidth}).");
        if (pixels.LongLength != (long)patches * 3 * side * side)
            throw new ArgumentException($"pixels hold {pixels.LongLength} values; [{patches}, 3, {side}, {side}] needs {(long)patches * 3 * side * side}.", nameof(pixels));
        _pixels = pixels;
        Patches = patches;
        Side = side;
        OriginalHeight = originalHeight;
        OriginalWidth = originalWidth;
    }

    /// <summary>Number of patches P.</summary>
    public int Patches { get; }

    /// <summary>Side of each square patch in pixels.</summary>
    public int Side { get; }

    /// <summary>Height of the picture before preprocessing.</summary>
    public int OriginalHeight { get; }

    /// <summary>Width of the picture before preprocessing.</summary>
    public int OriginalWidth { get; }

    /// <summary>The normalised pixels, [P, 3, s, s] row-major (read-only view).</summary>
    public ReadOnlySpan<float> Pixels => _pixels;

    /// <summary>The pixels as a float32 tensor [P, 3, s, s] on <paramref name="device"/>.</summary>
    public Tensor ToTensor(Device? device = null) => tensor(_pixels, [Patches, 3, Side, Side], ScalarType.Float32, device ?? CPU);
}
