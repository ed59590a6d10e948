namespace Transformer2.Models.Llava;

/// <summary>
/// Turns pictures into <see cref="LlavaImage"/>s exactly as Hugging Face's slow (Pillow) LLaVA image processors do:
/// optional pad to square, shortest-edge bicubic resize, centre crop, rescale and CLIP normalisation; for LLaVA-NeXT
/// first the best pinpoint, a fitted resize, black padding, row-major tiles, and a base image resized to a square.
/// </summary>
/// <remarks>
/// Resizing is Pillow's 8-bit bicubic, ported bit for bit, so PNG inputs give Hugging Face's pixel values. JPEG decoders
/// differ slightly between libraries (ImageSharp here, libjpeg in Pillow), so JPEG inputs may differ by a grey level.
/// </remarks>
/// <param name="config">The processor settings; validated.</param>
public sealed class LlavaImageProcessor(LlavaImageProcessorConfig config)
{
    /// <summary>The file name Hugging Face stores the settings in.</summary>
    public const string ConfigFile = "preprocessor_config.json";

    readonly LlavaImageProcessorConfig _config = Validated(config);

    static LlavaImageProcessorConfig Validated(LlavaImageProcessorConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return config;
    }

    /// <summary>The settings.</summary>
    public LlavaImageProcessorConfig Config => _config;

    /// <summary>Pictures larger than this many pixels are refused when decoded.</summary>
    public long MaxPixels { get; init; } = RgbImage.DefaultMaxPixels;

    /// <summary>Reads <c>preprocessor_config.json</c> from a model folder.</summary>
    public static LlavaImageProcessor FromPretrained(string folder) => new(LlavaImageProcessorConfig.Load(Path.Combine(folder, ConfigFile)));

    /// <summary>Decodes and preprocesses an image file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable image or is too large; the message names it.</exception>
    public LlavaImage Process(string path) => Process(RgbImage.Load(path, MaxPixels));

    /// <summary>Preprocesses a decoded picture.</summary>
    public LlavaImage Process(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        int side = _config.CropSize;
        var patches = new List<RgbImage>();
        if (_config.IsNext)
        {
            var target = LlavaNextLayout.SelectBestResolution(image.Height, image.Width, _config.ImageGridPinpoints);
            var (fitHeight, fitWidth) = LlavaNextLayout.FitInside(image.Height, image.Width, target);
            var padded = PadCentered(PillowResampler.ResizeBicubic(image, fitWidth, fitHeight), target.Height, target.Width, [0, 0, 0]);
            int edge = _config.ShortestEdge;
            patches.Add(PillowResampler.ResizeBicubic(image, edge, edge));
            for (int top = 0; top < target.Height; top += side)
                for (int left = 0; left < target.Width; left += side)
                    patches.Add(Crop(padded, top, left, side, side));
        }
        else
        {
            var source = image;
            if (_config.DoPad && _config.ImageProcessorType == "LlavaImageProcessor" && image.Width != image.Height)
            {
                int max = Math.Max(image.Width, image.Height);
                var fill = _config.ImageMean.Select(m => (byte)(int)(m * 255)).ToArray();
                source = PadCentered(image, max, max, fill);
            }
            patches.Add(source);
        }

        var pixels = new float[patches.Count * 3 * side * side];
        for (int p = 0; p < patches.Count; p++) Normalize(ResizeAndCrop(patches[p]), pixels, p * 3 * side * side);
        return new LlavaImage(pixels, patches.Count, side, image.Height, image.Width);
    }

    /// <summary>The CLIP steps on one patch: shortest edge to <c>size</c>, then the centre crop.</summary>
    RgbImage ResizeAndCrop(RgbImage image)
    {
        if (_config.DoResize)
        {
            int edge = _config.ShortestEdge;
            bool portrait = image.Width <= image.Height;
            int shortSide = portrait ? image.Width : image.Height, longSide = portrait ? image.Height : image.Width;
            int newLong = (int)((double)edge * longSide / shortSide);
            image = portrait ? PillowResampler.ResizeBicubic(image, edge, newLong) : PillowResampler.ResizeBicubic(image, newLong, edge);
        }
        if (_config.DoCenterCrop) image = CenterCrop(image, _config.CropSize);
        if (image.Width != _config.CropSize || image.Height != _config.CropSize)
            throw new InvalidOperationException($"Preprocessing gave a {image.Width}×{image.Height} patch, not {_config.CropSize}×{_config.CropSize}: enable do_center_crop or do_resize.");
        return image;
    }

    /// <summary>HF <c>center_crop</c>: top = (h − ch) // 2; an image smaller than the crop is zero-padded around.</summary>
    static RgbImage CenterCrop(RgbImage image, int size)
    {
        if (image.Width >= size && image.Height >= size) return Crop(image, (image.Height - size) / 2, (image.Width - size) / 2, size, size);
        int newHeight = Math.Max(size, image.Height), newWidth = Math.Max(size, image.Width);
        int topPad = (newHeight - image.Height + 1) / 2, leftPad = (newWidth - image.Width + 1) / 2;
        var canvas = Place(image, newHeight, newWidth, topPad, leftPad, [0, 0, 0]);
        int top = FloorDiv(image.Height - size, 2) + topPad, left = FloorDiv(image.Width - size, 2) + leftPad;
        return Crop(canvas, Math.Max(0, top), Math.Max(0, left), size, size);
    }

    static int FloorDiv(int a, int b) => (int)Math.Floor((double)a / b);

    static RgbImage Crop(RgbImage image, int top, int left, int height, int width)
    {
        var data = new byte[3L * width * height];
        for (int y = 0; y < height; y++)
            Array.Copy(image.Data, ((long)(top + y) * image.Width + left) * 3, data, (long)y * width * 3, width * 3L);
        return new RgbImage(width, height, data);
    }

    /// <summary>Centres the image on a canvas of <paramref name="fill"/>: the odd pixel of padding goes bottom/right.</summary>
    static RgbImage PadCentered(RgbImage image, int height, int width, byte[] fill) =>
        Place(image, height, width, (height - image.Height) / 2, (width - image.Width) / 2, fill);

    static RgbImage Place(RgbImage image, int height, int width, int top, int left, byte[] fill)
    {
        var data = new byte[3L * width * height];
        for (long i = 0; i < data.LongLength; i += 3)
        {
            data[i] = fill[0];
            data[i + 1] = fill[1];
            data[i + 2] = fill[2];
        }
        for (int y = 0; y < image.Height; y++)
            Array.Copy(image.Data, (long)y * image.Width * 3, data, ((long)(top + y) * width + left) * 3, image.Width * 3L);
        return new RgbImage(width, height, data);
    }

    /// <summary>
    /// Writes channel-first floats: <c>float32(float64(u8)·factor)</c>, then <c>(x − mean)/std</c> in float32, as HF's
    /// numpy code computes them.
    /// </summary>
    void Normalize(RgbImage image, float[] output, int offset)
    {
        int plane = image.Width * image.Height;
        var mean = _config.ImageMean.Select(m => (float)m).ToArray();
        var std = _config.ImageStd.Select(s => (float)s).ToArray();
        for (int c = 0; c < 3; c++)
        {
            for (int i = 0; i < plane; i++)
            {
                byte u = image.Data[i * 3 + c];
                float x = _config.DoRescale ? (float)(u * _config.RescaleFactor) : u;
                if (_config.DoNormalize) x = (x - mean[c]) / std[c];
                output[offset + c * plane + i] = x;
            }
        }
    }
}
