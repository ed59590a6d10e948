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

    /// <summary>Outputs of Pillow 9.4's <c>Image.resize(size, BICUBIC)</c> on a fixed pattern, recorded once (down, up, mixed).</summary>
    static IEnumerable<TestCaseData> PillowCases()
    {
        yield return new TestCaseData(13, 21, 8, 8, "617b90798b85777ea68990736a71947e82856f82857f9b71729774888284948b7d91887b868875768082948577808f9873808d72917f7f6a7d8987788e7e8074836e90667c835f998c677da46c94977c7f5b98738869a18797766f818b89659f958580876e6a7094546098665280b0816f959a7e7d8a698b9a7e776a7e886c8c905b934768a35972a56487877492946e668f6c906d748868a35c946e879a6c9c759c7b8c9576967470827a628a82967a826e91a996727c6c96765e997d68a073");
        yield return new TestCaseData(13, 21, 10, 16, "154e934e8f9e8888a776aabfaa9251614989497d786b6bae64a577a4dd42a0af86988879865d6a4a7ba08a8c707476bb84b684a27a7d78675e5060ae526f657473b587c583c3758277868b86965c9c4a6a48869d9a9cb19dbd6876b990a780527e6d79898d96a5925d89757e5f92abaca9459a4f75619dc169a26656969e71a545956273858a7e9fac845685467f6e7199876d8933737375bc92646a538fae904d787b9386ac498e6b7e69ac619d6d58948c87bb9d365d6b89a9c366a485897857985d6265a691c16149869ba254916f538868959bca784e9f579682b35e529183a26daa9f62897bbc5450969bb16aa5c3619d9d5191863e7577a5525d92853b7cb89766a3a66d878b69676577b57291757da25e78a44e60985662974f588ec4397998a779aca96999b7526fa293494b8d6f4d8d816096435d92495f944e699e47619e5568a55473b24eae589c7e68a4a377b26789b85d93476da2597fbc648a8d769e8a85ae739480b950974b7ca9619f3a748963983e7ebc628f9d86be53995476af9ca641356c766fab4b9b4e7a9271b15b9881858670bc52975d8dba84bc5c57919b85bc8c407a7f80bb5b9b72a15e9b99977b794e74aa82ba5961969f53885b67655f95589b559297a8518064a5bba7667f90a139518a975186578dc285");
        yield return new TestCaseData(3, 2, 7, 5, "00285d002f64093e711b50852e63a33d72be4479c906376c093e73184d832b60953f74a14e83a9558aad2c5f9431669c4277b4568bc06ba09d7bb07183b8615186bb598ec56ba0e581b6eb96cb98a8dd39b0e5146095ca689dd47aaff791c6fba7dc96b9ee24c1f600");
        yield return new TestCaseData(40, 9, 11, 30, "2f6fad9c948147728f988b46508099938b4c5a8f988e8451649a98917d565f9da53772aa9792834d748e968d4953809794884e5c8d979081536699968d7c5b639ba14a7ba38b8b875a778b9090505c7f90968051628a969579596c9793827a676e969769889877818e717c8687965a697e869b73566c84939e6c6176948e70767b808e8588958c6477958882827d9b67787d7b9e685d767f90a5606a808f8860738f918675959583617695908581799870807d779c68667a7d8ea15f71858b835d7495927f73948a796d7c8f8b8885798c79837d789374737b7e8c93667886877f66798f82777f8c7c737d848883898a7b8080847d7a89827f79808a82717d85837c7380866f718e8576738989827e888b797c87857e7c8288837881897b797f847e7a7f87826a70937c7c7f918b7f7c818871868e85817c7e8079777f88827e7d8078778b918678788a718890968b7c7b7a8266969383837b7c746a767d888f837a7b7275969a8c8f827b6d909b998a7a7c757e62a09684877c7c6d61747e899588797770769b9d929d877274919799897a83787e6da0938a8a7e7f74676d848a8d907e72757d949096967f77858e8996887a8e807f81998d938e81858477638f8b7b99886c7f8883789a816e84938b7a92877b9588809390859b91848a92865d978d6b9e906a899273639b6e6090948b718e857b918b7d998a7fa08f888a948c62958d679a8f6d8f946c60946b6293898d698a837d808d75968577a2878f858a8b748a8d6c89857991926d6e8576758c7a916486827d6d8c6d8e8071a280947f7e86887b8d75777a85928c718175848a836f936585827b678967887b729d7f9580788094718d7a6f76879387758b6a8d928066986e88877575846584767c8d8a8d8c7c74966d8b7a757b7a987f798a648e8687609c7d8d8d6d8a7d6480708b7b99839b8366936b89788285679c777d85638c71925f9b898f8f6a9976687e6c976ea07da68761906a8a798a8f5c9c748280678a6398658f8f8d8472996f737e699b6f9683a4816c8f6a8e7e869765927f887c778c6494727a9288728492668481679b7a80919b75848e6b97877aa07a82928e79908f708b80669482639287619384659a856c9c8f6b9a8d6c9f8e70a48d74a39375a7907b80895d967e62937f669787659b86699a856d9f8d6ba28d6f9e8f72a49471af8c81788f5e987871877677918b669d7f748a797a958e69a283788c817d97926cab83817294619974827a6f88888f66a07782796f89888f66a179827a708a878f67a379806d96639a728c716a92839167a1728a6f6892808f65a072886f66927e8d659f73806a98639b70906e6896819267a2708d6b65957e8f64a0708a6a62947b8c639d718068");
    }

    [TestCaseSource(nameof(PillowCases))]
    public void BicubicResizeIsBitExactWithPillow(int width, int height, int newWidth, int newHeight, string expectedHex)
    {
        var data = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = (byte)((x * 37 + y * 91 + c * 53 + x * y * 7) % 256);
        var resized = PillowResampler.ResizeBicubic(new RgbImage(width, height, data), newWidth, newHeight);
        Assert.That(Convert.ToHexStringLower(resized.Data), Is.EqualTo(expectedHex));
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
