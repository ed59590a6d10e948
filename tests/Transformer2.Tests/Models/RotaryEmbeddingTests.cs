using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

public class RotaryEmbeddingTests
{
    [Test]
    public void Llama3ScalingMatchesDirectFormula()
    {
        // Llama-3.1-8B: head_dim 128, theta 500000, factor 8, low 1, high 4, original 8192.
        var frequencies = RotaryEmbedding.InverseFrequencies(128, 500000, RopeScaling.Llama3(8, 1, 4, 8192));
        int kept = 0, divided = 0, blended = 0;
        for (int i = 0; i < 64; i++)
        {
            double baseFrequency = Math.Pow(500000, -(2.0 * i) / 128);
            double wavelength = 2 * Math.PI / baseFrequency;
            double expected;
            if (wavelength < 8192 / 4.0) { expected = baseFrequency; kept++; }
            else if (wavelength > 8192 / 1.0) { expected = baseFrequency / 8; divided++; }
            else
            {
                double smooth = (8192 / wavelength - 1) / (4 - 1);
                expected = (1 - smooth) * baseFrequency / 8 + smooth * baseFrequency;
                blended++;
            }
            Assert.That(frequencies[i], Is.EqualTo(expected).Within(1e-5).Percent, $"frequency {i}");
        }
        // All three regimes must be exercised for the test to mean anything.
        Assert.That(new[] { kept, divided, blended }, Is.All.GreaterThan(0));
        Assert.That(frequencies[0], Is.EqualTo(1f));
        Assert.That(frequencies[63], Is.EqualTo(Math.Pow(500000, -126.0 / 128) / 8).Within(1e-5).Percent);
    }

    [Test]
    public void LinearScalingDividesEveryFrequency()
    {
        var plain = RotaryEmbedding.InverseFrequencies(16, 10000, null);
        var scaled = RotaryEmbedding.InverseFrequencies(16, 10000, RopeScaling.Linear(4));
        for (int i = 0; i < plain.Length; i++) Assert.That(scaled[i], Is.EqualTo(plain[i] / 4).Within(1e-6).Percent);
    }

    [Test]
    public void ApplyRotatesHalvesByPositionAngle()
    {
        var config = TinyModels.Llama(scaling: RopeScaling.Linear(1)) with { RopeScaling = null, HeadDim = 4, NumAttentionHeads = 16, NumKeyValueHeads = 4 };
        var rotary = new RotaryEmbedding(config);
        using var positions = tensor(new long[] { 0, 3 }).view(1, 2);
        var (cos, sin) = rotary.Compute(positions, ScalarType.Float32);
        using var _ = cos; using var __ = sin;
        using var x = tensor(new float[] { 1, 2, 3, 4, 1, 2, 3, 4 }).view(1, 1, 2, 4); // [B, H, T, D]
        using var rotated = RotaryEmbedding.Apply(x, cos, sin);
        var values = rotated.data<float>().ToArray();
        Assert.That(values.Take(4), Is.EqualTo(new float[] { 1, 2, 3, 4 }).Within(1e-6), "position 0 is not rotated");
        // Pair (x0, x2) rotates by 3·f0 and pair (x1, x3) by 3·f1, f_i = 1 / theta^(2i/4).
        double f0 = 1, f1 = 1 / Math.Sqrt(500000);
        double[] expected =
        [
            1 * Math.Cos(3 * f0) - 3 * Math.Sin(3 * f0),
            2 * Math.Cos(3 * f1) - 4 * Math.Sin(3 * f1),
            3 * Math.Cos(3 * f0) + 1 * Math.Sin(3 * f0),
            4 * Math.Cos(3 * f1) + 2 * Math.Sin(3 * f1),
        ];
        Assert.That(values.Skip(4).Select(v => (double)v), Is.EqualTo(expected).Within(1e-5));
    }
}
