using Transformer2.Core.Svf;

namespace Transformer2.Core.Experts;

/// <summary>Everything an expert file says about its vectors besides the numbers themselves.</summary>
public sealed record ExpertMetadata
{
    /// <summary>The expert's name, for example <c>math</c> or <c>code</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Identity of the base model the vectors were trained on (for example a hub id plus revision); empty if unknown.</summary>
    public string BaseModelIdentity { get; init; } = "";

    /// <summary>Fingerprint of the base model's target weights (see <c>DecompositionCache</c>); <c>null</c> if unknown.</summary>
    public string? WeightsFingerprint { get; init; }

    /// <summary>The adapted parameter names, in the expert's vector order. <see cref="Expert"/> fills this from its vectors.</summary>
    public IReadOnlyList<string> Targets { get; init; } = [];

    /// <summary>How the vectors map to multipliers.</summary>
    public SvfParameterization Parameterization { get; init; } = SvfParameterization.Default;

    /// <summary>Free-form training provenance, for example task, iterations, seed, date.</summary>
    public IReadOnlyDictionary<string, string> Provenance { get; init; } = new Dictionary<string, string>();

    /// <summary>Evaluation scores by name, for example <c>gsm8k.test.accuracy</c>.</summary>
    public IReadOnlyDictionary<string, double> Scores { get; init; } = new Dictionary<string, double>();
}
