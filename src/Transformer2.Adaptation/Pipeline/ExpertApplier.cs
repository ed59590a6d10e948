using Transformer2.Adaptation.Experts;
using Transformer2.Core.Svf;
using static TorchSharp.torch;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>Puts a plan into effect for the duration of a scope, factored or merged.</summary>
internal sealed class ExpertApplier : IDisposable
{
    readonly AdaptationBackbone _backbone;
    readonly ExpertRegistry _experts;
    readonly ExpertApplicationMode _mode;
    readonly MixtureSemantics _semantics;
    readonly ComposedWeightCache _composed;
    readonly SemaphoreSlim _mergedGate = new(1, 1);

    public ExpertApplier(AdaptationBackbone backbone, ExpertRegistry experts, ExpertApplicationMode mode, MixtureSemantics semantics, long mergedBudgetBytes)
    {
        _backbone = backbone;
        _experts = experts;
        _mode = mode;
        _semantics = semantics;
        _composed = new ComposedWeightCache(mergedBudgetBytes);
    }

    public ExpertApplicationMode Mode => _mode;

    public MixtureSemantics Semantics => _semantics;

    internal ComposedWeightCache ComposedCache => _composed;

    /// <summary>
    /// Waits until <paramref name="plan"/> can be put into effect and returns a lease on it. In merged mode leases that
    /// need weights are held one at a time. Call <see cref="Lease.Enter"/> in the method that runs the forwards.
    /// <paramref name="blend"/>, for merged mixtures of the experts it was built for, replaces composition by blending;
    /// <paramref name="cacheComposition"/> false composes a merged plan for this lease only (search candidates, which would
    /// otherwise push the experts' compositions out of the cache).
    /// </summary>
    public async ValueTask<Lease> AcquireAsync(AdaptationPlan plan, CancellationToken cancellationToken, SvfBlendCache? blend = null, bool cacheComposition = true)
    {
        if (_mode == ExpertApplicationMode.Factored)
        {
            // One expert: its cached multipliers, so a switch is a lookup (docs/benchmarks.md, real shapes). A mixture is
            // computed for this answer and owned by the lease.
            if (!plan.IsBase && plan.Weights is null)
                return new Lease(this, _experts.Multipliers(plan.Experts[0]), [], null, holdsGate: false, ownsMultipliers: false);
            using var scope = NewDisposeScope();
            var multipliers = Multipliers(plan);
            foreach (var t in multipliers.Values) t.DetachFromDisposeScope();
            return new Lease(this, multipliers, [], null, holdsGate: false);
        }
        await _mergedGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (plan.IsBase) return new Lease(this, new Dictionary<string, Tensor>(), [], null, holdsGate: true);
            if (blend is not null && plan.Weights is not null)
            {
                // A search candidate: blend the cached per-expert compositions straight into the weights; too
                // short-lived to cache, and no m×n temporary per target.
                var targets = blend.Targets.ToList();
                try
                {
                    blend.MergeInto(_backbone.Layers, plan.Weights);
                }
                catch
                {
                    foreach (var target in targets) _backbone.Layers[target].Unmerge();
                    throw;
                }
                return new Lease(this, new Dictionary<string, Tensor>(), targets, null, holdsGate: true);
            }
            bool owned = true;
            var weights = cacheComposition ? _composed.GetOrCompose(plan.Key, () => Compose(plan), out owned) : Compose(plan);
            foreach (var (target, w) in weights) _backbone.Layers[target].MergeComposed(w);
            return new Lease(this, new Dictionary<string, Tensor>(), weights.Keys.ToList(), owned ? weights.Values.ToList() : null, holdsGate: true);
        }
        catch
        {
            _mergedGate.Release();
            throw;
        }
    }

    /// <summary>A plan in effect; dispose it to restore the weights and let others in.</summary>
    internal sealed class Lease : IDisposable
    {
        readonly ExpertApplier _owner;
        readonly IReadOnlyDictionary<string, Tensor> _multipliers;
        readonly bool _ownsMultipliers;
        readonly IReadOnlyList<string> _mergedTargets;
        readonly IReadOnlyList<Tensor>? _owned;
        readonly bool _holdsGate;
        bool _disposed;

        internal Lease(ExpertApplier owner, IReadOnlyDictionary<string, Tensor> multipliers, IReadOnlyList<string> mergedTargets, IReadOnlyList<Tensor>? owned,
            bool holdsGate, bool ownsMultipliers = true)
        {
            _owner = owner;
            _multipliers = multipliers;
            _ownsMultipliers = ownsMultipliers;
            _mergedTargets = mergedTargets;
            _owned = owned;
            _holdsGate = holdsGate;
        }

        /// <summary>
        /// Makes the plan ambient for the calling method and the awaits that follow it (an <see cref="AsyncLocal{T}"/>
        /// set here, synchronously, so it is the caller's). In merged mode the layers are read as plain weights.
        /// </summary>
        public IDisposable Enter() => SvfContext.Use(_multipliers);

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            if (_ownsMultipliers) foreach (var t in _multipliers.Values) t.Dispose();
            foreach (var target in _mergedTargets) _owner._backbone.Layers[target].Unmerge();
            if (_owned is not null) foreach (var t in _owned) t.Dispose();
            if (_holdsGate) _owner._mergedGate.Release();
        }
    }

    /// <summary>The multiplier of every target the plan adapts (targets it does not name run their base weights).</summary>
    public Dictionary<string, Tensor> Multipliers(AdaptationPlan plan) => PlanMultipliers.Compute(plan, _experts, _semantics);

    Dictionary<string, Tensor> Compose(AdaptationPlan plan)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (target, z) in Multipliers(plan))
        {
            var layer = _backbone.Layers[target];
            result[target] = SvfComposer.Compose(layer.U, layer.S, layer.V, z, layer.DType).DetachFromDisposeScope();
        }
        return result;
    }

    public void Dispose()
    {
        _composed.Dispose();
        _mergedGate.Dispose();
    }
}
