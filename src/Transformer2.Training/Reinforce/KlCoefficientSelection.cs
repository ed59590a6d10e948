using System.Globalization;

namespace Transformer2.Training.Reinforce;

/// <summary>
/// Chooses the KL coefficient λ by validation, as the paper sweeps λ ∈ {0, 0.1, 0.2, 0.3} (Table 6): one training run
/// per λ with otherwise identical settings, each in its own sub-folder, and the run with the best validation accuracy wins.
/// </summary>
public static class KlCoefficientSelection
{
    /// <summary>The paper's grid.</summary>
    public static IReadOnlyList<double> PaperGrid { get; } = [0.0, 0.1, 0.2, 0.3];

    /// <summary>The outcome: the chosen λ, its run, and every run by λ.</summary>
    /// <param name="BestCoefficient">The λ with the best validation accuracy (the smallest λ on ties).</param>
    /// <param name="Best">That run's result.</param>
    /// <param name="Runs">Every run, by λ, in the order tried.</param>
    public sealed record Result(double BestCoefficient, TrainingResult Best, IReadOnlyList<KeyValuePair<double, TrainingResult>> Runs);

    /// <summary>
    /// Trains once per λ in <paramref name="coefficients"/> (default: the paper's grid) and returns the best on validation.
    /// </summary>
    /// <param name="createTrainer">Makes a trainer for the given options (a fresh one per run; it is disposed after its run).</param>
    /// <param name="options">Settings shared by every run; validation must be on. With an output folder, run λ goes to <c>kl-{λ}</c> below it.</param>
    /// <param name="coefficients">The λ values to try.</param>
    /// <param name="progress">Progress of every run, tagged by λ.</param>
    /// <param name="cancellationToken">Stops the current run.</param>
    public static async Task<Result> SelectAsync(Func<ReinforceOptions, ReinforceTrainer> createTrainer, ReinforceOptions options,
        IReadOnlyList<double>? coefficients = null, IProgress<(double Coefficient, TrainingProgress Progress)>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(createTrainer);
        ArgumentNullException.ThrowIfNull(options);
        coefficients ??= PaperGrid;
        if (coefficients.Count == 0) throw new ArgumentException("Give at least one KL coefficient.", nameof(coefficients));
        if (options.ValidationInterval == 0) throw new ArgumentException("Choosing λ by validation needs ValidationInterval > 0.", nameof(options));
        var runs = new List<KeyValuePair<double, TrainingResult>>();
        foreach (double lambda in coefficients)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var runOptions = options with
            {
                KlCoefficient = lambda,
                OutputFolder = options.OutputFolder is null ? null : Path.Combine(options.OutputFolder, "kl-" + lambda.ToString("0.###", CultureInfo.InvariantCulture)),
            };
            runOptions.Validate();
            using var trainer = createTrainer(runOptions);
            var reporter = progress is null ? null : new Progress<TrainingProgress>(p => progress.Report((lambda, p)));
            runs.Add(new(lambda, await trainer.TrainAsync(reporter, cancellationToken).ConfigureAwait(false)));
        }
        var best = runs.OrderByDescending(r => r.Value.BestValidationAccuracy ?? double.NegativeInfinity).ThenBy(r => r.Key).First();
        return new Result(best.Key, best.Value, runs);
    }
}
