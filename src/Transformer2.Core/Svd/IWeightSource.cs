using TorchSharp;

namespace Transformer2.Core.Svd;

/// <summary>Named weights that can be loaded one at a time, so a whole model never has to be materialised twice.</summary>
public interface IWeightSource
{
    /// <summary>All parameter names, in the model's order.</summary>
    IReadOnlyList<string> Names { get; }

    /// <summary>The shape of parameter <paramref name="name"/>, without loading it.</summary>
    /// <param name="name">A name from <see cref="Names"/>.</param>
    long[] Shape(string name);

    /// <summary>Loads parameter <paramref name="name"/>. The caller owns the result and disposes it (sources that hold the weight in memory return a detached alias).</summary>
    /// <param name="name">A name from <see cref="Names"/>.</param>
    torch.Tensor Load(string name);
}
