using static TorchSharp.torch;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>
/// Composed weights (W' per target) of recently used plans, evicted least-recently-used first to stay within a
/// budget in bytes. A plan larger than the whole budget is composed for its request and not kept.
/// </summary>
internal sealed class ComposedWeightCache(long budgetBytes) : IDisposable
{
    readonly LinkedList<(string Key, Dictionary<string, Tensor> Weights, long Bytes)> _lru = new();
    readonly object _gate = new();

    public long BudgetBytes => budgetBytes;

    public long CachedBytes { get; private set; }

    public int Count
    {
        get { lock (_gate) return _lru.Count; }
    }

    /// <summary>The cached weights for <paramref name="key"/>, or composes them; <paramref name="owned"/> tells the caller to dispose them.</summary>
    public Dictionary<string, Tensor> GetOrCompose(string key, Func<Dictionary<string, Tensor>> compose, out bool owned)
    {
        lock (_gate)
        {
            for (var node = _lru.First; node is not null; node = node.Next)
            {
                if (node.Value.Key != key) continue;
                _lru.Remove(node);
                _lru.AddFirst(node);
                owned = false;
                return node.Value.Weights;
            }
        }
        var weights = compose();
        long bytes = weights.Values.Sum(t => t.NumberOfElements * t.ElementSize);
        if (bytes > budgetBytes)
        {
            owned = true;
            return weights;
        }
        lock (_gate)
        {
            _lru.AddFirst((key, weights, bytes));
            CachedBytes += bytes;
            while (CachedBytes > budgetBytes && _lru.Last is { } last && !ReferenceEquals(last.Value.Weights, weights))
            {
                _lru.RemoveLast();
                CachedBytes -= last.Value.Bytes;
                foreach (var t in last.Value.Weights.Values) t.Dispose();
            }
        }
        owned = false;
        return weights;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var entry in _lru)
                foreach (var t in entry.Weights.Values) t.Dispose();
            _lru.Clear();
            CachedBytes = 0;
        }
    }
}
