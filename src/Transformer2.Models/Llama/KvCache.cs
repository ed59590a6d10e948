using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>
/// Preallocated keys and values of every layer for incremental decoding: each step writes its new positions in place,
/// so decoding n tokens costs O(n) copies, not the O(n²) of concatenating.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] _keys;
    readonly Tensor[] _values;

    /// <summary>Allocates room for <paramref name="capacity"/> positions of <paramref name="batchSize"/> rows.</summary>
    public KvCache(LlamaConfig config, int batchSize, int capacity, ScalarType dtype, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        BatchSize = batchSize;
        Capacity = capacity;
        _keys = new Tensor[config.NumHiddenLayers];
        _values = new Tensor[config.NumHiddenLayers];
        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            // [B, kv_heads, capacity, head_dim]
            _keys[layer] = zeros([batchSize, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device);
            _values[layer] = zeros([batchSize, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device);
        }
    }

    /// <summary>Rows in the batch.</summary>
    public int BatchSize { get; }

    /// <summary>Positions the cache can hold.</summary>
    public int Capacity { get; }

    /// <summary>Positions already written (the next step writes from here).</summary>
    public int Length { get; private set; }

    /// <summary>
    /// Writes <paramref name="keys"/> and <paramref name="values"/> [B, kv_heads, T, head_dim] of <paramref name="layer"/> at
    /// positions [Length, Length + T) and returns views of everything written so far, [B, kv_heads, Length + T, head_dim].
    /// </summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        long newTokens = keys.shape[2];
        if (Length + newTokens > Capacity)
            throw new InvalidOperationException($"KV cache is full: {Length} + {newTokens} positions exceed its capacity of {Capacity}.");
        using (no_grad())
        {
            _keys[layer].narrow(2, Length, newTokens).copy_(keys);
            _values[layer].narrow(2, Length, newTokens).copy_(values);
        }
        long total = Length + newTokens;
        return (_keys[layer].narrow(2, 0, total), _values[layer].narrow(2, 0, total));
    }

    /// <summary>Marks <paramref name="tokens"/> more positions as written; the model calls this after its last layer.</summary>
    internal void Advance(int tokens) => Length += tokens;

    /// <summary>Forgets every position (the storage is kept for reuse).</summary>
    public void Reset() => Length = 0;

    /// <summary>Frees the storage.</summary>
    public void Dispose()
    {
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
