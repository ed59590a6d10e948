namespace Transformer2.Adaptation.Search;

/// <summary>How well one candidate of mixing weights did on the few-shot items.</summary>
/// <param name="Score">The task's aggregate metric (accuracy or pass@1) on the items; higher is better.</param>
/// <param name="MeanLogLikelihood">
/// The mean, over correctly answered items, of each answer's mean per-token log-probability; 0 when none was correct.
/// Used only to break ties between equal scores.
/// </param>
public readonly record struct CandidateFitness(double Score, double MeanLogLikelihood = 0);
