namespace Transformer2.Models.Llava;

/// <summary>
/// The any-resolution geometry of LLaVA-NeXT, shared by the image processor (tiling, token counts) and the model (packing),
/// so that the number of image tokens in the text always equals the number of features the model produces.
/// </summary>
public static class LlavaNextLayout
{
    /// <summary>
    /// The pinpoint an image of <paramref name="height"/>×<paramref name="width"/> is tiled at: the one keeping the most
    /// effective resolution, then the least waste, then the first listed.
    /// </summary>
    /// <exception cref="ArgumentException">No pinpoints, or a size is not positive.</exception>
    public static (int Height, int Width) SelectBestResolution(int height, int width, IReadOnlyList<(int Height, int Width)> pinpoints)
    {
        ArgumentNullException.ThrowIfNull(pinpoints);
        if (height <= 0 || width <= 0) throw new ArgumentException($"image size must be positive (got {height}×{width}).");
        if (pinpoints.Count == 0) throw new ArgumentException("At least one pinpoint is needed.", nameof(pinpoints));
        (int, int) best = pinpoints[0];
        long bestEffective = -1, leastWaste = long.MaxValue;
        foreach (var (h, w) in pinpoints)
        {
            double scale = Math.Min((double)w / width, (double)h / height);
            long downW = (long)(width * scale), downH = (long)(height * scale);
            long effective = Math.Min(downW * downH, (long)width * height);
            long waste = (long)h * w - effective;
            if (effective > bestEffective || (effective == bestEffective && waste < leastWaste))
            {
                bestEffective = effective;
                leastWaste = waste;
                best = (h, w);
            }
        }
        return best;
    }

    /// <summary>The size an image is resized to before padding to <paramref name="target"/>: aspect kept, fitted inside.</summary>
    public static (int Height, int Width) FitInside(int height, int width, (int Height, int Width) target)
    {
        double scaleW = (double)target.Width / width, scaleH = (double)target.Height / height;
        return scaleW < scaleH
            ? (Math.Min((int)Math.Ceiling(height * scaleW), target.Height), target.Width)
            : (target.Height, Math.Min((int)Math.Ceiling(width * scaleH), target.Width));
    }

    /// <summary>
    /// The part of a <paramref name="rows"/>×<paramref name="columns"/> feature grid that shows the picture rather than the
    /// padding around it (HF <c>unpad_image</c>): the first row and column kept and how many of each.
    /// </summary>
    public static (int FirstRow, int Rows, int FirstColumn, int Columns) Unpad(int originalHeight, int originalWidth, int rows, int columns)
    {
        double originalAspect = (double)originalWidth / originalHeight;
        double currentAspect = (double)columns / rows;
        if (originalAspect > currentAspect)
        {
            int newRows = (int)Math.Round(originalHeight * ((double)columns / originalWidth), 7);
            int padding = (rows - newRows) / 2;
            return (padding, rows - 2 * padding, 0, columns);
        }
        int newColumns = (int)Math.Round(originalWidth * ((double)rows / originalHeight), 7);
        int pad = (columns - newColumns) / 2;
        return (0, rows, pad, columns - 2 * pad);
    }

    /// <summary>Tiles per side (rows, columns) for an image of the given original size.</summary>
    public static (int Rows, int Columns) TileGrid(LlavaConfig config, int originalHeight, int originalWidth)
    {
        ArgumentNullException.ThrowIfNull(config);
        var (h, w) = SelectBestResolution(originalHeight, originalWidth, config.ImageGridPinpoints);
        int side = config.VisionConfig.ImageSize;
        return (h / side, w / side);
    }

    /// <summary>
    /// Image tokens of one picture: for LLaVA-1.5 the tokens of one tile; for LLaVA-NeXT the base image (n²), the unpadded
    /// R×C grid and one newline per row: <c>n² + R·C + R</c>.
    /// </summary>
    public static int TokenCount(LlavaConfig config, int originalHeight, int originalWidth)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!config.IsNext) return config.TokensPerTile;
        int n = config.VisionConfig.PatchesPerSide;
        var (tileRows, tileColumns) = TileGrid(config, originalHeight, originalWidth);
        var (_, rows, _, columns) = Unpad(originalHeight, originalWidth, tileRows * n, tileColumns * n);
        return n * n + rows * columns + rows;
    }
}
