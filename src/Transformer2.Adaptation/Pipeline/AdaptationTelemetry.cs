using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>The <see cref="ActivitySource"/> and <see cref="Meter"/> of the adaptation pipeline, both named after the package.</summary>
public static class AdaptationTelemetry
{
    /// <summary>Name of the activity source and the meter: <c>Transformer2.Adaptation</c>.</summary>
    public const string Name = "Transformer2.Adaptation";

    /// <summary>Traces each request, with child activities for the two passes.</summary>
    public static readonly ActivitySource ActivitySource = new(Name);

    internal static readonly Meter Meter = new(Name);

    internal static readonly Counter<long> Requests = Meter.CreateCounter<long>("transformer2.requests", description: "Two-pass requests answered, tagged by strategy and label.");

    internal static readonly Histogram<double> FirstPassSeconds = Meter.CreateHistogram<double>("transformer2.first_pass.duration", "s", "Time of the first (dispatch) pass.");

    internal static readonly Histogram<double> SecondPassSeconds = Meter.CreateHistogram<double>("transformer2.second_pass.duration", "s", "Time of the second (answer) pass.");

    internal static readonly Counter<long> GeneratedTokens = Meter.CreateCounter<long>("transformer2.tokens.generated", description: "Tokens generated in second passes.");
}
