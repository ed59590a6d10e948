using System.Text;
using Transformer2.Core.IO;
using static TorchSharp.torch;

namespace Transformer2.Models.Gguf;

/// <summary>
/// Writes GGUF v3 files (llama.cpp's model format): a header, typed metadata key/values, tensor descriptors, then the
/// tensor data, each tensor starting on a <see cref="Alignment"/>-byte boundary.
/// </summary>
/// <remarks>
/// Tensors are produced lazily while writing, so a large model is streamed one tensor at a time.
/// GGUF lists a tensor's dimensions innermost first (ggml's <c>ne[0]</c>), the reverse of a row-major shape.
/// </remarks>
public sealed class GgufWriter
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
        Int32 = 5,
        Float32 = 6,
        Bool = 7,
        String = 8,
        Array = 9,
    }

    readonly List<(string Key, ValueType Type, object Value)> _metadata = [];
    readonly List<(string Name, long[] Shape, GgufTensorType Type, Func<Tensor> Produce)> _tensors = [];

    /// <summary>Creates a writer with <c>general.alignment</c> set.</summary>
    public GgufWriter() => AddUInt32("general.alignment", Alignment);

    /// <summary>Number of tensors added so far.</summary>
    public int TensorCount => _tensors.Count;

    /// <summary>Adds a <c>uint32</c> metadata value.</summary>
    public void AddUInt32(string key, uint value) => AddMetadata(key, ValueType.UInt32, value);

    /// <summary>Adds a <c>float32</c> metadata value.</summary>
    public void AddFloat32(string key, float value) => AddMetadata(key, ValueType.Float32, value);

    /// <summary>Adds a <c>bool</c> metadata value.</summary>
    public void AddBool(string key, bool value) => AddMetadata(key, ValueType.Bool, value);

    /// <summary>Adds a UTF-8 string metadata value.</summary>
    public void AddString(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        AddMetadata(key, ValueType.String, value);
    }

    /// <summary>Adds an array of strings (e.g. <c>tokenizer.ggml.tokens</c>).</summary>
    public void AddStringArray(string key, IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Any(v => v is null)) throw new ArgumentException($"GGUF metadata '{key}' contains a null string.", nameof(values));
        AddMetadata(key, ValueType.Array, (ValueType.String, (Array)values.ToArray()));
    }

    /// <summary>Adds an array of <c>int32</c> (e.g. <c>tokenizer.ggml.token_type</c>).</summary>
    public void AddInt32Array(string key, IReadOnlyList<int> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        AddMetadata(key, ValueType.Array, (ValueType.Int32, (Array)values.ToArray()));
    }

    void AddMetadata(string key, ValueType type, object value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (_metadata.Any(m => m.Key == key)) throw new ArgumentException($"GGUF metadata key '{key}' is already set.", nameof(key));
        _metadata.Add((key, type, value));
    }

    /// <summary>
    /// Adds a tensor of row-major <paramref name="shape"/> stored as <paramref name="type"/>; <paramref name="produce"/> is
    /// called once while writing and must return a tensor of that shape (any float dtype; it is converted and disposed).
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty, too long or repeated, or the shape is not 1 to 4 positive dimensions.</exception>
    public void AddTensor(string name, long[] shape, Func<Tensor> produce, GgufTensorType type = GgufTensorType.F32)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(produce);
        if (!Enum.IsDefined(type)) throw new ArgumentOutOfRangeException(nameof(type), type, "not a supported GGUF tensor type.");
        if (Encoding.UTF8.GetByteCount(name) > MaxTensorNameBytes)
            throw new ArgumentException($"GGUF tensor name '{name}' is longer than {MaxTensorNameBytes} bytes.", nameof(name));
        if (shape.Length is 0 or > 4 || shape.Any(d => d <= 0))
            throw new ArgumentException($"GGUF tensor '{name}' needs 1 to 4 positive dimensions; got [{string.Join(", ", shape)}].", nameof(shape));
        if (_tensors.Any(t => t.Name == name)) throw new ArgumentException($"GGUF tensor '{name}' is already added.", nameof(name));
        _tensors.Add((name, (long[])shape.Clone(), type, produce));
    }

    /// <summary>Writes the file atomically, reporting each tensor written and checking <paramref name="cancellationToken"/> between tensors.</summary>
    public void Write(string path, IProgress<ExportProgress>? progress = null, CancellationToken cancellationToken = default) =>
        AtomicFile.Write(path, stream => WriteTo(stream, progress, cancellationToken));

    void WriteTo(Stream stream, IProgress<ExportProgress>? progress, CancellationToken cancellationToken)
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
                case ValueType.Array: WriteArray(writer, ((ValueType, Array))value); break;
                default: throw new InvalidOperationException($"Unhandled GGUF value type {type}.");
            }
        }

        ulong offset = 0;
        foreach (var (name, shape, type, _) in _tensors)
        {
            WriteString(writer, name);
            writer.Write((uint)shape.Length);
            for (int d = shape.Length - 1; d >= 0; d--) writer.Write((ulong)shape[d]); // ne[0] = innermost
            writer.Write((uint)type);
            writer.Write(offset);
            offset += Pad((ulong)(shape.Aggregate(1L, (a, b) => a * b) * ElementSize(type)));
        }
        Pad(writer);

        long totalBytes = _tensors.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b) * ElementSize(t.Type)), written = 0;
        for (int i = 0; i < _tensors.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (name, shape, type, produce) = _tensors[i];
            using (var scope = NewDisposeScope())
            {
                var tensor = produce().to_type(ScalarTypeOf(type)).contiguous();
                if (!tensor.shape.SequenceEqual(shape))
                    throw new InvalidOperationException($"GGUF tensor '{name}' was declared [{string.Join(", ", shape)}] but produced [{string.Join(", ", tensor.shape)}].");
                writer.Write(tensor.bytes);
                written += tensor.numel() * ElementSize(type);
            }
            Pad(writer);
            progress?.Report(new ExportProgress(i + 1, _tensors.Count, written, totalBytes, name));
        }
    }

    static void WriteArray(BinaryWriter writer, (ValueType ElementType, Array Values) array)
    {
        writer.Write((uint)array.ElementType);
        writer.Write((ulong)array.Values.Length);
        switch (array.ElementType)
        {
            case ValueType.String: foreach (string s in (string[])array.Values) WriteString(writer, s); break;
            case ValueType.Int32: foreach (int v in (int[])array.Values) writer.Write(v); break;
            default: throw new InvalidOperationException($"Unhandled GGUF array element type {array.ElementType}.");
        }
    }

    static long ElementSize(GgufTensorType type) => type == GgufTensorType.F32 ? 4 : 2;

    static ScalarType ScalarTypeOf(GgufTensorType type) => type switch
    {
        GgufTensorType.F32 => ScalarType.Float32,
        GgufTensorType.F16 => ScalarType.Float16,
        GgufTensorType.BF16 => ScalarType.BFloat16,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a supported GGUF tensor type."),
    };

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
