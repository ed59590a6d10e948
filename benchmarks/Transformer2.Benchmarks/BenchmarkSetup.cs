using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using TorchSharp;
using Transformer2.Core;
using static TorchSharp.torch;

namespace Transformer2.Benchmarks;

/// <summary>Shared set-up: native library, thread count, and random tensors that look like SVD factors.</summary>
public static class BenchmarkSetup
{
    /// <summary>Call first in every [GlobalSetup]: BenchmarkDotNet's child process skips our build targets.</summary>
    public static void Initialize()
    {
        TorchRuntime.Initialize();
        torch.set_num_threads(Environment.ProcessorCount);
    }

    /// <summary>Random U [m, k], S [k], V [n, k] and z [k] with k = min(m, n). Timing does not depend on orthogonality.</summary>
    public static (Tensor U, Tensor S, Tensor V, Tensor Z) Factors(long m, long n, ScalarType dtype, int seed = 0)
    {
        var g = new Generator((ulong)seed + 1);
        long k = Math.Min(m, n);
        var u = (randn(new[] { m, k }, generator: g) / Math.Sqrt(m)).to_type(dtype).DetachFromDisposeScope();
        var s = rand(new[] { k }, generator: g).add(0.1).DetachFromDisposeScope();
        var v = (randn(new[] { n, k }, generator: g) / Math.Sqrt(n)).to_type(dtype).DetachFromDisposeScope();
        var z = rand(new[] { k }, generator: g).DetachFromDisposeScope();
        return (u, s, v, z);
    }

    /// <summary>Parses "MxN".</summary>
    public static (long M, long N) Shape(string shape)
    {
        var parts = shape.Split('x');
        return (long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>Few, long iterations: single operations here take from milliseconds to seconds.</summary>
public class HeavyOperationConfig : ManualConfig
{
    public HeavyOperationConfig() : this(warmups: 1, iterations: 5)
    {
    }

    protected HeavyOperationConfig(int warmups, int iterations)
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(warmups).WithIterationCount(iterations).WithInvocationCount(1).WithUnrollFactor(1));
        WithOption(ConfigOptions.DisableOptimizationsValidator, false);
        // The generated project copies ~1 GB of libtorch; on a busy 2-core machine that outlasts the default 2 minutes.
        WithBuildTimeout(TimeSpan.FromMinutes(15));
    }
}

/// <summary>
/// For the batch-1 decode comparison: each invocation is short (8 tokens, 0.1–0.6 s), so more warm-up and measured
/// iterations. With one warm-up the managed kernels could still be running tier-0 or OSR code during the measurement
/// (a single-thread check measured a tier-0 int8 product 4× slower than its tier-1 code).
/// </summary>
public sealed class DecodeComparisonConfig : HeavyOperationConfig
{
    public DecodeComparisonConfig() : base(warmups: 5, iterations: 10)
    {
    }
}
