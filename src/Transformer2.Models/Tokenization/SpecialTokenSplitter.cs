using System.Text.RegularExpressions;

namespace Transformer2.Models.Tokenization;

/// <summary>
/// Cuts text into ordinary runs and special tokens written literally in the text (longest match first),
/// so that <c>&lt;|eot_id|&gt;</c> or <c>[INST]</c> in a rendered chat prompt becomes its id and never ordinary text.
/// </summary>
internal sealed class SpecialTokenSplitter
{
    private readonly Regex? _pattern;
    private readonly IReadOnlyDictionary<string, int> _tokens;

    public SpecialTokenSplitter(IReadOnlyDictionary<string, int> tokens)
    {
        _tokens = tokens;
        var alternatives = tokens.Keys.Where(k => k.Length > 0)
            .OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal)
            .Select(Regex.Escape).ToArray();
        _pattern = alternatives.Length == 0
            ? null
            : new Regex(string.Join("|", alternatives), RegexOptions.CultureInvariant | RegexOptions.Compiled);
    }

    /// <summary>One piece of the text: a special token (<see cref="SpecialId"/> set) or an ordinary run.</summary>
    public readonly record struct Segment(int Start, int Length, int? SpecialId);

    public IEnumerable<Segment> Split(string text)
    {
        var position = 0;
        if (_pattern is not null)
        {
            for (var match = _pattern.Match(text); match.Success; match = match.NextMatch())
            {
                if (match.Index > position) yield return new Segment(position, match.Index - position, null);
                yield return new Segment(match.Index, match.Length, _tokens[match.Value]);
                position = match.Index + match.Length;
            }
        }
        if (position < text.Length) yield return new Segment(position, text.Length - position, null);
    }
}
