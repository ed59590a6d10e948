using System.Text.Json;

namespace Transformer2.Models.Tokenization;

/// <summary>Picks and loads the right tokenizer for a Hugging Face (or Meta / Mistral) model folder from the files it holds.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// Loads the tokenizer of the checkpoint in <paramref name="folder"/>, trying in order: a SentencePiece
    /// <c>tokenizer.model</c> (Mistral, Llama-2), a byte-level BPE <c>tokenizer.json</c> (Llama-3), a tiktoken
    /// <c>original/tokenizer.model</c> or <c>tokenizer.model</c> (Meta's Llama-3 files), and Mistral's <c>tokenizer.model.v3</c>.
    /// <c>tokenizer_config.json</c> and <c>generation_config.json</c> in the folder supply added tokens and stop ids.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">None of the tokenizer files is present; the message lists those looked for.</exception>
    /// <exception cref="InvalidDataException">A tokenizer file is malformed or of an unsupported kind; the message names it.</exception>
    public static ITextTokenizer FromPretrained(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Model folder not found: {folder}");

        var rootModel = Path.Combine(folder, "tokenizer.model");
        var json = Path.Combine(folder, "tokenizer.json");
        var original = Path.Combine(folder, "original", "tokenizer.model");
        var mistralV3 = Path.Combine(folder, "tokenizer.model.v3");

        if (File.Exists(rootModel) && IsSentencePiece(rootModel)) return SentencePieceTokenizer.FromModelFile(rootModel, folder);
        if (File.Exists(json))
        {
            if (IsSentencePieceStyleJson(json))
                throw new InvalidDataException(
                    $"{json} describes a SentencePiece-style BPE (byte fallback, U+2581 spaces); put the checkpoint's tokenizer.model beside it to load it exactly.");
            return Llama3Tokenizer.FromTokenizerJson(json);
        }
        if (File.Exists(original)) return Llama3Tokenizer.FromTiktokenModel(original, folder);
        if (File.Exists(rootModel)) return Llama3Tokenizer.FromTiktokenModel(rootModel, folder);
        if (File.Exists(mistralV3)) return SentencePieceTokenizer.FromModelFile(mistralV3, folder);

        throw new FileNotFoundException(
            $"No tokenizer in {folder}: looked for tokenizer.model, tokenizer.json, original/tokenizer.model and tokenizer.model.v3.");
    }

    // A SentencePiece ModelProto starts with field 1 (pieces, length-delimited): byte 0x0A. A tiktoken file is base64 text.
    private static bool IsSentencePiece(string path)
    {
        using var stream = File.OpenRead(path);
        return stream.ReadByte() == 0x0A;
    }

    private static bool IsSentencePieceStyleJson(string path)
    {
        using var document = HuggingFaceTokenizerConfig.ParseJson(path);
        var root = document.RootElement;
        return root.ValueKind == JsonValueKind.Object &&
               root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.Object &&
               model.TryGetProperty("byte_fallback", out var fallback) && fallback.ValueKind == JsonValueKind.True;
    }
}
