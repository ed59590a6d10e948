using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Transformer2.Models.Llava;

/// <summary>An 8-bit RGB picture, rows top to bottom, pixels interleaved R, G, B (what Pillow calls mode <c>RGB</c>).</summary>
public sealed class RgbImage
{
    /// <summary>Pillow's decompression-bomb limit (<c>Image.MAX_IMAGE_PIXELS</c>), the default cap on decoded pixels.</summary>
    public const long DefaultMaxPixels = 89_478_485;

    /// <summary>Wraps <paramref name="data"/> (not copied): <paramref name="height"/> rows of <paramref name="width"/> RGB pixels.</summary>
    /// <exception cref="ArgumentException">A size is not positive or the data length does not match.</exception>
    public RgbImage(int width, int height, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (width <= 0 || height <= 0) throw new ArgumentException($"image size must be positive (got {width}×{height}).");
        if (data.LongLength != 3L * width * height)
            throw new ArgumentException($"{width}×{height} RGB needs {3L * width * height} bytes; got {data.LongLength}.", nameof(data));
        Width = width;
        Height = height;
        Data = data;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>The pixels, <c>3·width·height</c> bytes.</summary>
    public byte[] Data { get; }

    /// <summary>Channel <paramref name="channel"/> of pixel (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public byte this[int x, int y, int channel] => Data[(y * Width + x) * 3 + channel];

    /// <summary>An image of one colour.</summary>
    public static RgbImage Solid(int width, int height, byte r, byte g, byte b)
    {
        var data = new byte[3L * width * height];
        for (long i = 0; i < data.LongLength; i += 3)
        {
            data[i] = r;
            data[i + 1] = g;
            data[i + 2] = b;
        }
        return new RgbImage(width, height, data);
    }

    /// <summary>
    /// Decodes an image file (JPEG, PNG, GIF, BMP, TGA, WebP, …). Transparent pixels are composited over white as
    /// Hugging Face's <c>convert_to_rgb</c> does (Pillow's integer <c>alpha_composite</c>).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="maxPixels">Larger images are refused before their pixels are decoded.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an image, is truncated or corrupt, or is too large; the message names the file.</exception>
    public static RgbImage Load(string path, long maxPixels = DefaultMaxPixels)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Image '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        return Decode(stream, path, maxPixels);
    }

    /// <summary>Decodes an encoded image held in memory (see <see cref="Load"/>); <paramref name="name"/> names it in errors.</summary>
    public static RgbImage Decode(byte[] encoded, string name = "image", long maxPixels = DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        using var stream = new MemoryStream(encoded, writable: false);
        return Decode(stream, name, maxPixels);
    }

    static RgbImage Decode(Stream stream, string name, long maxPixels)
    {
        if (maxPixels <= 0) throw new ArgumentOutOfRangeException(nameof(maxPixels), maxPixels, "must be positive.");
        try
        {
            var info = Image.Identify(stream)
                ?? throw new InvalidDataException($"Image '{name}' is not in a supported format (JPEG, PNG, GIF, BMP, TGA, WebP, PBM, TIFF).");
            if (info.Width <= 0 || info.Height <= 0)
                throw new InvalidDataException($"Image '{name}' declares an empty size {info.Width}×{info.Height}.");
            if ((long)info.Width * info.Height > maxPixels)
                throw new InvalidDataException($"Image '{name}' is {info.Width}×{info.Height} = {(long)info.Width * info.Height} pixels, more than the limit of {maxPixels}.");
            stream.Position = 0;
            using var image = Image.Load<Rgba32>(stream);
            var pixels = new Rgba32[image.Width * image.Height];
            image.CopyPixelDataTo(pixels);
            var data = new byte[3L * image.Width * image.Height];
            for (int i = 0; i < pixels.Length; i++)
            {
                var p = pixels[i];
                if (p.A == 255)
                {
                    data[3 * i] = p.R;
                    data[3 * i + 1] = p.G;
                    data[3 * i + 2] = p.B;
                }
                else
                {
                    data[3 * i] = OverWhite(p.R, p.A);
                    data[3 * i + 1] = OverWhite(p.G, p.A);
                    data[3 * i + 2] = OverWhite(p.B, p.A);
                }
            }
            return new RgbImage(image.Width, image.Height, data);
        }
        catch (UnknownImageFormatException e)
        {
            throw new InvalidDataException($"Image '{name}' is not in a supported format: {e.Message}", e);
        }
        catch (ImageFormatException e)
        {
            throw new InvalidDataException($"Image '{name}' is corrupt or truncated: {e.Message}", e);
        }
        catch (NotSupportedException e)
        {
            throw new InvalidDataException($"Image '{name}' uses an unsupported feature: {e.Message}", e);
        }
        catch (Exception e) when (e is EndOfStreamException or IndexOutOfRangeException or ArgumentOutOfRangeException or InvalidOperationException)
        {
            throw new InvalidDataException($"Image '{name}' is corrupt or truncated: {e.Message}", e);
        }
    }

    /// <summary>Pillow's <c>alpha_composite</c> of one channel over opaque white, in its 7-bit fixed point.</summary>
    static byte OverWhite(byte value, byte alpha)
    {
        if (alpha == 0) return 255;
        const int precision = 7;
        uint coef1 = (uint)alpha * 255 * 255 * (1u << precision) / (255u * 255u);
        uint coef2 = 255 * (1u << precision) - coef1;
        uint tmp = value * coef1 + 255 * coef2 + (0x80u << precision);
        return (byte)((((tmp >> 8) + tmp) >> 8) >> precision);
    }
}
