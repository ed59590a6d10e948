using TorchSharp;
using Transformer2.Core;
using static TorchSharp.torch;

namespace Transformer2.Models.Llama;

/// <summary>
/// Rotary position embeddings in the rotate-half layout of Hugging Face checkpoints, with <c>llama3</c> and <c>linear</c> scaling.
/// Holds no parameters, so it adds nothing to the state dict.
/// </summary>
public sealed class RotaryEmbedding
{
    readonly float[] _inverseFrequencies;
    readonly Dictionary<string, Tensor> _onDevice = new(StringComparer.Ordinal);

    /// <summary>Builds the frequencies for <paramref name="config"/>.</summary>
    public RotaryEmbedding(LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        _inverseFrequencies = InverseFrequencies(config.HeadDim, config.RopeTheta, config.RopeScaling);
    }

    /// <summary>The per-pair angular frequencies (length head_dim / 2) after scaling.</summary>
    public IReadOnlyList<float> Frequencies => _inverseFrequencies;

    /// <summary>
    /// <c>1 / theta^(2i / dim)</c>, then scaled: <c>linear</c> divides all by the factor; <c>llama3</c> divides long wavelengths by the
    /// factor, keeps short ones and blends smoothly in between (Meta's Llama 3.1 reference).
    /// </summary>
    public static float[] InverseFrequencies(int headDim, double theta, RopeScaling? scaling)
    {
        var result = new float[headDim / 2];
        for (int i = 0; i < result.Length; i++)
        {
            // float32 like torch's arange(...).float() / dim, so base frequencies match HF bit for bit
            float exponent = (float)(2 * i) / headDim;
            double frequency = 1.0 / Math.Pow(theta, exponent);
            result[i] = (float)Scale(frequency, scaling);
        }
        return result;
    }

    static double Scale(double frequency, RopeScaling? scaling)
    {
        if (scaling is null) return frequency;
        if (scaling.Type == RopeScaling.LinearType) return frequency / scaling.Factor;
        double lowFreqWavelength = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
        double highFreqWavelength = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
        double wavelength = 2 * Math.PI / frequency;
        if (wavelength < highFreqWavelength) return frequency;
        if (wavelength > lowFreqWavelength) return frequency / scaling.Factor;
        double smooth = (scaling.OriginalMaxPositionEmbeddings / wavelength - scaling.LowFreqFactor) / (scaling.HighFreqFactor - scaling.LowFreqFactor);
        return (1 - smooth) * frequency / scaling.Factor + smooth * frequency;
    }

    /// <summary>Cosines and sines for <paramref name="positionIds"/> [batch, seq], each [batch, seq, head_dim], in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Compute(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var frequencies = FrequenciesOn(positionIds.device);
        // [B, T, 1] · [D/2] → [B, T, D/2]; float32 like HF's autocast-disabled block
        var angles = positionIds.to_type(ScalarType.Float32).unsqueeze(-1) * frequencies;
        var doubled = cat([angles, angles], -1); // [B, T, D]
        var cos = doubled.cos().to_type(dtype).MoveToOuterDisposeScope();
        var sin = doubled.sin().to_type(dtype).MoveToOuterDisposeScope();
        return (cos, sin);
    }

    // Kept per device so a decode step does not copy the managed array into a new tensor (one per model, never freed
    // before the model: a few hundred bytes).
    Tensor FrequenciesOn(Device device)
    {
        lock (_onDevice)
        {
            string key = device.ToString();
            if (!_onDevice.TryGetValue(key, out var cached))
            {
                cached = tensor(_inverseFrequencies, device: device).DetachFromDisposeScope();
                _onDevice[key] = cached;
            }
            return cached;
        }
    }

    /// <summary>Rotates <paramref name="x"/> [batch, heads, seq, head_dim] by the angles in <paramref name="cos"/>/<paramref name="sin"/> [batch, seq, head_dim].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var first = x.narrow(-1, 0, half);
        var second = x.narrow(-1, half, half);
        var rotated = cat([second.neg(), first], -1); // rotate_half: [-x2, x1]
        return KeptScalars.Add(x * cos.unsqueeze(1), rotated * sin.unsqueeze(1)).MoveToOuterDisposeScope();
    }
}
