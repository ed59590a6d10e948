using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>
/// Creates the parameters of a model in one dtype and on one device, either random (HF's initialisation: normal(0, 0.02), norms 1)
/// or uninitialised storage that a loader overwrites; on the <c>meta</c> device nothing is allocated at all.
/// </summary>
internal sealed class ParameterFactory(ScalarType dtype, Device device, bool initialize)
{
    const double InitializerRange = 0.02;

    public ScalarType DType => dtype;

    public Device Device => device;

    public Parameter Matrix(long rows, long columns)
    {
        var data = empty([rows, columns], dtype, device);
        if (initialize && device.type != DeviceType.META)
            using (no_grad()) data.normal_(0, InitializerRange);
        return new Parameter(data, requires_grad: true);
    }

    public Parameter Ones(long length)
    {
        var data = empty([length], dtype, device);
        if (initialize && device.type != DeviceType.META)
            using (no_grad()) data.fill_(1);
        return new Parameter(data, requires_grad: true);
    }

    /// <summary>A tensor of any shape drawn from normal(0, 0.02) (uninitialised when loading).</summary>
    public Parameter Normal(params long[] shape)
    {
        var data = empty(shape, dtype, device);
        if (initialize && device.type != DeviceType.META)
            using (no_grad()) data.normal_(0, InitializerRange);
        return new Parameter(data, requires_grad: true);
    }

    public Parameter Zeros(long length)
    {
        var data = empty([length], dtype, device);
        if (initialize && device.type != DeviceType.META)
            using (no_grad()) data.zero_();
        return new Parameter(data, requires_grad: true);
    }

    /// <summary>A projection <c>y = x Wᵀ + b</c> with a bias (zero-initialised), typed as the base module so it can be swapped.</summary>
    public nn.Module<Tensor, Tensor> LinearWithBias(long inFeatures, long outFeatures) => nn.Linear(Matrix(outFeatures, inFeatures), Zeros(outFeatures));

    /// <summary>A bias-free projection <c>y = x Wᵀ</c> with <c>W</c> of shape [outFeatures, inFeatures], typed as the base module so it can be swapped.</summary>
    public nn.Module<Tensor, Tensor> Linear(long inFeatures, long outFeatures) => nn.Linear(Matrix(outFeatures, inFeatures));

    /// <summary>A projection that shares <paramref name="weight"/> (tied embeddings).</summary>
    public static nn.Module<Tensor, Tensor> LinearSharing(Parameter weight) => nn.Linear(weight);
}
