namespace Transformer2.Models.Tokenization;

/// <summary>
/// A parsed SentencePiece <c>tokenizer.model</c> (<c>ModelProto</c>): the pieces, the trainer settings that matter for
/// encoding (model type, byte fallback, special ids) and the normalizer settings (dummy prefix, whitespace handling).
/// </summary>
internal sealed class SentencePieceModel
{
    public const int ModelTypeUnigram = 1, ModelTypeBpe = 2;

    public required IReadOnlyList<SentencePiece> Pieces { get; init; }
    public int ModelType { get; init; } = ModelTypeUnigram;
    public bool ByteFallback { get; init; }
    public int UnknownId { get; init; }
    public int BosId { get; init; } = 1;
    public int EosId { get; init; } = 2;
    public int PadId { get; init; } = -1;
    public bool TreatWhitespaceAsSuffix { get; init; }
    public string NormalizationRuleName { get; init; } = "nmt_nfkc";
    public bool HasPrecompiledCharsMap { get; init; }
    public bool AddDummyPrefix { get; init; } = true;
    public bool RemoveExtraWhitespaces { get; init; } = true;
    public bool EscapeWhitespaces { get; init; } = true;

    /// <exception cref="InvalidDataException">The file is not a SentencePiece model; the message names the file and offset.</exception>
    public static SentencePieceModel Load(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return Parse(bytes, path);
    }

    public static SentencePieceModel Parse(ReadOnlySpan<byte> data, string source)
    {
        var pieces = new List<SentencePiece>();
        int modelType = ModelTypeUnigram, unk = 0, bos = 1, eos = 2, pad = -1;
        bool byteFallback = false, suffix = false, addDummyPrefix = true, removeExtra = true, escape = true, charsMap = false;
        var ruleName = "nmt_nfkc";

        var reader = new ProtobufReader(data, source);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    reader.Expect(field, wire, ProtobufReader.LengthDelimited);
                    pieces.Add(ParsePiece(reader.ReadBytes(out var pieceStart), source, pieceStart, pieces.Count));
                    break;
                case 2:
                {
                    reader.Expect(field, wire, ProtobufReader.LengthDelimited);
                    var spec = new ProtobufReader(reader.ReadBytes(out var specStart), source, specStart);
                    while (spec.TryReadTag(out var f, out var w))
                    {
                        switch (f)
                        {
                            case 3: spec.Expect(f, w, ProtobufReader.Varint); modelType = spec.ReadInt32(); break;
                            case 24: spec.Expect(f, w, ProtobufReader.Varint); suffix = spec.ReadBool(); break;
                            case 35: spec.Expect(f, w, ProtobufReader.Varint); byteFallback = spec.ReadBool(); break;
                            case 40: spec.Expect(f, w, ProtobufReader.Varint); unk = spec.ReadInt32(); break;
                            case 41: spec.Expect(f, w, ProtobufReader.Varint); bos = spec.ReadInt32(); break;
                            case 42: spec.Expect(f, w, ProtobufReader.Varint); eos = spec.ReadInt32(); break;
                            case 43: spec.Expect(f, w, ProtobufReader.Varint); pad = spec.ReadInt32(); break;
                            default: spec.Skip(w); break;
                        }
                    }
                    break;
                }
                case 3:
                {
                    reader.Expect(field, wire, ProtobufReader.LengthDelimited);
                    var spec = new ProtobufReader(reader.ReadBytes(out var specStart), source, specStart);
                    while (spec.TryReadTag(out var f, out var w))
                    {
                        switch (f)
                        {
                            case 1: spec.Expect(f, w, ProtobufReader.LengthDelimited); ruleName = spec.ReadString(); break;
                            case 2: spec.Expect(f, w, ProtobufReader.LengthDelimited); charsMap = spec.ReadBytes(out _).Length > 0; break;
                            case 3: spec.Expect(f, w, ProtobufReader.Varint); addDummyPrefix = spec.ReadBool(); break;
                            case 4: spec.Expect(f, w, ProtobufReader.Varint); removeExtra = spec.ReadBool(); break;
                            case 5: spec.Expect(f, w, ProtobufReader.Varint); escape = spec.ReadBool(); break;
                            default: spec.Skip(w); break;
                        }
                    }
                    break;
                }
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        if (pieces.Count == 0) throw new InvalidDataException($"{source}: the SentencePiece model has no pieces.");
        return new SentencePieceModel
        {
            Pieces = pieces, ModelType = modelType, ByteFallback = byteFallback, UnknownId = unk, BosId = bos, EosId = eos,
            PadId = pad, TreatWhitespaceAsSuffix = suffix, NormalizationRuleName = ruleName, HasPrecompiledCharsMap = charsMap,
            AddDummyPrefix = addDummyPrefix, RemoveExtraWhitespaces = removeExtra, EscapeWhitespaces = escape,
        };
    }

    private static SentencePiece ParsePiece(ReadOnlySpan<byte> data, string source, int offset, int index)
    {
        var reader = new ProtobufReader(data, source, offset);
        string? piece = null;
        var score = 0f;
        var type = SentencePieceType.Normal;
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: reader.Expect(field, wire, ProtobufReader.LengthDelimited); piece = reader.ReadString(); break;
                case 2: reader.Expect(field, wire, ProtobufReader.Fixed32); score = reader.ReadFloat(); break;
                case 3:
                    reader.Expect(field, wire, ProtobufReader.Varint);
                    var raw = reader.ReadInt32();
                    if (raw is < 1 or > 6) throw new InvalidDataException($"{source}: piece {index} has unknown type {raw}.");
                    type = (SentencePieceType)raw;
                    break;
                default: reader.Skip(wire); break;
            }
        }
        if (piece is null) throw new InvalidDataException($"{source}: piece {index} has no text.");
        return new SentencePiece(piece, score, type);
    }
}
