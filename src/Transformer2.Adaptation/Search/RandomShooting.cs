namespace Transformer2.Adaptation.Search;

/// <summary>
/// Random shooting: each generation draws uniform candidates in the box (slot 0 re-evaluates the best so far) and
/// keeps the best, blended with the previous best by <see cref="SearchOptions.Ema"/> (t2-reference §3.3).
/// </summary>
public sealed class RandomShooting
{
    readonly SearchOptions _options;

    /// <summary>Creates the optimiser; the options are validated here.</summary>
    public RandomShooting(SearchOptions? options = null)
    {
        _options = options ?? new SearchOptions { UseLogLikelihoodForTies = false };
        _options.Validate();
    }

    /// <summary>Maximises <paramref name="fitness"/> starting from <paramref name="initial"/>.</summary>
    public async Task<SearchResult> SearchAsync(IReadOnlyList<double> initial, FitnessFunction fitness,
        IProgress<SearchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(initial);
        ArgumentNullException.ThrowIfNull(fitness);
        if (initial.Count == 0) throw new ArgumentException("The search needs at least one coordinate.", nameof(initial));
        var random = new Random(_options.Seed);
        double[] best = initial.Select(x => Math.Clamp(x, _options.Minimum, _options.Maximum)).ToArray();
        CandidateFitness bestFitness = new(double.NegativeInfinity);
        var history = new List<SearchProgress>();
        int evaluations = 0;
        for (int generation = 1; generation <= _options.Generations; generation++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var population = new double[_options.PopulationSize][];
            for (int i = 0; i < population.Length; i++)
                population[i] = best.Select(_ => _options.Minimum + (_options.Maximum - _options.Minimum) * random.NextDouble()).ToArray();
            if (_options.ReEvaluateBest) population[0] = best.ToArray();
            var scores = new CandidateFitness[population.Length];
            for (int i = 0; i < population.Length; i++)
            {
                scores[i] = await fitness(population[i], cancellationToken).ConfigureAwait(false);
                evaluations++;
            }
            int top = Ranking.Order(scores, _options.UseLogLikelihoodForTies)[0];
            best = population[top].Select((x, j) => (1 - _options.Ema) * x + _options.Ema * best[j]).ToArray();
            bestFitness = scores[top];
            var report = new SearchProgress(generation, _options.Generations, bestFitness.Score, scores.Average(s => s.Score), 0);
            history.Add(report);
            progress?.Report(report);
        }
        return new SearchResult(best, bestFitness, history, evaluations);
    }
}
