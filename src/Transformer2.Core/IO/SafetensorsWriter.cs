using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;

namespace Transformer2.Core.IO;

/// <summary>Writes safetensors files in the layout of the reference (Python/Rust) writer.</summary>
/// <remarks>
/// Layout: an 8-byte little-endian header length, a compact JSON header (<c>__metadata__</c> first, then the
/// tensors in data order) padded with spaces so that the data starts at a multiple of 8, then the tensor bytes
/// back to back. Like the reference writer, tensors are laid out by descending dtype width, then by name.
/// The file is written through <see cref="AtomicFile"/>.
/// </remarks>
public static class SafetensorsWriter
{
    const string MetadataKey = "__metadata__";
    const int Alignment = 8;
    const int CopyChunkBytes = 1 << 20;

    /// <summary>Writes <paramref name="tensors"/> and <paramref name="metadata"/> to <paramref name="path"/> atomically.</summary>
    /// <param name="path">Target file.</param>
    /// <param name="tensors">Tensors by name; any device, any layout (each is copied to a contiguous CPU tensor while it is written).</param>
    /// <param name="metadata">Optional string map stored as <c>__metadata__</c>.</param>
    /// <exception cref="ArgumentException">A name is empty, reserved or repeated, or a tensor's dtype is not supported.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var byName = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);
        var layout = new List<TensorLayout>();
        foreach (var (name, tensor) in tensors)
        {
            CheckName(path, name);
            ArgumentNullException.ThrowIfNull(tensor, $"tensors['{name}']");
            if (!byName.TryAdd(name, tensor)) throw new ArgumentException($"Cannot write '{path}': tensor name '{name}' appears twice.", nameof(tensors));
            layout.Add(new TensorLayout(name, SafetensorsDType.NameOf(tensor.dtype, name), tensor.shape));
        }
        WriteStreaming(path, layout, (entry, stream) =>
        {
            using var scope = torch.NewDisposeScope();
            // detach() gives a fresh handle, so disposing the scope never disposes the caller's tensor.
            var contiguous = byName[entry.Name].detach().cpu().contiguous();
            if (entry.ByteLength <= int.MaxValue) stream.Write(contiguous.bytes);
            else contiguous.WriteBytesToStream(stream, CopyChunkBytes);
        }, metadata);
    }

    /// <summary>
    /// Writes a file whose header is known up front and whose tensor bytes are produced one tensor at a time, so
    /// that only one tensor needs to be in memory.
    /// </summary>
    /// <param name="path">Target file (written atomically).</param>
    /// <param name="layout">Name, dtype and shape of each tensor.</param>
    /// <param name="writeData">Writes exactly <see cref="TensorLayout.ByteLength"/> bytes of the given tensor; called in data order.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> map.</param>
    internal static void WriteStreaming(string path, IReadOnlyList<TensorLayout> layout, Action<TensorLayout, Stream> writeData, IReadOnlyDictionary<string, string>? metadata)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in layout)
        {
            CheckName(path, entry.Name);
            if (!seen.Add(entry.Name)) throw new ArgumentException($"Cannot write '{path}': tensor name '{entry.Name}' appears twice.", nameof(layout));
        }
        var ordered = layout.ToList();
        ordered.Sort((a, b) =>
        {
            int byWidth = SafetensorsDType.RankOf(b.DType).CompareTo(SafetensorsDType.RankOf(a.DType));
            return byWidth != 0 ? byWidth : string.CompareOrdinal(a.Name, b.Name);
        });

        byte[] header = BuildHeader(ordered.Select(e => (e.Name, e.DType, e.Shape, e.ByteLength)), metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var entry in ordered)
            {
                if (entry.ByteLength == 0) continue;
                long before = stream.Position;
                writeData(entry, stream);
                long written = stream.Position - before;
                if (written != entry.ByteLength)
                    throw new InvalidOperationException($"Writing '{path}': tensor '{entry.Name}' produced {written} bytes instead of {entry.ByteLength}.");
            }
        });
    }

    static void CheckName(string path, string name)
    {
        if (string.IsNullOrEmpty(name)) throw new ArgumentException($"Cannot write '{path}': a tensor has an empty name.");
        if (name == MetadataKey) throw new ArgumentException($"Cannot write '{path}': '{MetadataKey}' is reserved and cannot name a tensor.");
    }

    /// <summary>The padded JSON header for tensors given in data order.</summary>
    internal static byte[] BuildHeader(IEnumerable<(string Name, string DType, long[] Shape, long Bytes)> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps non-ASCII text readable, as the reference writer does.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    ArgumentNullException.ThrowIfNull(value, $"metadata['{key}']");
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, dtype, shape, bytes) in tensors)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (long dim in shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset = checked(offset + bytes);
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padding = (int)((Alignment - buffer.Length % Alignment) % Alignment);
        for (int i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }
}
