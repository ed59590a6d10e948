using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Transformer2.Models.Tokenization;

/// <summary>
/// The Llama-3 tokenizer: byte-level BPE over tiktoken ranks (Microsoft.ML.Tokenizers' <see cref="TiktokenTokenizer"/>)
/// with the Llama-3 pre-tokenizer regex and the special tokens <c>&lt;|begin_of_text|&gt;</c>, <c>&lt;|eot_id|&gt;</c>,
/// <c>&lt;|start_header_id|&gt;</c> ... that encode to their ids wherever they occur in text.
/// </summary>
public sealed class Llama3Tokenizer : ITextTokenizer
{
    /// <summary>The Llama-3 pre-tokenizer (the same split as tiktoken's <c>cl100k_base</c>).</summary>
    public const string PreTokenizerPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private const string BeginOfText = "<|begin_of_text|>";
    private const string EndOfText = "<|end_of_text|>";
    private const string EndOfTurn = "<|eot_id|>";

    // Meta's tokenizer.py reserves 256 special ids after the ranks; these are the named ones.
    private static readonly Dictionary<int, string> DefaultNamedSpecials = new()
    {
        [0] = BeginOfText, [1] = EndOfText, [6] = "<|start_header_id|>", [7] = "<|end_header_id|>", [9] = EndOfTurn,
    };

    private const int DefaultSpecialCount = 256;

    private readonly TiktokenTokenizer _bpe;
    private readonly SpecialTokenSplitter _splitter;
    private readonly Dictionary<string, int> _specialTokens;
    private readonly Dictionary<int, string> _specialById;
    private readonly HashSet<int> _skippedWhenDecoding;
    private readonly int _rankCount;

    private Llama3Tokenizer(
        TiktokenTokenizer bpe, int rankCount, IReadOnlyDictionary<int, (string Content, bool Special)> specials,
        HuggingFaceTokenizerConfig config, string source)
    {
        _bpe = bpe;
        _rankCount = rankCount;
        _specialById = specials.ToDictionary(p => p.Key, p => p.Value.Content);
        _specialTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (id, (content, _)) in specials)
        {
            if (id < rankCount)
                throw new InvalidDataException($"{source}: special token '{content}' has id {id}, which is an ordinary BPE rank (there are {rankCount}).");
            if (!_specialTokens.TryAdd(content, id))
                throw new InvalidDataException($"{source}: special token '{content}' is defined twice.");
        }
        _skippedWhenDecoding = specials.Where(p => p.Value.Special).Select(p => p.Key).ToHashSet();
        _splitter = new SpecialTokenSplitter(_specialTokens);
        VocabSize = Math.Max(rankCount, specials.Count == 0 ? 0 : specials.Keys.Max() + 1);

        var bosName = config.BosToken ?? BeginOfText;
        BosId = _specialTokens.TryGetValue(bosName, out var bos)
            ? bos
            : throw new InvalidDataException($"{source}: the BOS token '{bosName}' is not among the special tokens.");

        // Meta's reference generator stops on both end-of-text and end-of-turn; the config and generation_config add theirs.
        var eos = new List<int>();
        void AddEos(int id) { if (!eos.Contains(id)) eos.Add(id); }
        if (config.EosToken is { } eosName)
        {
            AddEos(_specialTokens.TryGetValue(eosName, out var id)
                ? id
                : throw new InvalidDataException($"{source}: the EOS token '{eosName}' is not among the special tokens."));
        }
        foreach (var id in config.GenerationEosIds) AddEos(id);
        foreach (var name in new[] { EndOfText, EndOfTurn })
            if (_specialTokens.TryGetValue(name, out var id)) AddEos(id);
        EosIds = eos;

        PadId = config.PadToken is { } padName && _specialTokens.TryGetValue(padName, out var pad) ? pad : null;
    }

    /// <inheritdoc />
    public string Name => "llama3";

    /// <inheritdoc />
    public int VocabSize { get; }

    /// <inheritdoc />
    public int BosId { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> EosIds { get; }

    /// <inheritdoc />
    public int? PadId { get; }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, int> SpecialTokens => _specialTokens;

    /// <summary>
    /// Loads Meta's <c>original/tokenizer.model</c> (tiktoken format: one <c>base64-bytes rank</c> per line).
    /// Special tokens come from <c>tokenizer_config.json</c> in <paramref name="configFolder"/> when it has
    /// <c>added_tokens_decoder</c>, otherwise the 256 Llama-3 defaults follow the ranks.
    /// </summary>
    /// <exception cref="FileNotFoundException">The model file is missing.</exception>
    /// <exception cref="InvalidDataException">A line or config entry is malformed; the message names the file and line.</exception>
    public static Llama3Tokenizer FromTiktokenModel(string tokenizerModelPath, string? configFolder = null)
    {
        if (!File.Exists(tokenizerModelPath))
            throw new FileNotFoundException($"Llama-3 tiktoken model not found: {tokenizerModelPath}", tokenizerModelPath);
        var rankCount = ValidateTiktokenFile(tokenizerModelPath);
        var config = configFolder is null ? HuggingFaceTokenizerConfig.Empty : HuggingFaceTokenizerConfig.LoadFromFolder(configFolder);
        var specials = config.AddedTokens.Count > 0 ? config.AddedTokens : DefaultSpecials(rankCount);
        using var stream = File.OpenRead(tokenizerModelPath);
        return Create(stream, rankCount, specials, config, new Regex(PreTokenizerPattern, RegexOptions.CultureInvariant | RegexOptions.Compiled), tokenizerModelPath);
    }

    /// <summary>
    /// Loads a Hugging Face byte-level BPE <c>tokenizer.json</c>; ranks are the vocabulary ids, which must follow the merge
    /// order (true of every Llama-3 file). Reads <c>tokenizer_config.json</c> / <c>generation_config.json</c> beside it when present.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file is missing.</exception>
    /// <exception cref="InvalidDataException">The JSON is not a byte-level BPE model that tiktoken ranks can express; the message names the file and key.</exception>
    public static Llama3Tokenizer FromTokenizerJson(string tokenizerJsonPath)
    {
        if (!File.Exists(tokenizerJsonPath))
            throw new FileNotFoundException($"tokenizer.json not found: {tokenizerJsonPath}", tokenizerJsonPath);
        var folder = Path.GetDirectoryName(Path.GetFullPath(tokenizerJsonPath))!;
        var config = HuggingFaceTokenizerConfig.LoadFromFolder(folder);

        using var document = HuggingFaceTokenizerConfig.ParseJson(tokenizerJsonPath);
        var root = document.RootElement;
        string Where(string key) => $"{tokenizerJsonPath}: '{key}'";
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{Where("model")} is missing.");
        if (!model.TryGetProperty("type", out var type) || type.GetString() != "BPE")
            throw new InvalidDataException($"{Where("model.type")} must be \"BPE\" for a Llama-3 tokenizer.");
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{Where("model.vocab")} must be an object.");

        var bytesById = new Dictionary<int, byte[]>();
        var idByToken = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0)
                throw new InvalidDataException($"{Where("model.vocab")} entry '{entry.Name}' has no valid id.");
            var bytes = ByteLevelAlphabet.TryDecode(entry.Name)
                ?? throw new InvalidDataException($"{Where("model.vocab")} entry '{entry.Name}' is not written in the byte-level alphabet.");
            if (!bytesById.TryAdd(id, bytes))
                throw new InvalidDataException($"{Where("model.vocab")} id {id} is used twice.");
            idByToken[entry.Name] = id;
        }
        var rankCount = bytesById.Count;
        for (var id = 0; id < rankCount; id++)
        {
            if (!bytesById.ContainsKey(id))
                throw new InvalidDataException($"{Where("model.vocab")} ids are not contiguous: {id} is missing.");
        }
        ValidateMergeOrder(model, idByToken, Where("model.merges"));

        var pattern = ReadSplitPattern(root, Where("pre_tokenizer"));
        var specials = new Dictionary<int, (string, bool)>();
        foreach (var (id, content, special) in TokenizerJsonAddedTokens.Read(root, Where("added_tokens"))) specials[id] = (content, special);
        foreach (var (id, value) in config.AddedTokens) specials.TryAdd(id, value);

        // Hand the ranks to Microsoft.ML.Tokenizers in its tiktoken text format (base64 bytes, rank).
        using var ranks = new MemoryStream();
        using (var writer = new StreamWriter(ranks, new UTF8Encoding(false), leaveOpen: true))
        {
            for (var id = 0; id < rankCount; id++)
            {
                writer.Write(Convert.ToBase64String(bytesById[id]));
                writer.Write(' ');
                writer.Write(id);
                writer.Write('\n');
            }
        }
        ranks.Position = 0;
        return Create(ranks, rankCount, specials, config, pattern, tokenizerJsonPath);
    }

    private static Llama3Tokenizer Create(
        Stream ranks, int rankCount, IReadOnlyDictionary<int, (string Content, bool Special)> specials,
        HuggingFaceTokenizerConfig config, Regex pattern, string source)
    {
        // Special tokens are split off by SpecialTokenSplitter before BPE; the inner tokenizer only needs them to decode.
        var specialMap = specials.ToDictionary(p => p.Value.Content, p => p.Key, StringComparer.Ordinal);
        var bpe = TiktokenTokenizer.Create(ranks, new RegexSplitPreTokenizer(pattern), normalizer: null, specialMap);
        return new Llama3Tokenizer(bpe, rankCount, specials, config, source);
    }

    private static Dictionary<int, (string, bool)> DefaultSpecials(int rankCount)
    {
        var specials = new Dictionary<int, (string, bool)>();
        var reserved = 0;
        for (var offset = 0; offset < DefaultSpecialCount; offset++)
        {
            var name = DefaultNamedSpecials.TryGetValue(offset, out var named) ? named : $"<|reserved_special_token_{reserved++}|>";
            specials[rankCount + offset] = (name, true);
        }
        return specials;
    }

    private static int ValidateTiktokenFile(string path)
    {
        var lineNumber = 0;
        var seen = new HashSet<int>();
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            var space = line.IndexOf(' ');
            var ok = space > 0 && int.TryParse(line.AsSpan(space + 1), out var rank) && rank >= 0 && seen.Add(rank);
            if (ok)
            {
                var buffer = new byte[line.Length];
                ok = Convert.TryFromBase64String(line[..space], buffer, out var written) && written > 0;
            }
            if (!ok)
                throw new InvalidDataException($"{path}: line {lineNumber} is not '<base64 bytes> <unique rank>'.");
        }
        if (seen.Count == 0) throw new InvalidDataException($"{path}: the file holds no ranks.");
        for (var rank = 0; rank < seen.Count; rank++)
        {
            if (!seen.Contains(rank)) throw new InvalidDataException($"{path}: ranks are not contiguous: {rank} is missing.");
        }
        return seen.Count;
    }

    // tiktoken merges the pair whose result has the lowest rank; HF BPE merges the earliest merge rule.
    // The two agree when the results' ids never decrease along the merge list.
    private static void ValidateMergeOrder(JsonElement model, Dictionary<string, int> idByToken, string where)
    {
        if (!model.TryGetProperty("merges", out var merges) || merges.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where} must be a list.");
        var previous = -1;
        var index = 0;
        foreach (var merge in merges.EnumerateArray())
        {
            string left, right;
            if (merge.ValueKind == JsonValueKind.String)
            {
                var text = merge.GetString()!;
                var space = text.IndexOf(' ');
                if (space <= 0) throw new InvalidDataException($"{where}[{index}] '{text}' is not 'left right'.");
                (left, right) = (text[..space], text[(space + 1)..]);
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2)
            {
                (left, right) = (merge[0].GetString() ?? "", merge[1].GetString() ?? "");
            }
            else throw new InvalidDataException($"{where}[{index}] is neither 'left right' nor [left, right].");

            if (!idByToken.TryGetValue(left + right, out var id))
                throw new InvalidDataException($"{where}[{index}] produces '{left + right}', which is not in the vocabulary.");
            if (id < previous)
                throw new InvalidDataException($"{where}[{index}] is out of id order, so the merges cannot be expressed as tiktoken ranks.");
            previous = id;
            index++;
        }
    }

    private static Regex ReadSplitPattern(JsonElement root, string where)
    {
        var pattern = PreTokenizerPattern;
        if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object)
        {
            var candidates = pre.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().ToArray()
                : [pre];
            foreach (var candidate in candidates)
            {
                if (candidate.TryGetProperty("type", out var t) && t.GetString() == "Split" &&
                    candidate.TryGetProperty("pattern", out var p) && p.TryGetProperty("Regex", out var regex) &&
                    regex.ValueKind == JsonValueKind.String)
                {
                    pattern = regex.GetString()!;
                }
            }
        }
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{where} split regex is not supported by .NET: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public int[] Encode(string text, bool addBos = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 2);
        if (addBos) ids.Add(BosId);
        foreach (var segment in _splitter.Split(text))
        {
            if (segment.SpecialId is { } special) ids.Add(special);
            else ids.AddRange(_bpe.EncodeToIds(text.Substring(segment.Start, segment.Length), considerNormalization: false));
        }
        return ids.ToArray();
    }

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        var run = new List<int>();
        void Flush()
        {
            if (run.Count == 0) return;
            text.Append(_bpe.Decode(run));
            run.Clear();
        }
        foreach (var id in ids)
        {
            if (_specialById.TryGetValue(id, out var special))
            {
                Flush();
                if (!skipSpecialTokens || !_skippedWhenDecoding.Contains(id)) text.Append(special);
            }
            else if (id >= 0 && id < _rankCount) run.Add(id);
            else throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is not in the Llama-3 vocabulary (size {VocabSize}).");
        }
        Flush();
        return text.ToString();
    }

    /// <inheritdoc />
    public int GetSpecialTokenId(string token) =>
        _specialTokens.TryGetValue(token, out var id)
            ? id
            : throw new KeyNotFoundException($"The Llama-3 vocabulary has no special token '{token}'.");
}
