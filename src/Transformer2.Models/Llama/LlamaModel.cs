using TorchSharp;
using Transformer2.Core;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>The decoder stack without the LM head (HF <c>LlamaModel</c>, checkpoint prefix <c>model.</c>).</summary>
public sealed class LlamaModel : nn.Module
{
    readonly LlamaConfig _config;
    readonly RotaryEmbedding _rotary;

    /// <summary>Token embeddings [vocab, hidden].</summary>
    public TokenEmbedding embed_tokens;

    /// <summary>The decoder blocks, <c>layers.0</c> … <c>layers.{n-1}</c>.</summary>
    public ModuleList<LlamaDecoderLayer> layers;

    /// <summary>The final norm.</summary>
    public RmsNorm norm;

    internal LlamaModel(LlamaConfig config, ParameterFactory factory) : base(nameof(LlamaModel))
    {
        _config = config;
        _rotary = new RotaryEmbedding(config);
        embed_tokens = new TokenEmbedding(config.VocabSize, config.HiddenSize, factory);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(i => new LlamaDecoderLayer(config, i, factory)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, factory);
        RegisterComponents();
    }

    /// <summary>The rotary embedding this stack uses.</summary>
    public RotaryEmbedding Rotary => _rotary;

    /// <summary>
    /// Runs the stack on <paramref name="inputIds"/> [B, T] and returns the final-normed hidden states [B, T, hidden].
    /// </summary>
    /// <param name="inputIds">Token ids, int64 [B, T].</param>
    /// <param name="attentionMask">1 for real tokens, 0 for padding, [B, past + T]; <see langword="null"/> when nothing is padded.</param>
    /// <param name="positionIds">Positions [B, T]; by default counted from the mask's real tokens (left padding) or from the cache length.</param>
    /// <param name="cache">Keys and values of earlier steps; the new ones are appended.</param>
    internal Tensor Forward(Tensor inputIds, Tensor? attentionMask, Tensor? positionIds, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        ValidateIds(inputIds);
        return ForwardEmbeddings(embed_tokens.call(inputIds), attentionMask, positionIds, cache).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Runs the stack on input embeddings [B, T, hidden] (for example token embeddings with image features written in)
    /// and returns the final-normed hidden states [B, T, hidden].
    /// </summary>
    internal Tensor ForwardEmbeddings(Tensor inputsEmbeds, Tensor? attentionMask, Tensor? positionIds, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        ValidateInputs(inputsEmbeds, attentionMask, positionIds, cache);
        long batch = inputsEmbeds.shape[0], length = inputsEmbeds.shape[1];
        int past = cache?.Length ?? 0;
        long total = past + length;
        var device = embed_tokens.weight.device;
        var dtype = embed_tokens.weight.dtype;

        positionIds ??= attentionMask is not null
            ? KeptScalars.Add(attentionMask.to_type(ScalarType.Int64).cumsum(-1), KeptScalars.MinusOne).clamp_min(KeptScalars.Zero).narrow(1, past, length) // [B, T]
            : arange(past, total, ScalarType.Int64, device).unsqueeze(0).expand(batch, length);
        var (cos, sin) = _rotary.Compute(positionIds.to(device), dtype);
        var (mask, causal) = BuildMask(attentionMask, past, length, dtype, device);

        var hidden = inputsEmbeds.to(device).to_type(dtype); // [B, T, hidden]
        foreach (var layer in layers) hidden = layer.Forward(hidden, cos, sin, mask, causal, cache);
        cache?.Advance((int)length);
        return norm.call(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The additive attention mask [B or 1, 1, T, past + T] (0 = attend, very negative = blocked), or none when
    /// scaled-dot-product attention's own causal flag (or no mask at all, for one new token) is exact.
    /// </summary>
    (Tensor? Mask, bool Causal) BuildMask(Tensor? attentionMask, int past, long length, ScalarType dtype, Device device)
    {
        long total = past + length;
        bool windowBinds = _config.SlidingWindow is { } window && total > window;
        if (attentionMask is null && !windowBinds)
        {
            if (length == 1) return (null, false);
            if (past == 0) return (null, true);
        }
        var queries = arange(past, total, ScalarType.Int64, device).unsqueeze(1); // [T, 1]
        var keys = arange(0, total, ScalarType.Int64, device).unsqueeze(0); // [1, S]
        var allowed = keys.le(queries); // [T, S]
        if (_config.SlidingWindow is { } w)
        {
            using var windowSize = w.ToScalar();
            allowed = allowed.logical_and((queries - keys).lt(windowSize));   // tensor − tensor passes no Scalar
        }
        allowed = allowed.unsqueeze(0).unsqueeze(0); // [1, 1, T, S]
        if (attentionMask is not null)
            allowed = allowed.logical_and(attentionMask.to(device).ne(0).unsqueeze(1).unsqueeze(1)); // [B, 1, T, S]
        // A finite minimum keeps rows with no visible key (left-padding queries) free of NaN.
        // An explicit Scalar, disposed after the call: an implicit one is unreachable once its handle is passed, and the
        // finalizer thread freed it during masked_fill in a REINFORCE run ("toFloat" check failure in libtorch).
        using var blocked = (dtype == ScalarType.Float16 ? -65504.0 : -1e30).ToScalar();
        var additive = zeros(allowed.shape, dtype, device).masked_fill(allowed.logical_not(), blocked);
        return (additive, false);
    }

    void ValidateIds(Tensor inputIds)
    {
        if (inputIds.dim() != 2 || inputIds.dtype != ScalarType.Int64)
            throw new ArgumentException($"input ids must be an int64 tensor [batch, seq]; got {inputIds.dtype} [{string.Join(", ", inputIds.shape)}].", nameof(inputIds));
        if (inputIds.shape[0] == 0 || inputIds.shape[1] == 0) throw new ArgumentException("input ids must hold at least one token.", nameof(inputIds));
        long min = inputIds.min().item<long>(), max = inputIds.max().item<long>();
        if (min < 0 || max >= _config.VocabSize)
            throw new ArgumentException($"token id {(min < 0 ? min : max)} is outside the vocabulary [0, {_config.VocabSize}).", nameof(inputIds));
    }

    void ValidateInputs(Tensor inputsEmbeds, Tensor? attentionMask, Tensor? positionIds, KvCache? cache)
    {
        if (inputsEmbeds.dim() != 3 || inputsEmbeds.shape[2] != _config.HiddenSize || !inputsEmbeds.is_floating_point())
            throw new ArgumentException($"input embeddings must be a float tensor [batch, seq, hidden = {_config.HiddenSize}]; got {inputsEmbeds.dtype} [{string.Join(", ", inputsEmbeds.shape)}].", nameof(inputsEmbeds));
        long batch = inputsEmbeds.shape[0], length = inputsEmbeds.shape[1];
        if (batch == 0 || length == 0) throw new ArgumentException("input embeddings must hold at least one position.", nameof(inputsEmbeds));
        int past = cache?.Length ?? 0;
        if (cache is not null)
        {
            if (cache.BatchSize != batch) throw new ArgumentException($"KV cache holds {cache.BatchSize} rows but the input has {batch}.", nameof(cache));
            if (past + length > cache.Capacity)
                throw new ArgumentException($"KV cache capacity {cache.Capacity} is too small for {past} cached + {length} new positions.", nameof(cache));
        }
        if (attentionMask is not null && (attentionMask.dim() != 2 || attentionMask.shape[0] != batch || attentionMask.shape[1] != past + length))
            throw new ArgumentException($"attention mask must be [batch = {batch}, past + seq = {past + length}]; got [{string.Join(", ", attentionMask.shape)}].", nameof(attentionMask));
        if (positionIds is not null && (positionIds.dim() != 2 || positionIds.shape[0] != batch || positionIds.shape[1] != length))
            throw new ArgumentException($"position ids must be [batch = {batch}, seq = {length}]; got [{string.Join(", ", positionIds.shape)}].", nameof(positionIds));
    }
}
