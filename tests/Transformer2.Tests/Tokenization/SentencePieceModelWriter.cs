using System.Buffers.Binary;
using System.Text;
using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Tokenization;

/// <summary>Writes a SentencePiece <c>ModelProto</c> (the <c>tokenizer.model</c> format) for tests: BPE, identity normalization.</summary>
internal static class SentencePieceModelWriter
{
    public static void Write(string path, IReadOnlyList<SentencePiece> pieces, bool byteFallback = true, bool addDummyPrefix = true,
        bool removeExtraWhitespaces = false)
    {
        using var model = new MemoryStream();
        var score = new byte[4];
        foreach (var piece in pieces)
        {
            using var entry = new MemoryStream();
            WriteString(entry, 1, piece.Piece);
            WriteTag(entry, 2, 5);
            BinaryPrimitives.WriteSingleLittleEndian(score, piece.Score);
            entry.Write(score);
            WriteVarintField(entry, 3, (ulong)piece.Type);
            WriteBytes(model, 1, entry.ToArray());
        }
        using (var trainer = new MemoryStream())
        {
            WriteVarintField(trainer, 3, 2); // BPE
            WriteVarintField(trainer, 4, (ulong)pieces.Count);
            WriteVarintField(trainer, 35, byteFallback ? 1UL : 0UL);
            WriteVarintField(trainer, 40, 0);
            WriteVarintField(trainer, 41, 1);
            WriteVarintField(trainer, 42, 2);
            WriteVarintField(trainer, 43, unchecked((ulong)-1L));
            WriteBytes(model, 2, trainer.ToArray());
        }
        using (var normalizer = new MemoryStream())
        {
            WriteString(normalizer, 1, "identity");
            WriteVarintField(normalizer, 3, addDummyPrefix ? 1UL : 0UL);
            WriteVarintField(normalizer, 4, removeExtraWhitespaces ? 1UL : 0UL);
            WriteVarintField(normalizer, 5, 1);
            WriteBytes(model, 3, normalizer.ToArray());
        }
        File.WriteAllBytes(path, model.ToArray());
    }

    /// <summary>
    /// The Llama/Mistral layout: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, then <paramref name="controls"/>, 256 byte pieces, then the
    /// normal pieces with strictly decreasing scores, except that pieces made only of U+2581 all score -1e9
    /// (as in the Llama-2 and Mistral models, whose whitespace-only merges come last in their HF merge lists).
    /// </summary>
    public static List<SentencePiece> LlamaLayout(IEnumerable<string> normalPieces, params string[] controls)
    {
        var pieces = new List<SentencePiece>
        {
            new("<unk>", 0, SentencePieceType.Unknown),
            new("<s>", 0, SentencePieceType.Control),
            new("</s>", 0, SentencePieceType.Control),
        };
        pieces.AddRange(controls.Select(c => new SentencePiece(c, 0, SentencePieceType.Control)));
        pieces.AddRange(Enumerable.Range(0, 256).Select(b => new SentencePiece($"<0x{b:X2}>", 0, SentencePieceType.Byte)));
        var rank = 0;
        foreach (var piece in normalPieces)
        {
            var whitespaceOnly = piece.Length > 1 && piece.All(c => c == '\u2581');
            pieces.Add(new SentencePiece(piece, whitespaceOnly ? -1e9f : -rank, SentencePieceType.Normal));
            rank++;
        }
        return pieces;
    }

    private static void WriteTag(Stream s, int field, int wire) => WriteVarint(s, (ulong)((field << 3) | wire));

    private static void WriteVarintField(Stream s, int field, ulong value)
    {
        WriteTag(s, field, 0);
        WriteVarint(s, value);
    }

    private static void WriteString(Stream s, int field, string value) => WriteBytes(s, field, Encoding.UTF8.GetBytes(value));

    private static void WriteBytes(Stream s, int field, byte[] value)
    {
        WriteTag(s, field, 2);
        WriteVarint(s, (ulong)value.Length);
        s.Write(value);
    }

    private static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        s.WriteByte((byte)value);
    }
}
