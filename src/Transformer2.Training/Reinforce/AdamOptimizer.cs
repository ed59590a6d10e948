using static TorchSharp.torch;

namespace Transformer2.Training.Reinforce;

/// <summary>
/// Adam with the exact update of <c>torch.optim.Adam</c> (no weight decay, no amsgrad), written out so that its state
/// (step, first and second moments) can be saved and restored bit for bit: resuming gives the same trajectory.
/// A non-zero weight decay makes it <c>torch.optim.AdamW</c> (decoupled decay p ← p·(1 − lr·λ) before the Adam step).
/// </summary>
internal sealed class AdamOptimizer : IDisposable
{
    readonly IReadOnlyList<Tensor> _parameters;
    readonly Tensor[] _m;
    readonly Tensor[] _v;

    public AdamOptimizer(IReadOnlyList<Tensor> parameters, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0)
    {
        WeightDecay = weightDecay;
        _parameters = parameters;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        _m = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _v = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
    }

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    public double WeightDecay { get; }
    public long Step { get; private set; }

    public IReadOnlyList<Tensor> FirstMoments => _m;
    public IReadOnlyList<Tensor> SecondMoments => _v;

    /// <summary>One update with learning rate <paramref name="learningRate"/> from the parameters' current gradients.</summary>
    public void Update(double learningRate)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Step++;
        double bias1 = 1 - Math.Pow(Beta1, Step);
        double bias2 = 1 - Math.Pow(Beta2, Step);
        for (int i = 0; i < _parameters.Count; i++)
        {
            var g = _parameters[i].grad;
            if (g is null) continue;
            if (WeightDecay != 0) _parameters[i].mul_(1 - learningRate * WeightDecay);
            _m[i].mul_(Beta1).add_(g, alpha: 1 - Beta1);
            _v[i].mul_(Beta2).addcmul_(g, g, value: 1 - Beta2);
            var denominator = (_v[i].sqrt() / Math.Sqrt(bias2)).add_(Epsilon);
            _parameters[i].addcdiv_(_m[i], denominator, value: -learningRate / bias1);
        }
    }

    /// <summary>Restores a saved state.</summary>
    public void Restore(long step, IReadOnlyList<Tensor> firstMoments, IReadOnlyList<Tensor> secondMoments)
    {
        if (firstMoments.Count != _m.Length || secondMoments.Count != _v.Length)
            throw new ArgumentException($"Optimizer state has {firstMoments.Count}/{secondMoments.Count} moments for {_m.Length} parameters.");
        using var noGrad = no_grad();
        for (int i = 0; i < _m.Length; i++)
        {
            _m[i].copy_(firstMoments[i]);
            _v[i].copy_(secondMoments[i]);
        }
        Step = step;
    }

    public void Dispose()
    {
        foreach (var t in _m.Concat(_v)) t.Dispose();
    }
}
