using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Transformer2.Models.Tokenization;

/// <summary>A pre-tokenizer that yields every match of one regular expression (the HF <c>Split</c> with <c>Isolated</c> behaviour when the pattern covers all text).</summary>
internal sealed class RegexSplitPreTokenizer(Regex pattern) : PreTokenizer
{
    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text)
    {
        if (string.IsNullOrEmpty(text)) yield break;
        for (var match = pattern.Match(text); match.Success; match = match.NextMatch())
        {
            if (match.Length > 0) yield return (match.Index, match.Length);
        }
    }

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => PreTokenize(text.ToString());
}
