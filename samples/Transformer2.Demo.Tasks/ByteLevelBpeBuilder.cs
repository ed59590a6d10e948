using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Transformer2.Core.IO;
using Transformer2.Models.Tokenization;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// Learns a small byte-level BPE (the Llama-3 kind: 256 byte tokens, merges, Llama-3's split regex and special tokens) from
/// sample text and writes it as Hugging Face <c>tokenizer.json</c> + <c>tokenizer_config.json</c>, so that the ordinary
/// <see cref="TokenizerLoader.FromPretrained"/> loads it. Digits are never merged, so numbers stay one token per digit.
/// </summary>
public static class ByteLevelBpeBuilder
{
    /// <summary>The special tokens, in id order after the byte and merge tokens.</summary>
    public static IReadOnlyList<string> SpecialTokens { get; } =
        ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|finetune_right_pad_id|>"];

    /// <summary>Learns up to <paramref name="merges"/> merges from <paramref name="texts"/> and writes the tokenizer files into <paramref name="folder"/>.</summary>
    /// <returns>The vocabulary size including the special tokens.</returns>
    public static int Build(IEnumerable<string> texts, int merges, string folder)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentOutOfRangeException.ThrowIfNegative(merges);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);

        var splitter = new Regex(Llama3Tokenizer.PreTokenizerPattern, RegexOptions.CultureInvariant);
        var specials = new Regex(string.Join('|', SpecialTokens.Select(Regex.Escape)), RegexOptions.CultureInvariant);
        var wordCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (var piece in specials.Split(text))
                foreach (Match m in splitter.Matches(piece))
                    wordCounts[m.Value] = wordCounts.GetValueOrDefault(m.Value) + 1;

        var alphabet = ByteAlphabet();
        var vocab = new List<string>(alphabet);
        var known = new HashSet<string>(vocab, StringComparer.Ordinal);
        var words = wordCounts.OrderBy(w => w.Key, StringComparer.Ordinal)
            .Select(w => (Symbols: Encoding.UTF8.GetBytes(w.Key).Select(b => alphabet[b]).ToList(), Count: w.Value)).ToList();
        var mergeList = new List<(string Left, string Right)>();
        while (mergeList.Count < merges)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                {
                    var pair = (symbols[i], symbols[i + 1]);
                    if (HasDigit(pair.Item1) || HasDigit(pair.Item2) || known.Contains(pair.Item1 + pair.Item2)) continue;
                    pairs[pair] = pairs.GetValueOrDefault(pair) + count;
                }
            if (pairs.Count == 0) break;
            // Most frequent pair; ties broken ordinally so the result is the same on every machine.
            var best = pairs.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1, StringComparer.Ordinal).ThenBy(p => p.Key.Item2, StringComparer.Ordinal).First();
            if (best.Value < 2) break;
            var (left, right) = best.Key;
            string merged = left + right;
            mergeList.Add((left, right));
            vocab.Add(merged);
            known.Add(merged);
            foreach (var (symbols, _) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    if (symbols[i] == left && symbols[i + 1] == right)
                    {
                        symbols[i] = merged;
                        symbols.RemoveAt(i + 1);
                    }
        }

        WriteFiles(folder, vocab, mergeList);
        return vocab.Count + SpecialTokens.Count;
    }

    static bool HasDigit(string symbol) => symbol.Any(char.IsAsciiDigit);

    static void WriteFiles(string folder, List<string> vocab, List<(string Left, string Right)> merges)
    {
        int first = vocab.Count;
        var added = SpecialTokens.Select((content, i) => new
        {
            id = first + i, content, single_word = false, lstrip = false, rstrip = false, normalized = false, special = true,
        }).ToList();
        var json = new
        {
            version = "1.0",
            truncation = (object?)null,
            padding = (object?)null,
            added_tokens = added,
            normalizer = (object?)null,
            pre_tokenizer = new
            {
                type = "Sequence",
                pretokenizers = new object[]
                {
                    new { type = "Split", pattern = new { Regex = Llama3Tokenizer.PreTokenizerPattern }, behavior = "Isolated", invert = false },
                    new { type = "ByteLevel", add_prefix_space = false, trim_offsets = true, use_regex = false },
                },
            },
            post_processor = (object?)null,
            decoder = new { type = "ByteLevel", add_prefix_space = true, trim_offsets = true, use_regex = true },
            model = new
            {
                type = "BPE",
                dropout = (object?)null,
                unk_token = (object?)null,
                continuing_subword_prefix = (object?)null,
                end_of_word_suffix = (object?)null,
                fuse_unk = false,
                byte_fallback = false,
                ignore_merges = true,
                vocab = vocab.Select((token, id) => (token, id)).ToDictionary(p => p.token, p => p.id),
                merges = merges.Select(m => new[] { m.Left, m.Right }).ToList(),
            },
        };
        var options = new JsonSerializerOptions { WriteIndented = false };
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer.json"), JsonSerializer.Serialize(json, options));
        var config = new Dictionary<string, object?>
        {
            ["bos_token"] = "<|begin_of_text|>",
            ["eos_token"] = "<|eot_id|>",
            ["pad_token"] = "<|finetune_right_pad_id|>",
            ["model_max_length"] = 512,
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["added_tokens_decoder"] = added.ToDictionary(a => a.id.ToString(System.Globalization.CultureInfo.InvariantCulture),
                a => new { a.content, a.lstrip, a.normalized, a.rstrip, a.single_word, a.special }),
        };
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true }));
    }

    // GPT-2's byte-to-unicode table: printable bytes stand for themselves, the rest are shifted past U+0100.
    static string[] ByteAlphabet()
    {
        var table = new string[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = ((char)(printable ? b : 256 + shifted++)).ToString();
        }
        return table;
    }
}
