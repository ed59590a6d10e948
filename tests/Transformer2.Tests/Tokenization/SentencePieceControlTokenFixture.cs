using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Tokenization;

/// <summary>A tiny Mistral-v0.3-shaped SentencePiece model (controls [INST]=3, [/INST]=4) in a temp folder.</summary>
internal static class SentencePieceControlTokenFixture
{
    // Merged pieces first (highest scores), then single characters; ids follow the 3 + 2 controls + 256 bytes.
    public static readonly string[] Normal = ["▁H", "▁Hi", "ll", "▁He", "▁Hell", "▁Hello", "▁▁", "▁", "H", "i", "e", "l", "o"];

    public static string WriteModel(string folder)
    {
        var path = Path.Combine(folder, "tokenizer.model");
        SentencePieceModelWriter.Write(path, SentencePieceModelWriter.LlamaLayout(Normal, "[INST]", "[/INST]"));
        return path;
    }

    public static int Id(string piece) => 261 + Array.IndexOf(Normal, piece);

    public static SentencePieceTokenizer Create(out Func<string, int> id, out Action cleanup)
    {
        var folder = Path.Combine(Path.GetTempPath(), "t2-sp-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        id = Id;
        cleanup = () => Directory.Delete(folder, recursive: true);
        return SentencePieceTokenizer.FromModelFile(WriteModel(folder));
    }
}
