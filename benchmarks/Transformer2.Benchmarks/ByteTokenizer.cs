using System.Text;
using Transformer2.Models.Tokenization;

namespace Transformer2.Benchmarks;

/// <summary>UTF-8 bytes as tokens (ids 3–258) with pad 0, BOS 1, EOS 2: enough to drive a random model in benchmarks.</summary>
internal sealed class ByteTokenizer : ITextTokenizer
{
    public string Name => "bytes";
    public int VocabSize => 259;
    public int BosId => 1;
    public IReadOnlyList<int> EosIds => [2];
    public int? PadId => 0;
    public IReadOnlyDictionary<string, int> SpecialTokens { get; } = new Dictionary<string, int> { ["<pad>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };

    public int[] Encode(string text, bool addBos = false) =>
        (addBos ? [1] : Array.Empty<int>()).Concat(Encoding.UTF8.GetBytes(text).Select(b => b + 3)).ToArray();

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
        Encoding.UTF8.GetString(ids.Where(i => i >= 3).Select(i => (byte)(i - 3)).ToArray());

    public int GetSpecialTokenId(string token) => SpecialTokens[token];
}
