using static TorchSharp.torch;

namespace Transformer2.Core.Svf;

/// <summary>
/// Materialises mixtures of K experts by blending cached per-expert compositions instead of recomposing.
/// </summary>
/// <remarks>
/// Before its scalar normalisation W' is linear in z: with Aₖ = U·diag(S⊙zₖ)·Vᵀ and tₖ = Σ(S⊙zₖ),
/// the mixture z' = Σ αₖzₖ gives W' = (Σ αₖAₖ)·ΣS / (Σ αₖtₖ), exactly the direct composition. A candidate then costs
/// K scaled additions of an m×n matrix instead of an m×k×n product, which is what makes CEM over mixing weights cheap.
/// The price is memory: K dense matrices per target, in the model's dtype (<see cref="CachedBytes"/>).
/// </remarks>
public sealed class SvfBlendCache : IDisposable
{
    readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    // Compositions stacked as [K, m·n]: a blend is then one [1, K]·[K, m·n] product, a single pass over the cache.
    sealed record Entry(Tensor Stacked, long[] Shape, double[] SingularValueSums, double TotalSingularValues);

    /// <summary>Precomputes Aₖ and tₖ for every target in <paramref name="basis"/>.</summary>
    /// <param name="layers">The SVF layers by target name (their factors are used).</param>
    /// <param name="basis">Each expert's zₖ per target, as <see cref="SvfMixer.MixingBasis"/> returns.</param>
    /// <param name="cancellationToken">Stops between matrices.</param>
    public SvfBlendCache(IReadOnlyDictionary<string, SvfLinear> layers, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> basis, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(basis);
        if (basis.Count == 0) throw new ArgumentException("Blending needs at least one expert.", nameof(basis));
        ExpertCount = basis.Count;
        try
        {
            foreach (var target in basis[0].Keys)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!layers.TryGetValue(target, out var layer))
                    throw new ArgumentException($"No SVF layer for target '{target}'.", nameof(layers));
                var compositions = new Tensor[basis.Count];
                var sums = new double[basis.Count];
                using (no_grad())
                {
                    for (int k = 0; k < basis.Count; k++)
                    {
                        if (!basis[k].TryGetValue(target, out var z))
                            throw new ArgumentException($"Expert {k} has no vector for target '{target}'.", nameof(basis));
                        (compositions[k], sums[k]) = SvfComposer.ComposeUnnormalised(layer.U, layer.S, layer.V, z, layer.DType);
                    }
                }
                double total = layer.S.sum().to_type(ScalarType.Float64).item<double>();
                Tensor stacked;
                using (no_grad()) stacked = stack(compositions.Select(c => c.flatten()).ToArray()).DetachFromDisposeScope();   // [K, m·n]
                foreach (var c in compositions) c.Dispose();
                _entries[target] = new Entry(stacked, [layer.OutFeatures, layer.InFeatures], sums, total);
                CachedBytes += stacked.NumberOfElements * stacked.ElementSize;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Number of experts K.</summary>
    public int ExpertCount { get; }

    /// <summary>Bytes held by the cached compositions.</summary>
    public long CachedBytes { get; private set; }

    /// <summary>Targets the cache covers.</summary>
    public IEnumerable<string> Targets => _entries.Keys;

    /// <summary>The blended W' of <paramref name="target"/> for mixing weights <paramref name="alphas"/> (one per expert), in a new tensor.</summary>
    public Tensor Blend(string target, ReadOnlySpan<double> alphas)
    {
        var entry = Find(target, alphas.Length);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var result = empty(entry.Shape, entry.Stacked.dtype, entry.Stacked.device);
        Write(entry, Coefficients(target, entry, alphas), result);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Writes the blended W' of <paramref name="target"/> into <paramref name="destination"/> (contiguous, the weight's
    /// shape, dtype and device), allocating nothing of its size: at 4096² a fresh 64 MB output per candidate costs page
    /// faults that rival the blend itself.
    /// </summary>
    public void BlendInto(string target, ReadOnlySpan<double> alphas, Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var entry = Find(target, alphas.Length);
        if (!destination.shape.SequenceEqual(entry.Shape) || destination.dtype != entry.Stacked.dtype
            || destination.device.ToString() != entry.Stacked.device.ToString() || !destination.is_contiguous())
            throw new ArgumentException($"'{target}': the destination must be a contiguous {entry.Stacked.dtype} [{string.Join(", ", entry.Shape)}] " +
                $"on {entry.Stacked.device}; got {destination.dtype} [{string.Join(", ", destination.shape)}] on {destination.device}.", nameof(destination));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Write(entry, Coefficients(target, entry, alphas), destination);
    }

    /// <summary>Blends every target straight into its layer's weight (the base weight is kept, as by <see cref="SvfLinear.MergeComposed"/>).</summary>
    public void MergeInto(IReadOnlyDictionary<string, SvfLinear> layers, MixtureWeights weights)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(weights);
        foreach (var target in _entries.Keys)
        {
            if (!layers.TryGetValue(target, out var layer)) throw new ArgumentException($"No SVF layer for target '{target}'.", nameof(layers));
            var alphas = weights.For(target);
            layer.MergeInPlace(w => BlendInto(target, alphas, w));   // a failed blend restores the base weight
        }
    }

    Entry Find(string target, int weightCount)
    {
        if (!_entries.TryGetValue(target, out var entry)) throw new KeyNotFoundException($"The blend cache has no target '{target}'.");
        if (weightCount != ExpertCount) throw new ArgumentException($"{weightCount} weights for {ExpertCount} experts.", "alphas");
        return entry;
    }

    // αₖ·c with c = ΣS / Σ αₖtₖ, the normalisation of the direct composition.
    static double[] Coefficients(string target, Entry entry, ReadOnlySpan<double> alphas)
    {
        double denominator = 0;
        for (int k = 0; k < alphas.Length; k++) denominator += alphas[k] * entry.SingularValueSums[k];
        if (Math.Abs(denominator) < 1e-30)
            throw new ArgumentException($"Mixing weights make Σ(S⊙z') zero on '{target}'; the normalisation is undefined.", nameof(alphas));
        double c = entry.TotalSingularValues / denominator;
        var coefficients = new double[alphas.Length];
        for (int k = 0; k < alphas.Length; k++) coefficients[k] = alphas[k] * c;
        return coefficients;
    }

    static void Write(Entry entry, double[] coefficients, Tensor destination)
    {
        var flat = destination.view(1, -1);                                        // [m, n] → [1, m·n], no copy
        if (entry.Stacked.dtype == ScalarType.Float32 || entry.Stacked.dtype == ScalarType.Float64)
        {
            // One [1, K]·[K, m·n] product written in place (β = 0 ignores what was there): a single pass over the cache.
            var row = tensor(coefficients, new long[] { 1, coefficients.Length }).to(entry.Stacked.dtype, entry.Stacked.device);
            flat.addmm_(row, entry.Stacked, beta: 0, alpha: 1);
        }
        else
        {
            // bf16/fp16: libtorch's reduced-precision GEMM with K rows is slow on CPU; scaled additions are not.
            flat[0].copy_(entry.Stacked[0]).mul_(coefficients[0]);
            for (int k = 1; k < coefficients.Length; k++) flat[0].add_(entry.Stacked[k], coefficients[k]);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var entry in _entries.Values)
        {
            entry.Stacked.Dispose();
        }
        _entries.Clear();
        CachedBytes = 0;
    }
}
