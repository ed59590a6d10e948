using System.Buffers.Binary;
using System.Text;
using TorchSharp;
using Transformer2.Core.IO;
using static TorchSharp.torch;

namespace Transformer2.Tests.Core.IO;

public class SafetensorsTests
{
    static readonly ScalarType[] AllTypes =
    [
        ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Float64, ScalarType.Int64,
        ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool,
    ];

    [Test]
    public void RoundTrip_EveryDType()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var type in AllTypes)
        {
            var values = arange(-6, 6).reshape(3, 4);
            tensors[$"t.{type}"] = type == ScalarType.Bool ? values.gt(0) : type == ScalarType.Byte ? values.abs().to_type(type) : values.to_type(type);
        }
        tensors["scalar"] = tensor(3.25f);
        tensors["empty"] = zeros(0, 5);
        string path = folder.File("all.safetensors");
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" });

        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Names, Is.EquivalentTo(tensors.Keys));
        Assert.That(file.Names, Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
        Assert.That(file.Metadata["note"], Is.EqualTo("ünïcode \"quoted\""));
        foreach (var (name, expected) in tensors)
        {
            using var actual = file.Read(name);
            Assert.That(actual.dtype, Is.EqualTo(expected.dtype), name);
            Assert.That(actual.shape, Is.EqualTo(expected.shape), name);
            Assert.That(SameValues(actual, expected), Is.True, name);
        }
        Assert.That(file.GetInfo("t.BFloat16").DType, Is.EqualTo("BF16"));
        Assert.That(file.GetInfo("t.Bool").DType, Is.EqualTo("BOOL"));
        Assert.That(file.GetInfo("scalar").Shape, Is.Empty);
    }

    [Test]
    public void Read_ConvertsDType()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var source = randn(7, 3);
        string path = folder.File("a.safetensors");
        SafetensorsWriter.Write(path, [new("h", source.to_type(ScalarType.Float16)), new("b", source.to_type(ScalarType.BFloat16)), new("f", source)]);
        using var file = SafetensorsFile.Open(path);
        foreach (string name in new[] { "h", "b" })
        {
            var widened = file.Read(name, ScalarType.Float32);
            Assert.That(widened.dtype, Is.EqualTo(ScalarType.Float32));
            Assert.That(widened.allclose(source, rtol: 1e-2, atol: 1e-2), Is.True, name);
        }
        var narrowed = file.Read("f", ScalarType.BFloat16);
        Assert.That(narrowed.dtype, Is.EqualTo(ScalarType.BFloat16));
        Assert.That(SameValues(narrowed, source.to_type(ScalarType.BFloat16)), Is.True);
    }

    [Test]
    public void Reads_FileBuiltByteByByteAsThePythonWriterLaysItOut()
    {
        // Per the safetensors spec: u64 LE header length, JSON header padded with spaces to 8 bytes, raw LE data.
        string json = """{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}}""";
        var data = new List<byte>();
        foreach (float v in new[] { 1f, -2f, 0.5f, 1e6f }) data.AddRange(BitConverter.GetBytes(v));
        foreach (float v in new[] { 1.5f, -3f, 256f }) data.AddRange(BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)));
        using var folder = new TempFolder();
        string path = folder.File("py.safetensors");
        File.WriteAllBytes(path, RawFile(json, data.ToArray()));

        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Metadata, Is.EquivalentTo(new Dictionary<string, string> { ["format"] = "pt" }));
        long dataStart = 8 + Pad(json).Length;
        Assert.That(file.GetInfo("b"), Is.EqualTo(file.GetInfo("b") with { Offset = dataStart + 16, ByteLength = 6 }));
        using var a = file.Read("a");
        Assert.That(a.data<float>().ToArray(), Is.EqualTo(new[] { 1f, -2f, 0.5f, 1e6f }));
        Assert.That(a.shape, Is.EqualTo(new long[] { 2, 2 }));
        using var b = file.Read("b", ScalarType.Float32);
        Assert.That(b.data<float>().ToArray(), Is.EqualTo(new[] { 1.5f, -3f, 256f }));
    }

    [Test]
    public void Writer_ProducesThePythonWritersHeaderLayout()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string path = folder.File("w.safetensors");
        SafetensorsWriter.Write(path,
            [new("b", ones(2)), new("c", ones(2, dtype: ScalarType.BFloat16)), new("a", ones(1)), new("i", ones(1, dtype: ScalarType.Int64))],
            new Dictionary<string, string> { ["format"] = "pt" });

        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(headerLength % 8, Is.Zero, "header padded so that data starts 8-byte aligned");
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        string expected = """{"__metadata__":{"format":"pt"},"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},"c":{"dtype":"BF16","shape":[2],"data_offsets":[20,24]}}""";
        Assert.That(header.TrimEnd(' '), Is.EqualTo(expected));
        Assert.That(header.Length - expected.Length, Is.InRange(0, 7));
        Assert.That(bytes.Length, Is.EqualTo(8 + headerLength + 24));
        Assert.That(BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan((int)(8 + headerLength))), Is.EqualTo(1L));
    }

    [Test]
    public void Writer_RejectsDuplicateAndReservedNamesAndUnsupportedTypes()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string path = folder.File("w.safetensors");
        Assert.That(() => SafetensorsWriter.Write(path, [new("x", ones(1)), new("x", ones(1))]), Throws.ArgumentException.With.Message.Contains("'x'"));
        Assert.That(() => SafetensorsWriter.Write(path, [new("__metadata__", ones(1))]), Throws.ArgumentException);
        Assert.That(() => SafetensorsWriter.Write(path, [new("z", ones(1, dtype: ScalarType.ComplexFloat32))]), Throws.ArgumentException.With.Message.Contains("'z'"));
        Assert.That(File.Exists(path), Is.False);
    }

    [Test]
    public void BoolBytesOtherThanZeroOrOne_AreNormalised()
    {
        using var folder = new TempFolder();
        string path = folder.File("bool.safetensors");
        File.WriteAllBytes(path, RawFile("""{"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}}""", [0, 1, 7]));
        using var file = SafetensorsFile.Open(path);
        using var b = file.Read("b");
        using var asBytes = b.to_type(ScalarType.Byte);
        Assert.That(asBytes.data<byte>().ToArray(), Is.EqualTo(new byte[] { 0, 1, 1 }));
    }

    [Test]
    public void MissingTensor_ThrowsNamingKeyAndFile()
    {
        using var folder = new TempFolder();
        string path = folder.File("a.safetensors");
        using (var t = ones(1)) SafetensorsWriter.Write(path, [new("a", t)]);
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Contains("a"), Is.True);
        Assert.That(file.Contains("nope"), Is.False);
        Assert.That(() => file.Read("nope"), Throws.InstanceOf<KeyNotFoundException>().With.Message.Contains("'nope'").And.Message.Contains(path));
    }

    // ---- hostile input ----

    static IEnumerable<TestCaseData> HostileHeaders()
    {
        yield return new TestCaseData("[1,2]", 0, "not an object").SetName("Header_NotAnObject");
        yield return new TestCaseData("{\"a\":", 0, "JSON").SetName("Header_TruncatedJson");
        yield return new TestCaseData("""{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}""", 1, "'Q4'").SetName("UnknownDType");
        yield return new TestCaseData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, "'a'").SetName("NegativeDimension");
        yield return new TestCaseData("""{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}""", 4, "'a'").SetName("ShapeOverflow");
        yield return new TestCaseData("""{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", 4, "'a'").SetName("FractionalDimension");
        yield return new TestCaseData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12").SetName("ByteLengthMismatch");
        yield return new TestCaseData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4, "past the end").SetName("OffsetsPastEnd");
        yield return new TestCaseData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, "'a'").SetName("OffsetsReversed");
        yield return new TestCaseData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "overlaps").SetName("OverlappingRanges");
        yield return new TestCaseData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "duplicate key 'a'").SetName("DuplicateKeys");
        yield return new TestCaseData("""{"__metadata__":{"k":1}}""", 0, "'k'").SetName("NonStringMetadata");
        yield return new TestCaseData("""{"a":{"dtype":"F32","shape":[1]}}""", 4, "'a'").SetName("MissingOffsets");
    }

    [TestCaseSource(nameof(HostileHeaders))]
    public void HostileHeader_IsRejectedNamingFile(string json, int dataBytes, string expectedFragment)
    {
        using var folder = new TempFolder();
        string path = folder.File("bad.safetensors");
        File.WriteAllBytes(path, RawFile(json, new byte[dataBytes]));
        Assert.That(() => SafetensorsFile.Open(path), Throws.InstanceOf<InvalidDataException>()
            .With.Message.Contains(path).And.Message.Contains(expectedFragment));
    }

    [Test]
    public void FileShorterThanEightBytes_IsRejected()
    {
        using var folder = new TempFolder();
        string path = folder.File("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.That(() => SafetensorsFile.Open(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("3 bytes"));
    }

    [TestCase(1UL << 40, TestName = "HugeHeaderLength_OverLimit")]
    [TestCase(1000UL, TestName = "HeaderLength_PastEndOfFile")]
    [TestCase(ulong.MaxValue, TestName = "HeaderLength_MaxValue")]
    public void HeaderLength_IsCheckedBeforeAllocating(ulong declared)
    {
        using var folder = new TempFolder();
        string path = folder.File("huge.safetensors");
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declared);
        File.WriteAllBytes(path, bytes);
        Assert.That(() => SafetensorsFile.Open(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("header"));
    }

    [Test]
    public void HeaderWithInvalidUtf8_IsRejected()
    {
        using var folder = new TempFolder();
        string path = folder.File("utf8.safetensors");
        byte[] header = Encoding.ASCII.GetBytes("{\"a\xff\":{}}   ");
        header[3] = 0xFF;
        var bytes = new byte[8 + header.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        Assert.That(() => SafetensorsFile.Open(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("UTF-8 JSON"));
    }

    [Test]
    public void TruncatedAfterOpen_ReadThrowsInvalidData()
    {
        using var folder = new TempFolder();
        string path = folder.File("t.safetensors");
        using (var t = ones(200_000)) SafetensorsWriter.Write(path, [new("a", t)]);
        using var file = SafetensorsFile.Open(path);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) stream.SetLength(stream.Length / 2);
        Assert.That(() => file.Read("a"), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("'a'"));
    }

    internal static bool SameValues(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && (a.numel() == 0 || a.eq(b).all().item<bool>());

    static string Pad(string json) => json + new string(' ', (8 - Encoding.UTF8.GetByteCount(json) % 8) % 8);

    static byte[] RawFile(string json, byte[] data)
    {
        byte[] header = Encoding.UTF8.GetBytes(Pad(json));
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }
}
