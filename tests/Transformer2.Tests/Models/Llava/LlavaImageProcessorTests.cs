using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Transformer2.Models.Llava;
using Transformer2.Tests.Core;

namespace Transformer2.Tests.Models.Llava;

/// <summary>Preprocessing on synthetic pictures whose expected pixel values are known by hand.</summary>
public class LlavaImageProcessorTests
{
    static readonly LlavaImageProcessorConfig Tiny15 = LlavaImageProcessorConfig.Llava15 with { ShortestEdge = 8, CropSize = 8 };

    static float Normalized(byte value, int channel) =>
        ((float)(value * (1.0 / 255)) - (float)LlavaImageProcessorConfig.ClipMean[channel]) / (float)LlavaImageProcessorConfig.ClipStd[channel];

    static float At(LlavaImage image, int patch, int channel, int y, int x)
    {
        int side = image.Side;
        return image.Pixels[((patch * 3 + channel) * side + y) * side + x];
    }

    [Test]
    public void PillowBicubicUpscaleMatchesTheHandComputedFixedPointResult()
    {
        // [0, 255] → 4 pixels: weights from the a = −0.5 kernel, normalised, 22-bit fixed point, rounded and clipped.
        var row = new RgbImage(2, 1, [0, 0, 0, 255, 255, 255]);
        var wide = PillowResampler.ResizeBicubic(row, 4, 1);
        Assert.That(Enumerable.Range(0, 4).Select(x => wide[x, 0, 0]), Is.EqualTo(new byte[] { 0, 53, 202, 255 }));
        var column = new RgbImage(1, 2, [0, 0, 0, 255, 255, 255]);
        var tall = PillowResampler.ResizeBicubic(column, 1, 4);
        Assert.That(Enumerable.Range(0, 4).Select(y => tall[0, y, 1]), Is.EqualTo(new byte[] { 0, 53, 202, 255 }));
        // Shrinking averages with a widened kernel; a constant stays exactly constant.
        var solid = PillowResampler.ResizeBicubic(RgbImage.Solid(37, 23, 200, 7, 255), 5, 9);
        Assert.That(solid.Data.Chunk(3).All(p => p[0] == 200 && p[1] == 7 && p[2] == 255));
    }

    [Test]
    public void SolidImageNormalisesToTheClipFormulaExactly()
    {
        var processor = new LlavaImageProcessor(Tiny15);
        var image = processor.Process(RgbImage.Solid(30, 20, 255, 0, 128));
        Assert.That((image.Patches, image.Side, image.OriginalHeight, image.OriginalWidth), Is.EqualTo((1, 8, 20, 30)));
        byte[] rgb = [255, 0, 128];
        for (int c = 0; c < 3; c++)
            Assert.That(At(image, 0, c, 5, 3), Is.EqualTo(Normalized(rgb[c], c)));
        Assert.That(At(image, 0, 0, 0, 0), Is.EqualTo(1.9303361f).Within(1e-6));
    }

    [Test]
    public void CenterCropTakesTheMiddleColumns()
    {
        // 12×8 with red = 10·x: the shortest edge is already 8, so only the crop acts: left = (12 − 8) / 2 = 2.
        var data = new byte[12 * 8 * 3];
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 12; x++) data[(y * 12 + x) * 3] = (byte)(10 * x);
        var image = new LlavaImageProcessor(Tiny15).Process(new RgbImage(12, 8, data));
        for (int x = 0; x < 8; x++) Assert.That(At(image, 0, 0, 4, x), Is.EqualTo(Normalized((byte)(10 * (x + 2)), 0)));
    }

    [Test]
    public void LlavaProcessorPadsToSquareWithTheMeanColour()
    {
        var config = Tiny15 with { ImageProcessorType = "LlavaImageProcessor", DoPad = true };
        var image = new LlavaImageProcessor(config).Process(RgbImage.Solid(4, 8, 10, 20, 30));
        byte[] fill = [122, 116, 104];
        for (int c = 0; c < 3; c++)
        {
            Assert.That(At(image, 0, c, 3, 1), Is.EqualTo(Normalized(fill[c], c)), "left padding");
            Assert.That(At(image, 0, c, 3, 6), Is.EqualTo(Normalized(fill[c], c)), "right padding");
            Assert.That(At(image, 0, c, 3, 3), Is.EqualTo(Normalized((byte)(10 * (c + 1)), c)), "picture");
        }
    }

    [Test]
    public void NextTilesAPaddedPictureAfterASquareBaseImage()
    {
        var config = LlavaImageProcessorConfig.LlavaNext with { ShortestEdge = 8, CropSize = 8, ImageGridPinpoints = [(8, 16), (16, 8), (16, 16)] };
        var image = new LlavaImageProcessor(config).Process(RgbImage.Solid(8, 8, 200, 100, 50));
        // Best pinpoint 8×16 (first of the ties): the picture sits in columns 4..11, black around it, cut into two tiles.
        Assert.That(image.Patches, Is.EqualTo(3));
        Assert.That(At(image, 0, 0, 2, 2), Is.EqualTo(Normalized(200, 0)), "base image");
        Assert.That(At(image, 1, 0, 2, 3), Is.EqualTo(Normalized(0, 0)), "black pad, tile 0");
        Assert.That(At(image, 1, 1, 2, 4), Is.EqualTo(Normalized(100, 1)), "picture, tile 0");
        Assert.That(At(image, 2, 2, 7, 3), Is.EqualTo(Normalized(50, 2)), "picture, tile 1");
        Assert.That(At(image, 2, 2, 7, 4), Is.EqualTo(Normalized(0, 2)), "black pad, tile 1");

        // The model accepts exactly this layout and its token count.
        var model = TinyLlava.Config(next: true);
        Assert.That(LlavaNextLayout.TileGrid(model, 8, 8), Is.EqualTo((1, 2)));
        using var llava = TinyLlava.Create(model);
        using var features = llava.model.ImageFeatures(image);
        Assert.That(features.shape[0], Is.EqualTo(llava.ImageTokenCount(image)));
    }

    [Test]
    public void DecodesPngExactlyAndCompositesTransparencyOverWhite()
    {
        using var folder = new TempFolder();
        string path = folder.File("rgba.png");
        using (var png = new Image<Rgba32>(3, 1))
        {
            png[0, 0] = new Rgba32(10, 20, 30, 255);
            png[1, 0] = new Rgba32(0, 0, 0, 128);
            png[2, 0] = new Rgba32(9, 9, 9, 0);
            png.SaveAsPng(path);
        }
        var image = RgbImage.Load(path);
        Assert.That(image.Data, Is.EqualTo(new byte[] { 10, 20, 30, 127, 127, 127, 255, 255, 255 }));
    }

    [Test]
    public void BadImagesGiveClearErrors()
    {
        using var folder = new TempFolder();
        string text = folder.File("not-an-image.jpg");
        File.WriteAllText(text, "hello, this is text");
        var e = Assert.Throws<InvalidDataException>(() => RgbImage.Load(text));
        Assert.That(e!.Message, Does.Contain("not-an-image.jpg"));

        string png = folder.File("picture.png");
        using (var picture = new Image<Rgb24>(64, 64))
        {
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 64; x++) picture[x, y] = new Rgb24((byte)(x * 4), (byte)(y * 4), (byte)(x ^ y));
            picture.SaveAsPng(png);
        }
        var bytes = File.ReadAllBytes(png);
        string truncated = folder.File("truncated.png");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        e = Assert.Throws<InvalidDataException>(() => RgbImage.Load(truncated));
        Assert.That(e!.Message, Does.Contain("truncated.png"));

        e = Assert.Throws<InvalidDataException>(() => RgbImage.Load(png, maxPixels: 1000));
        Assert.That(e!.Message, Does.Contain("64×64").And.Contain("limit"));

        // A header that claims 100000×100000 pixels is refused before any pixel is decoded.
        string huge = folder.File("huge.png");
        File.WriteAllBytes(huge, PngWithSize(bytes, 100_000, 100_000));
        e = Assert.Throws<InvalidDataException>(() => new LlavaImageProcessor(Tiny15).Process(huge));
        Assert.That(e!.Message, Does.Contain("huge.png").And.Contain("100000×100000"));

        Assert.Throws<FileNotFoundException>(() => RgbImage.Load(folder.File("missing.png")));
    }

    /// <summary>Rewrites the IHDR width and height of a PNG (and the chunk's CRC).</summary>
    static byte[] PngWithSize(byte[] png, int width, int height)
    {
        var copy = (byte[])png.Clone();
        // Signature (8) + length (4) + "IHDR" (4): width at 16, height at 20, CRC over type + 13 data bytes at 29.
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(16), width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(20), height);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(29), Crc32(copy.AsSpan(12, 17)));
        return copy;
    }

    static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}
