using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;

namespace Transformer2.Core.IO;

/// <summary>
/// A safetensors file opened for lazy reading: the header is read and validated on <see cref="Open"/>, each
/// tensor's bytes only when it is <see cref="Read"/>.
/// </summary>
/// <remarks>
/// The header is treated as hostile input: every length and offset is checked against the file's size before
/// anything is allocated from it, and any inconsistency throws an <see cref="InvalidDataException"/> that names the
/// file and the key at fault. Instances are safe to read from several threads (reads are serialised).
/// </remarks>
public sealed class SafetensorsFile : IDisposable
{
    /// <summary>Largest header this reader accepts, as the reference implementation (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    const string MetadataKey = "__metadata__";
    const int CopyChunkBytes = 1 << 20;

    readonly object _gate = new();
    readonly Dictionary<string, SafetensorInfo> _tensors;
    FileStream? _stream;

    SafetensorsFile(string path, FileStream stream, Dictionary<string, SafetensorInfo> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        _stream = stream;
        _tensors = tensors;
        Metadata = metadata;
        Names = tensors.Keys.Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>The file's <c>__metadata__</c> string map (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in ordinal order (as Python's <c>safe_open(...).keys()</c>).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Whether the file holds a tensor called <paramref name="name"/>.</summary>
    /// <param name="name">Tensor key.</param>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The dtype, shape and location of tensor <paramref name="name"/>.</summary>
    /// <param name="name">Tensor key.</param>
    /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
    public SafetensorInfo GetInfo(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _tensors.TryGetValue(name, out var info)
            ? info
            : throw new KeyNotFoundException($"Safetensors file '{Path}' has no tensor '{name}'.");
    }

    /// <summary>
    /// Reads tensor <paramref name="name"/> from disk into a new tensor: only that tensor's bytes are read, straight
    /// into the tensor's own storage.
    /// </summary>
    /// <param name="name">Tensor key.</param>
    /// <param name="dtype">Convert to this dtype (for example BF16 → F32); <c>null</c> keeps the stored dtype.</param>
    /// <param name="device">Move to this device; <c>null</c> keeps it on the CPU.</param>
    /// <returns>A new tensor the caller owns.</returns>
    /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
    /// <exception cref="InvalidDataException">The file was truncated after it was opened.</exception>
    public torch.Tensor Read(string name, torch.ScalarType? dtype = null, torch.Device? device = null)
    {
        var info = GetInfo(name);
        SafetensorsDType.TryParse(info.DType, out var storedType, out _);
        // BOOL is read as bytes first: a hostile file may hold values other than 0/1, which are normalised below.
        bool isBool = storedType == torch.ScalarType.Bool;
        var tensor = torch.empty(info.Shape, isBool ? torch.ScalarType.Byte : storedType);
        try
        {
            if (info.ByteLength > 0) ReadInto(tensor, info);
            if (isBool) tensor = Replace(tensor, tensor.ne(0));
            if (dtype is { } wanted && wanted != storedType) tensor = Replace(tensor, tensor.to_type(wanted));
            if (device is not null && device.type != DeviceType.CPU) tensor = Replace(tensor, tensor.to(device));
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    void ReadInto(torch.Tensor tensor, SafetensorInfo info)
    {
        lock (_gate)
        {
            var stream = _stream ?? throw new ObjectDisposedException(nameof(SafetensorsFile), $"Safetensors file '{Path}' was closed.");
            try
            {
                stream.Position = info.Offset;
                if (info.ByteLength <= int.MaxValue) stream.ReadExactly(tensor.bytes);
                else tensor.ReadBytesFromStream(stream, CopyChunkBytes);
            }
            catch (EndOfStreamException e)
            {
                throw new InvalidDataException($"Safetensors file '{Path}' ended inside tensor '{info.Name}' (was it truncated after it was opened?).", e);
            }
        }
    }

    /// <summary>Copies tensor <paramref name="name"/>'s raw bytes to <paramref name="destination"/> through a small buffer.</summary>
    internal void CopyRawTo(string name, Stream destination)
    {
        var info = GetInfo(name);
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Min(CopyChunkBytes, Math.Max(1, info.ByteLength)));
        try
        {
            lock (_gate)
            {
                var stream = _stream ?? throw new ObjectDisposedException(nameof(SafetensorsFile), $"Safetensors file '{Path}' was closed.");
                stream.Position = info.Offset;
                long left = info.ByteLength;
                while (left > 0)
                {
                    int chunk = (int)Math.Min(buffer.Length, left);
                    try
                    {
                        stream.ReadExactly(buffer, 0, chunk);
                    }
                    catch (EndOfStreamException e)
                    {
                        throw new InvalidDataException($"Safetensors file '{Path}' ended inside tensor '{info.Name}' (was it truncated after it was opened?).", e);
                    }
                    destination.Write(buffer, 0, chunk);
                    left -= chunk;
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    static torch.Tensor Replace(torch.Tensor old, torch.Tensor replacement)
    {
        if (!ReferenceEquals(old, replacement)) old.Dispose();
        return replacement;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _stream?.Dispose();
            _stream = null;
        }
    }

    /// <summary>Opens <paramref name="path"/>, reads and validates its header. Tensor bytes are not read.</summary>
    /// <param name="path">The safetensors file.</param>
    /// <returns>The opened file; dispose it to close the file handle.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file; the message names the key at fault.</exception>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = System.IO.Path.GetFullPath(path);
        var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.RandomAccess);
        try
        {
            var (tensors, metadata) = ReadHeader(stream, fullPath);
            return new SafetensorsFile(fullPath, stream, tensors, metadata);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    static (Dictionary<string, SafetensorInfo>, IReadOnlyDictionary<string, string>) ReadHeader(FileStream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new InvalidDataException($"Safetensors file '{path}' is {fileLength} bytes long; it must start with an 8-byte header length.");

        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (declared > MaxHeaderBytes)
            throw new InvalidDataException($"Safetensors file '{path}' declares a header of {declared} bytes, more than the {MaxHeaderBytes}-byte limit.");
        if (declared > (ulong)(fileLength - 8))
            throw new InvalidDataException($"Safetensors file '{path}' declares a header of {declared} bytes but only {fileLength - 8} bytes follow the length prefix.");
        if (declared < 2)
            throw new InvalidDataException($"Safetensors file '{path}' declares a header of {declared} bytes, too short for a JSON object.");

        // Safe: the length was checked against both the limit and the file's actual size.
        var headerBytes = new byte[(int)declared];
        stream.ReadExactly(headerBytes);
        long dataStart = 8 + (long)declared;
        long dataLength = fileLength - dataStart;

        // Checked up front: System.Text.Json only notices bad UTF-8 in names lazily, with a generic exception.
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes))
            throw new InvalidDataException($"Safetensors file '{path}' has a header that is not valid UTF-8 JSON (invalid UTF-8 bytes).");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(headerBytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Safetensors file '{path}' has a header that is not valid UTF-8 JSON: {e.Message}", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"Safetensors file '{path}' has a header that is a JSON {root.ValueKind}, not an object.");

            var tensors = new Dictionary<string, SafetensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var property in root.EnumerateObject())
            {
                string key = property.Name;
                if (key == MetadataKey)
                {
                    if (sawMetadata) throw new InvalidDataException($"Safetensors file '{path}' has a duplicate key '{key}' in its header.");
                    sawMetadata = true;
                    ReadMetadata(property.Value, path, metadata);
                    continue;
                }
                if (tensors.ContainsKey(key))
                    throw new InvalidDataException($"Safetensors file '{path}' has a duplicate key '{key}' in its header.");
                tensors.Add(key, ReadTensorInfo(property.Value, key, path, dataStart, dataLength));
            }
            CheckNoOverlap(tensors.Values, path, dataStart);
            return (tensors, metadata);
        }
    }

    static void ReadMetadata(JsonElement element, string path, Dictionary<string, string> metadata)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"Safetensors file '{path}': '{MetadataKey}' must be a JSON object of strings, not a {element.ValueKind}.");
        foreach (var entry in element.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"Safetensors file '{path}': metadata entry '{entry.Name}' must be a string, not a {entry.Value.ValueKind}.");
            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
                throw new InvalidDataException($"Safetensors file '{path}' has a duplicate metadata key '{entry.Name}'.");
        }
    }

    static SafetensorInfo ReadTensorInfo(JsonElement element, string key, string path, long dataStart, long dataLength)
    {
        string where = $"Safetensors file '{path}', tensor '{key}'";
        if (element.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{where}: the entry must be a JSON object, not a {element.ValueKind}.");

        if (!element.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{where}: missing or non-string 'dtype'.");
        string dtype = dtypeElement.GetString()!;
        if (!SafetensorsDType.TryParse(dtype, out _, out int elementSize))
            throw new InvalidDataException($"{where}: unknown dtype '{dtype}' (supported: {string.Join(", ", SafetensorsDType.Names)}).");

        if (!element.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where}: missing or non-array 'shape'.");
        var shape = new long[shapeElement.GetArrayLength()];
        long elements = 1;
        int index = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long size) || size < 0)
                throw new InvalidDataException($"{where}: shape dimension {index} is {dim.GetRawText()}, not a non-negative integer.");
            shape[index++] = size;
            try
            {
                elements = checked(elements * size);
            }
            catch (OverflowException)
            {
                throw new InvalidDataException($"{where}: shape [{string.Join(", ", shape.Take(index))}...] has more elements than fit in 64 bits.");
            }
        }
        long expectedBytes;
        try
        {
            expectedBytes = checked(elements * elementSize);
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"{where}: shape [{string.Join(", ", shape)}] of {dtype} is larger than 2^63 bytes.");
        }

        if (!element.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array || offsetsElement.GetArrayLength() != 2)
            throw new InvalidDataException($"{where}: 'data_offsets' must be an array of two integers.");
        var begin = offsetsElement[0];
        var end = offsetsElement[1];
        if (begin.ValueKind != JsonValueKind.Number || !begin.TryGetInt64(out long start) || start < 0
            || end.ValueKind != JsonValueKind.Number || !end.TryGetInt64(out long stop) || stop < 0)
            throw new InvalidDataException($"{where}: 'data_offsets' {offsetsElement.GetRawText()} must be two non-negative 64-bit integers.");
        if (stop < start)
            throw new InvalidDataException($"{where}: 'data_offsets' [{start}, {stop}] ends before it begins.");
        if (stop > dataLength)
            throw new InvalidDataException($"{where}: 'data_offsets' [{start}, {stop}] run past the end of the data ({dataLength} bytes follow the header).");
        if (stop - start != expectedBytes)
            throw new InvalidDataException($"{where}: 'data_offsets' [{start}, {stop}] span {stop - start} bytes, but shape [{string.Join(", ", shape)}] of {dtype} needs {expectedBytes}.");

        return new SafetensorInfo(key, dtype, shape, dataStart + start, expectedBytes);
    }

    static void CheckNoOverlap(IEnumerable<SafetensorInfo> tensors, string path, long dataStart)
    {
        SafetensorInfo? previous = null;
        foreach (var info in tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Offset))
        {
            if (previous is not null && info.Offset < previous.Offset + previous.ByteLength)
                throw new InvalidDataException(
                    $"Safetensors file '{path}': tensor '{info.Name}' (data_offsets [{info.Offset - dataStart}, {info.Offset - dataStart + info.ByteLength}]) " +
                    $"overlaps tensor '{previous.Name}' (data_offsets [{previous.Offset - dataStart}, {previous.Offset - dataStart + previous.ByteLength}]).");
            previous = info;
        }
    }
}
