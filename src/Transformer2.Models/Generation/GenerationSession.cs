using TorchSharp;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Generation;

/// <summary>
/// The state of one batched generation: left-padded prompts, a preallocated KV cache and per-row progress.
/// Each <see cref="Step"/> is self-contained (its own no-grad and dispose scopes), so steps may run on different threads.
/// </summary>
/// <remarks>
/// Public for callers that must run code around every step, such as entering an ambient SVF context from inside an
/// async iterator (which does not keep ambient state across its yields). <see cref="TextGenerator"/> covers the usual cases.
/// </remarks>
public sealed class GenerationSession : IDisposable
{
    const long PaddingId = 0;

    readonly LlamaForCausalLM _model;
    readonly GenerationOptions _options;
    readonly Func<IReadOnlyList<int>, string>? _decode;
    readonly PromptEmbedder? _embedPrompt;
    readonly HashSet<int> _stopIds;
    readonly int[][] _prompts;
    readonly int _promptLength;
    readonly bool _padded;
    readonly KvCache _cache;
    readonly Generator? _generator;
    readonly List<int>[] _tokens;
    readonly List<float>[] _logProbs;
    readonly FinishReason?[] _finish;
    long[]? _lastTokens;

    /// <summary>Prepares a generation of <paramref name="prompts"/>; <paramref name="decode"/> is needed for stop strings.</summary>
    public GenerationSession(LlamaForCausalLM model, IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options, Func<IReadOnlyList<int>, string>? decode,
        PromptEmbedder? embedPrompt = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (prompts.Count == 0) throw new ArgumentException("At least one prompt is needed.", nameof(prompts));
        if (options.StopStrings.Count > 0 && decode is null)
            throw new ArgumentException("GenerationOptions.StopStrings needs a decoder: pass one to the TextGenerator.", nameof(options));
        int vocab = model.Config.VocabSize;
        for (int row = 0; row < prompts.Count; row++)
        {
            var prompt = prompts[row] ?? throw new ArgumentException($"Prompt {row} is null.", nameof(prompts));
            if (prompt.Count == 0) throw new ArgumentException($"Prompt {row} is empty; a prompt needs at least one token (for example BOS).", nameof(prompts));
            foreach (int id in prompt)
                if (id < 0 || id >= vocab) throw new ArgumentException($"Prompt {row} holds token id {id}, outside the vocabulary [0, {vocab}).", nameof(prompts));
        }
        _model = model;
        _options = options;
        _decode = decode;
        _embedPrompt = embedPrompt;
        _stopIds = [.. options.StopTokenIds ?? model.Config.EosTokenIds];
        _prompts = prompts.Select(p => p.ToArray()).ToArray();
        _promptLength = _prompts.Max(p => p.Length);
        _padded = _prompts.Any(p => p.Length != _promptLength);
        _tokens = _prompts.Select(_ => new List<int>()).ToArray();
        _logProbs = _prompts.Select(_ => new List<float>()).ToArray();
        _finish = new FinishReason?[_prompts.Length];
        _cache = model.CreateCache(_prompts.Length, _promptLength + options.MaxNewTokens);
        if (options.Seed is { } seed) _generator = new Generator(unchecked((ulong)seed));
    }

    /// <summary>Number of prompts.</summary>
    public int Rows => _prompts.Length;

    /// <summary>True when every row has finished.</summary>
    public bool Done => _finish.All(f => f is not null);

    /// <summary>What each row generated so far.</summary>
    public IReadOnlyList<GenerationResult> Results() =>
        Enumerable.Range(0, Rows).Select(r => new GenerationResult(_tokens[r], _logProbs[r], _finish[r] ?? FinishReason.MaxNewTokens)).ToList();

    /// <summary>Runs the model once (the whole prompt first, then one token per row) and returns the tokens of the rows still running.</summary>
    public IReadOnlyList<GeneratedToken> Step()
    {
        if (Done) return [];
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        int rows = Rows;
        var device = _model.Device;
        Tensor input;
        if (_lastTokens is null)
        {
            var ids = new long[rows * _promptLength];
            for (int r = 0; r < rows; r++)
            {
                int offset = _promptLength - _prompts[r].Length; // left padding
                for (int t = 0; t < _prompts[r].Length; t++) ids[r * _promptLength + offset + t] = _prompts[r][t];
            }
            input = tensor(ids, [rows, _promptLength], device: device);
        }
        else
        {
            input = tensor(_lastTokens, [rows, 1], device: device);
        }
        var mask = _padded ? AttentionMask(_cache.Length + input.shape[1], device) : null;
        var logits = (_lastTokens is null && _embedPrompt is not null
                ? _model.ForwardFromEmbeddings(_embedPrompt(input), mask, cache: _cache, lastPositionOnly: true)
                : _model.Forward(input, mask, cache: _cache, lastPositionOnly: true))
            .squeeze(1).to_type(ScalarType.Float32); // [B, V]
        var logProbabilities = logits.log_softmax(1);
        var chosen = LogitsProcessor.Choose(logits, _options.RepetitionPenalty != 1.0 ? SeenTokens(device) : null, _options, _generator); // [B]
        var chosenLogProbs = logProbabilities.gather(1, chosen.unsqueeze(1)).squeeze(1);
        long[] next = chosen.cpu().data<long>().ToArray();
        float[] nextLogProbs = chosenLogProbs.cpu().data<float>().ToArray();

        var produced = new List<GeneratedToken>(rows);
        for (int r = 0; r < rows; r++)
        {
            if (_finish[r] is not null)
            {
                next[r] = PaddingId; // finished rows keep their slot but their output is ignored
                continue;
            }
            int id = (int)next[r];
            _tokens[r].Add(id);
            _logProbs[r].Add(nextLogProbs[r]);
            _finish[r] = FinishOf(r, id);
            produced.Add(new GeneratedToken(r, _tokens[r].Count - 1, id, nextLogProbs[r], _finish[r]));
        }
        _lastTokens = next;
        return produced;
    }

    FinishReason? FinishOf(int row, int id)
    {
        if (_stopIds.Contains(id)) return FinishReason.StopToken;
        if (_options.StopStrings.Count > 0)
        {
            string text = _decode!(_tokens[row]);
            foreach (string stop in _options.StopStrings)
                if (text.Contains(stop, StringComparison.Ordinal)) return FinishReason.StopString;
        }
        return _tokens[row].Count >= _options.MaxNewTokens ? FinishReason.MaxNewTokens : null;
    }

    /// <summary>1 for real tokens, 0 for left padding, [B, total]; generated positions are real.</summary>
    Tensor AttentionMask(long total, Device device)
    {
        var mask = new long[Rows * total];
        for (int r = 0; r < Rows; r++)
            for (long t = _promptLength - _prompts[r].Length; t < total; t++) mask[r * total + t] = 1;
        return tensor(mask, [Rows, total], device: device);
    }

    /// <summary>Prompt and output ids per row, [B, S]; padding repeats a real id so that it penalises nothing extra.</summary>
    Tensor SeenTokens(Device device)
    {
        int width = _promptLength + _tokens.Max(t => t.Count);
        var seen = new long[Rows * width];
        for (int r = 0; r < Rows; r++)
        {
            int i = 0;
            foreach (int id in _prompts[r]) seen[r * width + i++] = id;
            foreach (int id in _tokens[r]) seen[r * width + i++] = id;
            while (i < width) { seen[r * width + i] = _prompts[r][0]; i++; }
        }
        return tensor(seen, [Rows, width], device: device);
    }

    /// <summary>Releases the KV cache.</summary>
    public void Dispose()
    {
        _cache.Dispose();
        _generator?.Dispose();
    }
}
