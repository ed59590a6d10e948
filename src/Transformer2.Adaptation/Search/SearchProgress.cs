namespace Transformer2.Adaptation.Search;

/// <summary>Reported after each generation of a search.</summary>
/// <param name="Generation">1-based generation just finished.</param>
/// <param name="Generations">Total generations.</param>
/// <param name="BestScore">Score of the best candidate so far.</param>
/// <param name="GenerationMeanScore">Mean score of this generation's population.</param>
/// <param name="MeanStd">Mean standard deviation of the sampling distribution (CEM), or 0.</param>
public sealed record SearchProgress(int Generation, int Generations, double BestScore, double GenerationMeanScore, double MeanStd);
