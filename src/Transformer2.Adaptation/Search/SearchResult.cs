namespace Transformer2.Adaptation.Search;

/// <summary>Outcome of a few-shot search.</summary>
/// <param name="Best">The best candidate found (the coordinates the search optimised).</param>
/// <param name="BestFitness">Its fitness at its last evaluation.</param>
/// <param name="History">One entry per generation.</param>
/// <param name="Evaluations">Number of fitness evaluations made.</param>
public sealed record SearchResult(IReadOnlyList<double> Best, CandidateFitness BestFitness, IReadOnlyList<SearchProgress> History, int Evaluations);
