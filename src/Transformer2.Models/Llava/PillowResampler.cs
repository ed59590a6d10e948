namespace Transformer2.Models.Llava;

/// <summary>
/// Pillow's bicubic resize of 8-bit images (<c>Image.resize(size, BICUBIC)</c>), reproduced bit for bit: the a = −0.5
/// kernel widened by the scale when shrinking, weights normalised in double then rounded to 22-bit fixed point, the
/// horizontal pass first (to 8 bits), then the vertical one; a pass whose size does not change is skipped.
/// </summary>
internal static class PillowResampler
{
    const int PrecisionBits = 32 - 8 - 2;
    const double Support = 2.0;

    public static RgbImage ResizeBicubic(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (width <= 0 || height <= 0) throw new ArgumentException($"target size must be positive (got {width}×{height}).");
        if (width == image.Width && height == image.Height) return new RgbImage(width, height, (byte[])image.Data.Clone());
        var current = image;
        if (width != image.Width) current = Horizontal(current, width);
        if (height != image.Height) current = Vertical(current, height);
        return current;
    }

    static double Filter(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /// <summary>For each output index: the first input index, the number of inputs and their fixed-point weights.</summary>
    static (int[] Start, int[] Count, int[][] Weights) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = Support * filterScale;
        var start = new int[outSize];
        var count = new int[outSize];
        var weights = new int[outSize][];
        var buffer = new double[(int)Math.Ceiling(support) * 2 + 1];
        for (int i = 0; i < outSize; i++)
        {
            double center = (i + 0.5) * scale;
            double inverse = 1.0 / filterScale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            double total = 0.0;
            for (int k = 0; k < xmax; k++)
            {
                double w = Filter((k + xmin - center + 0.5) * inverse);
                buffer[k] = w;
                total += w;
            }
            var fixedWeights = new int[xmax];
            for (int k = 0; k < xmax; k++)
            {
                double w = total != 0.0 ? buffer[k] / total : buffer[k];
                fixedWeights[k] = w < 0 ? (int)(-0.5 + w * (1 << PrecisionBits)) : (int)(0.5 + w * (1 << PrecisionBits));
            }
            start[i] = xmin;
            count[i] = xmax;
            weights[i] = fixedWeights;
        }
        return (start, count, weights);
    }

    static byte Clip(long value)
    {
        if (value >= (1L << PrecisionBits << 8)) return 255;
        if (value <= 0) return 0;
        return (byte)(value >> PrecisionBits);
    }

    static RgbImage Horizontal(RgbImage image, int width)
    {
        var (start, count, weights) = Coefficients(image.Width, width);
        var input = image.Data;
        var output = new byte[3L * width * image.Height];
        for (int y = 0; y < image.Height; y++)
        {
            long rowIn = (long)y * image.Width * 3, rowOut = (long)y * width * 3;
            for (int x = 0; x < width; x++)
            {
                long s0 = 1L << (PrecisionBits - 1), s1 = s0, s2 = s0;
                var k = weights[x];
                long offset = rowIn + start[x] * 3L;
                for (int i = 0; i < count[x]; i++, offset += 3)
                {
                    s0 += input[offset] * (long)k[i];
                    s1 += input[offset + 1] * (long)k[i];
                    s2 += input[offset + 2] * (long)k[i];
                }
                output[rowOut + x * 3] = Clip(s0);
                output[rowOut + x * 3 + 1] = Clip(s1);
                output[rowOut + x * 3 + 2] = Clip(s2);
            }
        }
        return new RgbImage(width, image.Height, output);
    }

    static RgbImage Vertical(RgbImage image, int height)
    {
        var (start, count, weights) = Coefficients(image.Height, height);
        var input = image.Data;
        int width = image.Width;
        var output = new byte[3L * width * height];
        for (int y = 0; y < height; y++)
        {
            var k = weights[y];
            for (int x = 0; x < width; x++)
            {
                long s0 = 1L << (PrecisionBits - 1), s1 = s0, s2 = s0;
                for (int i = 0; i < count[y]; i++)
                {
                    long offset = ((long)(start[y] + i) * width + x) * 3;
                    s0 += input[offset] * (long)k[i];
                    s1 += input[offset + 1] * (long)k[i];
                    s2 += input[offset + 2] * (long)k[i];
                }
                long o = ((long)y * width + x) * 3;
                output[o] = Clip(s0);
                output[o + 1] = Clip(s1);
                output[o + 2] = Clip(s2);
            }
        }
        return new RgbImage(width, height, output);
    }
}
