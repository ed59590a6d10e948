namespace Transformer2.Models.Tokenization;

/// <summary>The kinds of SentencePiece vocabulary entries (<c>ModelProto.SentencePiece.Type</c>).</summary>
internal enum SentencePieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
