namespace Transformer2.Adaptation.Search;

/// <summary>Orders candidates best first: by score, then (optionally) by log-likelihood, then by index.</summary>
internal static class Ranking
{
    public static int[] Order(IReadOnlyList<CandidateFitness> scores, bool useLogLikelihoodForTies) =>
        Enumerable.Range(0, scores.Count)
            .OrderByDescending(i => scores[i].Score)
            .ThenByDescending(i => useLogLikelihoodForTies ? scores[i].MeanLogLikelihood : 0)
            .ThenBy(i => i)
            .ToArray();
}
