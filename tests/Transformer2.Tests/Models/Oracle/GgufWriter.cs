using System.Text;
using Transformer2.Core.IO;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Oracle;

/// <summary>
/// Writes GGUF v3 files (llama.cpp's model format) with F32 tensors: a header, typed metadata key/values, tensor
/// descriptors, then the tensor data, each tensor starting on a <see cref="Alignment"/>-byte boundary.
/// </summary>
/// <remarks>
/// Tensors are produced lazily while writing, so a large model is streamed one tensor at a time.
/// GGUF lists a tensor's dimensions innermost first (ggml's <c>ne[0]</c>), the reverse of a row-major shape.
/// </remarks>
internal sealed class GgufWriter
{
    /// <summary>The format version written.</summary>
    public const uint Version = 3;

    /// <summary>Byte alignment of the data section and of every tensor in it (GGUF's default, also written as <c>general.alignment</c>).</summary>
    public const int Alignment = 32;

    /// <summary>ggml's longest tensor name, the terminating zero excluded.</summary>
    const int MaxTensorNameBytes = 63;

    enum ValueType : uint
    {
        UInt32 = 4,
        Float32 = 6,
        Bool = 7,
        String = 8,
    }

    const uint GgmlTypeF32 = 0;

    readonly List<(string Key, ValueType Type, object Value)> _metadata = [];
    readonly List<(string Name, long[] Shape, Func<Tensor> Produce)> _tensors = [];

    public GgufWriter() => AddUInt32("general.alignment", Alignment);

    public void AddUInt32(string key, uint value) => AddMetadata(key, ValueType.UInt32, value);

    public void AddFloat32(string key, float value) => AddMetadata(key, ValueType.Float32, value);

    public void AddBool(string key, bool value) => AddMetadata(key, ValueType.Bool, value);

    public void AddString(string key, string value) => AddMetadata(key, ValueType.String, value);

    void AddMetadata(string key, ValueType type, object value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (_metadata.Any(m => m.Key == key)) throw new ArgumentException($"GGUF metadata key '{key}' is already set.", nameof(key));
        _metadata.Add((key, type, value));
    }

    /// <summary>
    /// Adds an F32 tensor of row-major <paramref name="shape"/>; <paramref name="produce"/> is called once while writing and
    /// must return a tensor of that shape (any float dtype; it is converted to F32 and disposed).
    /// </summary>
    public void AddTensor(string name, long[] shape, Func<Tensor> produce)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(produce);
        if (Encoding.UTF8.GetByteCount(name) > MaxTensorNameBytes)
            throw new ArgumentException($"GGUF tensor name '{name}' is longer than {MaxTensorNameBytes} bytes.", nameof(name));
        if (shape.Length is 0 or > 4 || shape.Any(d => d <= 0))
            throw new ArgumentException($"GGUF tensor '{name}' needs 1 to 4 positive dimensions; got [{string.Join(", ", shape)}].", nameof(shape));
        if (_tensors.Any(t => t.Name == name)) throw new ArgumentException($"GGUF tensor '{name}' is already added.", nameof(name));
        _tensors.Add((name, (long[])shape.Clone(), produce));
    }

    /// <summary>Writes the file atomically.</summary>
    public void Write(string path) => AtomicFile.Write(path, WriteTo);

    void WriteTo(Stream stream)
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write("GGUF"u8);
        writer.Write(Version);
        writer.Write((ulong)_tensors.Count);
        writer.Write((ulong)_metadata.Count);
        foreach (var (key, type, value) in _metadata)
        {
            WriteString(writer, key);
            writer.Write((uint)type);
            switch (type)
            {
                case ValueType.UInt32: writer.Write((uint)value); break;
                case ValueType.Float32: writer.Write((float)value); break;
                case ValueType.Bool: writer.Write((byte)((bool)value ? 1 : 0)); break;
                case ValueType.String: WriteString(writer, (string)value); break;
                default: throw new InvalidOperationException($"Unhandled GGUF value type {type}.");
            }
        }

        ulong offset = 0;
        foreach (var (name, shape, _) in _tensors)
        {
            WriteString(writer, name);
            writer.Write((uint)shape.Length);
            for (int d = shape.Length - 1; d >= 0; d--) writer.Write((ulong)shape[d]); // ne[0] = innermost
            writer.Write(GgmlTypeF32);
            writer.Write(offset);
            offset += Pad((ulong)(shape.Aggregate(1L, (a, b) => a * b) * sizeof(float)));
        }
        Pad(writer);

        foreach (var (name, shape, produce) in _tensors)
        {
            using var scope = NewDisposeScope();
            var tensor = produce().to_type(ScalarType.Float32).contiguous();
            if (!tensor.shape.SequenceEqual(shape))
                throw new InvalidOperationException($"GGUF tensor '{name}' was declared [{string.Join(", ", shape)}] but produced [{string.Join(", ", tensor.shape)}].");
            writer.Write(tensor.bytes);
            Pad(writer);
        }
    }

    static void WriteString(BinaryWriter writer, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        writer.Write((ulong)bytes.Length);
        writer.Write(bytes);
    }

    static ulong Pad(ulong length) => (length + Alignment - 1) / Alignment * Alignment;

    static void Pad(BinaryWriter writer)
    {
        writer.Flush();
        long position = writer.BaseStream.Position;
        long padded = (long)Pad((ulong)position);
        for (long i = position; i < padded; i++) writer.Write((byte)0);
    }
}
