namespace Transformer2.Models.Llama;

/// <summary>
/// How rotary position frequencies are stretched beyond the pre-training context (<c>rope_scaling</c> in <c>config.json</c>).
/// </summary>
/// <param name="Type">The scaling kind: <c>llama3</c> or <c>linear</c> (see <see cref="Llama3"/> and <see cref="Linear"/>).</param>
/// <param name="Factor">How many times the context was stretched.</param>
/// <param name="LowFreqFactor">llama3 only: wavelengths above <c>original / low_freq_factor</c> are divided by <paramref name="Factor"/>.</param>
/// <param name="HighFreqFactor">llama3 only: wavelengths below <c>original / high_freq_factor</c> are kept as they are.</param>
/// <param name="OriginalMaxPositionEmbeddings">llama3 only: the context length the model was pre-trained with.</param>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192)
{
    /// <summary>The <c>rope_type</c> of Llama 3.1 and later: frequency-dependent stretching.</summary>
    public const string Llama3Type = "llama3";

    /// <summary>The <c>rope_type</c> that divides every position by the factor.</summary>
    public const string LinearType = "linear";

    /// <summary>Llama-3 style scaling.</summary>
    public static RopeScaling Llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) =>
        new(Llama3Type, factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings);

    /// <summary>Linear (position interpolation) scaling.</summary>
    public static RopeScaling Linear(double factor) => new(LinearType, factor);
}
