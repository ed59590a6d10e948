using System.Buffers.Binary;
using System.Text;

namespace Transformer2.Models.Tokenization;

/// <summary>
/// A minimal protocol-buffers wire reader, enough for SentencePiece's <c>ModelProto</c>. Every read is bounds-checked
/// and a malformed buffer raises <see cref="InvalidDataException"/> naming the source and byte offset.
/// </summary>
internal ref struct ProtobufReader(ReadOnlySpan<byte> buffer, string source, int baseOffset = 0)
{
    private readonly ReadOnlySpan<byte> _buffer = buffer;
    private int _position;

    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    public readonly bool AtEnd => _position >= _buffer.Length;

    public readonly int Offset => baseOffset + _position;

    /// <summary>Reads the next field key; returns false at the end of the buffer.</summary>
    public bool TryReadTag(out int field, out int wireType)
    {
        field = wireType = 0;
        if (AtEnd) return false;
        var key = ReadVarint();
        field = (int)(key >> 3);
        wireType = (int)(key & 7);
        if (field <= 0) throw Malformed("a field number of 0");
        return true;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _buffer.Length) throw Malformed("a truncated varint");
            var b = _buffer[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw Malformed("a varint longer than 10 bytes");
    }

    /// <summary>An <c>int32</c> field (negative values are sign-extended to 64 bits on the wire).</summary>
    public int ReadInt32() => unchecked((int)ReadVarint());

    public bool ReadBool() => ReadVarint() != 0;

    public float ReadFloat()
    {
        if (_position + 4 > _buffer.Length) throw Malformed("a truncated fixed32");
        var value = BinaryPrimitives.ReadSingleLittleEndian(_buffer.Slice(_position, 4));
        _position += 4;
        return value;
    }

    public ReadOnlySpan<byte> ReadBytes(out int startOffset)
    {
        var length = ReadVarint();
        if (length > (ulong)(_buffer.Length - _position)) throw Malformed($"a length of {length} past the end of the data");
        startOffset = Offset;
        var slice = _buffer.Slice(_position, (int)length);
        _position += (int)length;
        return slice;
    }

    public string ReadString()
    {
        var bytes = ReadBytes(out var start);
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"{source}: invalid UTF-8 in a string at byte {start}.");
        }
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: Advance(8); break;
            case LengthDelimited: ReadBytes(out _); break;
            case Fixed32: Advance(4); break;
            default: throw Malformed($"wire type {wireType}");
        }
    }

    /// <summary>Throws unless the field has the expected wire type.</summary>
    public readonly void Expect(int field, int wireType, int expected)
    {
        if (wireType != expected) throw Malformed($"field {field} with wire type {wireType} (expected {expected})");
    }

    private void Advance(int count)
    {
        if (_position + count > _buffer.Length) throw Malformed("a truncated fixed-size field");
        _position += count;
    }

    private readonly InvalidDataException Malformed(string what) =>
        new($"{source}: malformed protobuf, {what} at byte {Offset}.");
}
