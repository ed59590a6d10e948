namespace Transformer2.Adaptation.Search;

/// <summary>Evaluates one candidate (coordinates within the search bounds).</summary>
public delegate ValueTask<CandidateFitness> FitnessFunction(IReadOnlyList<double> candidate, CancellationToken cancellationToken);
