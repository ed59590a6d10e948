using TorchSharp;
using Transformer2.Core.Kernels;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>Grouped-query self-attention with rotary positions (HF <c>LlamaAttention</c>).</summary>
public sealed class LlamaAttention : nn.Module
{
    readonly int _layerIndex;
    readonly int _heads;
    readonly int _keyValueHeads;
    readonly int _headDim;

    /// <summary>Query projection [heads·head_dim, hidden].</summary>
    public nn.Module<Tensor, Tensor> q_proj;

    /// <summary>Key projection [kv_heads·head_dim, hidden].</summary>
    public nn.Module<Tensor, Tensor> k_proj;

    /// <summary>Value projection [kv_heads·head_dim, hidden].</summary>
    public nn.Module<Tensor, Tensor> v_proj;

    /// <summary>Output projection [hidden, heads·head_dim].</summary>
    public nn.Module<Tensor, Tensor> o_proj;

    internal LlamaAttention(LlamaConfig config, int layerIndex, ParameterFactory factory) : base(nameof(LlamaAttention))
    {
        _layerIndex = layerIndex;
        _heads = config.NumAttentionHeads;
        _keyValueHeads = config.NumKeyValueHeads;
        _headDim = config.HeadDim;
        q_proj = factory.Linear(config.HiddenSize, _heads * _headDim);
        k_proj = factory.Linear(config.HiddenSize, _keyValueHeads * _headDim);
        v_proj = factory.Linear(config.HiddenSize, _keyValueHeads * _headDim);
        o_proj = factory.Linear(_heads * _headDim, config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>
    /// Attends <paramref name="hidden"/> [B, T, hidden] to itself and the cached past.
    /// <paramref name="mask"/> is additive [B, 1, T, S] or <see langword="null"/> with <paramref name="causal"/> for a plain causal mask.
    /// </summary>
    internal Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, Tensor? mask, bool causal, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        // [B, T, H·D] → [B, T, H, D] → [B, H, T, D]
        var query = DecodeGemv.Call(q_proj, hidden).view(batch, length, _heads, _headDim).transpose(1, 2);
        var key = DecodeGemv.Call(k_proj, hidden).view(batch, length, _keyValueHeads, _headDim).transpose(1, 2);
        var value = DecodeGemv.Call(v_proj, hidden).view(batch, length, _keyValueHeads, _headDim).transpose(1, 2);
        query = RotaryEmbedding.Apply(query, cos, sin);
        key = RotaryEmbedding.Apply(key, cos, sin);
        if (cache is not null) (key, value) = cache.Append(_layerIndex, key, value); // [B, KV, S, D]
        var attended = causal || _heads == _keyValueHeads
            ? nn.functional.scaled_dot_product_attention(query, RepeatKeyValue(key), RepeatKeyValue(value), mask, 0.0, causal)
            : GroupedAttention(query, key, value, mask); // [B, H, T, D]
        // [B, H, T, D] → [B, T, H, D] → [B, T, H·D]
        var merged = attended.transpose(1, 2).reshape(batch, length, _heads * _headDim);
        return DecodeGemv.Call(o_proj, merged).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Attention of grouped queries against the un-repeated keys and values: the G query heads that share a key/value
    /// head are stacked along the time axis, so no [B, H, S, D] copy of the cache is made (decode reads the cache once
    /// instead of G times). Needs an explicit (or no) mask: SDPA's causal flag would see G·T rows.
    /// </summary>
    Tensor GroupedAttention(Tensor query, Tensor key, Tensor value, Tensor? mask)
    {
        int groups = _heads / _keyValueHeads;
        long batch = query.shape[0], length = query.shape[2];
        // [B, H, T, D] → [B, KV, G·T, D]: head h = kv·G + g, as RepeatKeyValue pairs them
        var stacked = query.reshape(batch, _keyValueHeads, groups * length, _headDim);
        // [B or 1, 1, T, S] → [B or 1, 1, G·T, S]: row g·T + t masks like row t
        var groupedMask = mask?.repeat(1, 1, groups, 1);
        var attended = nn.functional.scaled_dot_product_attention(stacked, key, value, groupedMask, 0.0, false);
        // [B, KV, G·T, D] → [B, H, T, D]
        return attended.view(batch, _heads, length, _headDim);
    }

    /// <summary>[B, KV, S, D] → [B, H, S, D]: each key/value head serves <c>H / KV</c> query heads.</summary>
    Tensor RepeatKeyValue(Tensor x)
    {
        int groups = _heads / _keyValueHeads;
        if (groups == 1) return x;
        long batch = x.shape[0], length = x.shape[2];
        // [B, KV, 1, S, D] → [B, KV, G, S, D] → [B, H, S, D]
        return x.unsqueeze(2).expand(batch, _keyValueHeads, groups, length, _headDim).reshape(batch, _heads, length, _headDim);
    }
}
