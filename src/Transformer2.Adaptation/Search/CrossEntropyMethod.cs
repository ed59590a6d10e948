namespace Transformer2.Adaptation.Search;

/// <summary>
/// The cross-entropy method over a box, as the authors run it for few-shot adaptation (t2-reference §3.2).
/// </summary>
/// <remarks>
/// Each generation samples N(mean, std²) per coordinate, clamps to the bounds, optionally puts the best solution so far
/// in slot 0, evaluates everyone, keeps the best member (ties by log-likelihood), and refits mean and unbiased std to
/// the elites. One deliberate difference: the authors pick elites with <c>argpartition</c>, which breaks ties of score
/// arbitrarily; we break them by log-likelihood, then by index, so runs are reproducible.
/// </remarks>
public sealed class CrossEntropyMethod
{
    readonly SearchOptions _options;

    /// <summary>Creates the optimiser; the options are validated here.</summary>
    public CrossEntropyMethod(SearchOptions? options = null)
    {
        _options = options ?? new SearchOptions();
        _options.Validate();
    }

    /// <summary>Maximises <paramref name="fitness"/> starting from <paramref name="initial"/>.</summary>
    public async Task<SearchResult> SearchAsync(IReadOnlyList<double> initial, FitnessFunction fitness,
        IProgress<SearchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(initial);
        ArgumentNullException.ThrowIfNull(fitness);
        if (initial.Count == 0) throw new ArgumentException("The search needs at least one coordinate.", nameof(initial));
        int d = initial.Count;
        var random = new Random(_options.Seed);
        double[] mean = initial.Select(Clamp).ToArray();
        double[] std = Enumerable.Repeat(_options.InitialStd, d).ToArray();
        double[] best = mean.ToArray();
        CandidateFitness bestFitness = new(double.NegativeInfinity);
        int elites = Math.Max(1, (int)(_options.EliteRatio * _options.PopulationSize));
        var history = new List<SearchProgress>();
        int evaluations = 0;

        for (int generation = 1; generation <= _options.Generations; generation++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var population = new double[_options.PopulationSize][];
            for (int i = 0; i < population.Length; i++)
            {
                population[i] = new double[d];
                for (int j = 0; j < d; j++) population[i][j] = Clamp(mean[j] + std[j] * Gaussian(random));
            }
            if (_options.ReEvaluateBest) population[0] = best.ToArray();

            var scores = new CandidateFitness[population.Length];
            for (int i = 0; i < population.Length; i++)
            {
                scores[i] = await fitness(population[i], cancellationToken).ConfigureAwait(false);
                evaluations++;
            }

            var order = Ranking.Order(scores, _options.UseLogLikelihoodForTies);
            best = population[order[0]];
            bestFitness = scores[order[0]];

            var chosen = order.Take(elites).Select(i => population[i]).ToArray();
            for (int j = 0; j < d; j++)
            {
                double m = chosen.Average(c => c[j]);
                double s = chosen.Length > 1 ? Math.Sqrt(chosen.Sum(c => (c[j] - m) * (c[j] - m)) / (chosen.Length - 1)) : 0;
                mean[j] = (1 - _options.Ema) * m + _options.Ema * mean[j];
                std[j] = (1 - _options.Ema) * s + _options.Ema * std[j];
            }

            var report = new SearchProgress(generation, _options.Generations, bestFitness.Score, scores.Average(s => s.Score), std.Average());
            history.Add(report);
            progress?.Report(report);
        }
        return new SearchResult(best, bestFitness, history, evaluations);
    }

    double Clamp(double x) => Math.Clamp(x, _options.Minimum, _options.Maximum);

    internal static double Gaussian(Random random)
    {
        // Box–Muller; 1 − U keeps the logarithm finite.
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
