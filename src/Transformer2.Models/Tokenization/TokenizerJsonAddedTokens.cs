using System.Text.Json;

namespace Transformer2.Models.Tokenization;

/// <summary>The <c>added_tokens</c> array of a Hugging Face tokenizer.json, read with errors that name the file.</summary>
internal static class TokenizerJsonAddedTokens
{
    /// <summary>Each added token's id, text and <c>special</c> flag; none when the array is absent.</summary>
    /// <param name="root">The tokenizer.json root object.</param>
    /// <param name="where">What an error message names, e.g. <c>path: 'added_tokens'</c>.</param>
    public static IEnumerable<(int Id, string Content, bool Special)> Read(JsonElement root, string where)
    {
        if (!root.TryGetProperty("added_tokens", out var added) || added.ValueKind != JsonValueKind.Array) yield break;
        foreach (var token in added.EnumerateArray())
        {
            if (!token.TryGetProperty("id", out var idElement) || !idElement.TryGetInt32(out var id) ||
                !token.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{where} has an entry without an integer 'id' and a string 'content'.");
            var special = token.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
            yield return (id, content.GetString()!, special);
        }
    }
}
