namespace Transformer2.Models.Tokenization;

/// <summary>
/// The tokenizer contract the library uses: text to token ids and back, plus the ids generation needs
/// (BOS, the stop set, padding) and the special tokens a chat template writes into its text.
/// </summary>
public interface ITextTokenizer
{
    /// <summary>A short name of the tokenizer family for logs and metadata (for example <c>llama3</c>).</summary>
    string Name { get; }

    /// <summary>Number of ids the model's embedding must cover: the largest id plus one.</summary>
    int VocabSize { get; }

    /// <summary>The beginning-of-text id that <see cref="Encode"/> prepends when asked.</summary>
    int BosId { get; }

    /// <summary>The ids that end a generated turn (for Llama-3 both <c>&lt;|end_of_text|&gt;</c> and <c>&lt;|eot_id|&gt;</c>).</summary>
    IReadOnlyList<int> EosIds { get; }

    /// <summary>The padding id, or <see langword="null"/> when the vocabulary defines none.</summary>
    int? PadId { get; }

    /// <summary>Every special token (control token) by its text; these encode to their id when they occur in text.</summary>
    IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>Encodes <paramref name="text"/>; special tokens written in the text become their ids.</summary>
    /// <param name="text">The text to encode.</param>
    /// <param name="addBos">Prepend <see cref="BosId"/>.</param>
    int[] Encode(string text, bool addBos = false);

    /// <summary>Decodes ids to text; with <paramref name="skipSpecialTokens"/> special tokens are left out.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is negative or not below <see cref="VocabSize"/>.</exception>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false);

    /// <summary>The id of the special token <paramref name="token"/>.</summary>
    /// <exception cref="KeyNotFoundException">The vocabulary has no such special token; the message names it.</exception>
    int GetSpecialTokenId(string token);
}
