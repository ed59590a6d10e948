using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Core;

/// <summary>
/// Additions that never build a Scalar per call. TorchSharp's <c>a + b</c> is <c>a.add(b, 1)</c>: the implicit Scalar
/// for 1 is unreachable once its handle is read, so a garbage collection during the native call can let the finalizer
/// thread free it while libtorch still reads it (seen as "Expected false to be true … toFloat" from <c>add</c> in a
/// REINFORCE rollout). The Scalars here live for the process, so the model's forward pass (decoder residuals, rotary
/// embedding, RMSNorm, position ids, the sliding-window mask), the SVF layer's bias and top-k/top-p masking pass them
/// instead. The repetition penalty and the trainers' losses still build implicit Scalars (once per step, not per layer).
/// </summary>
internal static class KeptScalars
{
    /// <summary>The Scalar 1, never finalized.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>The Scalar 0, never finalized.</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>The Scalar −1, never finalized.</summary>
    public static readonly Scalar MinusOne = (-1).ToScalar();

    /// <summary>The Scalar −∞ (masked logits), never finalized.</summary>
    public static readonly Scalar MinusInfinity = double.NegativeInfinity.ToScalar();

    /// <summary><paramref name="left"/> + <paramref name="right"/>, element-wise.</summary>
    public static Tensor Add(Tensor left, Tensor right) => left.add(right, One);

    /// <summary><paramref name="left"/> + <paramref name="right"/> for a Scalar the caller keeps alive.</summary>
    public static Tensor Add(Tensor left, Scalar right) => left.add(right, One);
}
