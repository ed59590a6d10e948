namespace Transformer2.Models.Tokenization;

/// <summary>One vocabulary entry: its text (with U+2581 for spaces), score and kind.</summary>
internal readonly record struct SentencePiece(string Piece, float Score, SentencePieceType Type);
