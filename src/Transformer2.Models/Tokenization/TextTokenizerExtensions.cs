namespace Transformer2.Models.Tokenization;

/// <summary>Helpers over <see cref="ITextTokenizer"/>.</summary>
public static class TextTokenizerExtensions
{
    /// <summary>
    /// Encodes a rendered chat prompt with exactly one BOS: prepended when the text does not already start with the BOS
    /// token (the Llama-3 and Mistral templates write it; the authors' code template does not).
    /// </summary>
    public static int[] EncodePrompt(this ITextTokenizer tokenizer, string renderedPrompt)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = tokenizer.Encode(renderedPrompt);
        return ids.Length > 0 && ids[0] == tokenizer.BosId ? ids : [tokenizer.BosId, .. ids];
    }
}
