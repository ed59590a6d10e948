using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Training.Reinforce;

/// <summary>A character-level tokenizer over a fixed alphabet, with BOS = 1, EOS = 2, PAD = 0; enough for trainer tests.</summary>
internal sealed class CharTokenizer(string alphabet) : ITextTokenizer
{
    public string Name => "chars";
    public int VocabSize => alphabet.Length + 3;
    public int BosId => 1;
    public IReadOnlyList<int> EosIds => [2];
    public int? PadId => 0;
    public IReadOnlyDictionary<string, int> SpecialTokens => new Dictionary<string, int> { ["<pad>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };

    public int[] Encode(string text, bool addBos = false)
    {
        var ids = text.Select(c => alphabet.IndexOf(c) is var i and >= 0 ? i + 3 : throw new ArgumentException($"'{c}' is not in the alphabet.")).ToList();
        if (addBos) ids.Insert(0, BosId);
        return ids.ToArray();
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
        string.Concat(ids.Where(i => i >= 3 || !skipSpecialTokens).Select(i => i >= 3 ? alphabet[i - 3] : '·'));

    public int GetSpecialTokenId(string token) => SpecialTokens.TryGetValue(token, out var id) ? id : throw new KeyNotFoundException(token);
}
