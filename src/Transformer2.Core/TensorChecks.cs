using TorchSharp;

namespace Transformer2.Core;

/// <summary>Small validations on tensors that do not leak temporaries.</summary>
internal static class TensorChecks
{
    /// <summary>Whether every element of <paramref name="tensor"/> is finite (no NaN, no ±Inf).</summary>
    public static bool AllFinite(torch.Tensor tensor)
    {
        if (!tensor.is_floating_point() || tensor.numel() == 0) return true;
        using var scope = torch.NewDisposeScope();
        return tensor.isfinite().all().item<bool>();
    }
}
