using System.Text;

namespace Transformer2.Models.Tokenization;

/// <summary>
/// A SentencePiece BPE tokenizer read from <c>tokenizer.model</c> (Mistral v0.1–v0.3, Llama-2), encoding exactly as
/// Google's sentencepiece does. Control tokens (<c>&lt;s&gt;</c>, <c>[INST]</c>, <c>[/INST]</c> ...) and the added tokens of
/// <c>tokenizer_config.json</c> encode to their ids wherever they occur in text. The dummy-prefix space is added only at the
/// very start of the text, not after a control token, as mistral_common builds <c>[INST]</c> prompts
/// (<c>"[INST] Hi[/INST]"</c> → <c>[INST]</c>, <c>▁Hi</c>, <c>[/INST]</c>).
/// </summary>
public sealed class SentencePieceTokenizer : ITextTokenizer
{
    private const char SpaceSymbol = '\u2581';

    private readonly SentencePieceModel _model;
    private readonly SentencePieceBpeEncoder _encoder;
    private readonly SpecialTokenSplitter _splitter;
    private readonly Dictionary<string, int> _specialTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<int, string> _specialById = [];
    private readonly int[] _byteValue;

    private SentencePieceTokenizer(SentencePieceModel model, HuggingFaceTokenizerConfig config, string source)
    {
        if (model.ModelType != SentencePieceModel.ModelTypeBpe)
            throw new InvalidDataException($"{source}: model_type {model.ModelType} is not BPE (2); only SentencePiece BPE models are supported.");
        if (model.HasPrecompiledCharsMap || model.NormalizationRuleName is not ("identity" or ""))
            throw new InvalidDataException($"{source}: normalization rule '{model.NormalizationRuleName}' is not supported; only 'identity' (Llama-2, Mistral).");
        if (model.TreatWhitespaceAsSuffix)
            throw new InvalidDataException($"{source}: treat_whitespace_as_suffix is not supported.");

        _model = model;
        CheckId(model.UnknownId, "unk_id", source);
        _encoder = new SentencePieceBpeEncoder(model, source);
        _byteValue = new int[model.Pieces.Count];
        for (var id = 0; id < model.Pieces.Count; id++)
        {
            var (piece, _, type) = model.Pieces[id];
            _byteValue[id] = type == SentencePieceType.Byte ? Convert.ToInt32(piece.Substring(3, 2), 16) : -1;
            if (type is SentencePieceType.Control or SentencePieceType.Unknown && piece.Length > 0)
                AddSpecial(piece, id);
        }
        foreach (var (id, (content, _)) in config.AddedTokens)
        {
            if (id < 0 || id >= model.Pieces.Count)
                throw new InvalidDataException($"{source}: added token '{content}' has id {id}, outside the {model.Pieces.Count} pieces.");
            AddSpecial(content, id);
        }
        _splitter = new SpecialTokenSplitter(_specialTokens);

        BosId = CheckId(model.BosId, "bos_id", source);
        var eos = new List<int> { CheckId(model.EosId, "eos_id", source) };
        if (config.EosToken is { } eosName && _specialTokens.TryGetValue(eosName, out var configEos) && !eos.Contains(configEos)) eos.Add(configEos);
        foreach (var id in config.GenerationEosIds)
            if (!eos.Contains(id)) eos.Add(CheckId(id, "generation_config eos_token_id", source));
        EosIds = eos;
        PadId = model.PadId >= 0 ? CheckId(model.PadId, "pad_id", source)
            : config.PadToken is { } padName && _specialTokens.TryGetValue(padName, out var pad) ? pad : null;
    }

    private void AddSpecial(string text, int id)
    {
        _specialTokens.TryAdd(text, id);
        _specialById.TryAdd(id, text);
    }

    private int CheckId(int id, string key, string source) =>
        id >= 0 && id < _model.Pieces.Count
            ? id
            : throw new InvalidDataException($"{source}: {key} {id} is outside the {_model.Pieces.Count} pieces.");

    /// <summary>
    /// Loads a SentencePiece <c>tokenizer.model</c>; added tokens and stop ids come from <c>tokenizer_config.json</c> and
    /// <c>generation_config.json</c> in <paramref name="configFolder"/> when given.
    /// </summary>
    /// <exception cref="FileNotFoundException">The model file is missing.</exception>
    /// <exception cref="InvalidDataException">The file is not a supported SentencePiece BPE model; the message names the file.</exception>
    public static SentencePieceTokenizer FromModelFile(string tokenizerModelPath, string? configFolder = null)
    {
        if (!File.Exists(tokenizerModelPath))
            throw new FileNotFoundException($"SentencePiece model not found: {tokenizerModelPath}", tokenizerModelPath);
        var model = SentencePieceModel.Load(tokenizerModelPath);
        var config = configFolder is null ? HuggingFaceTokenizerConfig.Empty : HuggingFaceTokenizerConfig.LoadFromFolder(configFolder);
        return new SentencePieceTokenizer(model, config, tokenizerModelPath);
    }

    /// <inheritdoc />
    public string Name => "sentencepiece-bpe";

    /// <inheritdoc />
    public int VocabSize => _model.Pieces.Count;

    /// <inheritdoc />
    public int BosId { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> EosIds { get; }

    /// <inheritdoc />
    public int? PadId { get; }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, int> SpecialTokens => _specialTokens;

    /// <inheritdoc />
    public int[] Encode(string text, bool addBos = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 2);
        if (addBos) ids.Add(BosId);
        foreach (var segment in _splitter.Split(text))
        {
            if (segment.SpecialId is { } special) ids.Add(special);
            else _encoder.Encode(Normalize(text.AsSpan(segment.Start, segment.Length), atTextStart: segment.Start == 0), ids);
        }
        return ids.ToArray();
    }

    // sentencepiece's identity normalizer: optional whitespace clean-up, the dummy prefix, spaces written as U+2581.
    private string Normalize(ReadOnlySpan<char> text, bool atTextStart)
    {
        var result = new StringBuilder(text.Length + 1);
        if (_model.RemoveExtraWhitespaces)
        {
            var collapsed = string.Join(' ', text.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries));
            text = collapsed.AsSpan();
            if (text.IsEmpty) return "";
        }
        if (text.IsEmpty) return "";
        if (_model.AddDummyPrefix && atTextStart) result.Append(' ');
        result.Append(text);
        if (_model.EscapeWhitespaces) result.Replace(' ', SpaceSymbol);
        return result.ToString();
    }

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        var pending = new List<byte>();
        var atStart = true;
        void Flush()
        {
            if (pending.Count == 0) return;
            text.Append(Encoding.UTF8.GetString(pending.ToArray()));
            pending.Clear();
        }
        foreach (var id in ids)
        {
            if (id < 0 || id >= _model.Pieces.Count)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the {_model.Pieces.Count} pieces.");
            if (_specialById.TryGetValue(id, out var special))
            {
                if (skipSpecialTokens) continue;
                Flush();
                text.Append(special);
                atStart = false;
                continue;
            }
            if (_byteValue[id] >= 0)
            {
                pending.Add((byte)_byteValue[id]);
                atStart = false;
                continue;
            }
            var piece = _model.Pieces[id].Piece.AsSpan();
            // The dummy prefix is dropped only where Encode added it: at the very start of the text.
            if (atStart && _model.AddDummyPrefix && piece.Length > 0 && piece[0] == SpaceSymbol) piece = piece[1..];
            atStart = false;
            var utf8 = Encoding.UTF8.GetBytes(piece.ToString().Replace(SpaceSymbol, ' '));
            pending.AddRange(utf8);
        }
        Flush();
        return text.ToString();
    }

    /// <inheritdoc />
    public int GetSpecialTokenId(string token) =>
        _specialTokens.TryGetValue(token, out var id)
            ? id
            : throw new KeyNotFoundException($"The SentencePiece vocabulary has no special token '{token}'.");
}
