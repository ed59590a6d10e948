using Transformer2.Core.Svf;

namespace Transformer2.Training.Reinforce;

/// <summary>Settings of SVF expert training by REINFORCE. Defaults follow the authors (t2-reference §2).</summary>
public sealed record ReinforceOptions
{
    /// <summary>Prompts per iteration (clipped to the training split's size).</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Prompts generated and back-propagated together; bounds memory.</summary>
    public int MicroBatchSize { get; init; } = 8;

    /// <summary>Number of policy updates.</summary>
    public int Iterations { get; init; } = 200;

    /// <summary>Adam learning rate.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Global L2 norm the gradient over all vectors is clipped to (null = no clipping).</summary>
    public double? MaxGradNorm { get; init; } = 1e-3;

    /// <summary>Rollout temperature; 0 is greedy, as the authors.</summary>
    public double Temperature { get; init; }

    /// <summary>Maximum generated tokens per rollout; null uses the task's setting.</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary>λ of the KL penalty to the base model; 0 skips the reference forward entirely.</summary>
    public double KlCoefficient { get; init; }

    /// <summary>Direction of the KL penalty.</summary>
    public KlDirection KlDirection { get; init; } = KlDirection.PolicyToReference;

    /// <summary>Normalise rewards over each batch.</summary>
    public bool NormalizeRewards { get; init; }

    /// <summary>Clip rewards to [−c, c] (null = no clipping).</summary>
    public double? RewardClip { get; init; }

    /// <summary>Evaluate on the validation split every this many iterations (and at iteration 0); 0 disables it.</summary>
    public int ValidationInterval { get; init; } = 10;

    /// <summary>At most this many validation items are evaluated (null = all).</summary>
    public int? MaxValidationItems { get; init; }

    /// <summary>Stop after this many validations without improvement (null = never).</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>Seed of batch sampling, sampling and the initial vectors.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>How SVF vectors map to multipliers, and their initial distribution.</summary>
    public SvfParameterization Parameterization { get; init; } = SvfParameterization.Default;

    /// <summary>Which adapted forward the log-probabilities use (both give the same gradient).</summary>
    public SvfPath GradientPath { get; init; } = SvfPath.Factored;

    /// <summary>
    /// Folder for the best expert (<c>expert.safetensors</c>), the resumable state (<c>state.safetensors</c>),
    /// and the learning curve (<c>learning_curve.csv</c>, <c>learning_curve.png</c>). Null keeps everything in memory.
    /// </summary>
    public string? OutputFolder { get; init; }

    /// <summary>Name written into the saved expert; null uses the task's name.</summary>
    public string? ExpertName { get; init; }

    /// <summary>Identity of the base model (e.g. its Hugging Face id), written into the saved expert and checked when it is loaded.</summary>
    public string BaseModelIdentity { get; init; } = "";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        if (MicroBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(MicroBatchSize), MicroBatchSize, "MicroBatchSize must be at least 1.");
        if (Iterations < 0) throw new ArgumentOutOfRangeException(nameof(Iterations), Iterations, "Iterations cannot be negative.");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be positive.");
        if (MaxGradNorm is { } g && !(g > 0)) throw new ArgumentOutOfRangeException(nameof(MaxGradNorm), g, "MaxGradNorm must be positive or null.");
        if (!(Temperature >= 0) || !double.IsFinite(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be 0 (greedy) or positive.");
        if (MaxNewTokens is < 1) throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "MaxNewTokens must be at least 1.");
        if (!(KlCoefficient >= 0) || !double.IsFinite(KlCoefficient)) throw new ArgumentOutOfRangeException(nameof(KlCoefficient), KlCoefficient, "KlCoefficient must be 0 or positive.");
        if (RewardClip is { } c && !(c > 0)) throw new ArgumentOutOfRangeException(nameof(RewardClip), c, "RewardClip must be positive or null.");
        if (ValidationInterval < 0) throw new ArgumentOutOfRangeException(nameof(ValidationInterval), ValidationInterval, "ValidationInterval cannot be negative.");
        if (MaxValidationItems is < 1) throw new ArgumentOutOfRangeException(nameof(MaxValidationItems), MaxValidationItems, "MaxValidationItems must be at least 1.");
        if (EarlyStoppingPatience is < 1) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "EarlyStoppingPatience must be at least 1.");
        Parameterization.Validate();
    }
}
