using Transformer2.Training.Reinforce;

namespace Transformer2.Training.NextToken;

/// <summary>
/// Settings of next-token (supervised) training on reference solutions. Defaults follow the paper's LoRA baseline where it
/// gives them (t2-reference §6, Table 6: batch 256, lr from {2e-4 … 5e-6}, clip from {1e-3, 1.0}).
/// </summary>
public sealed record NextTokenOptions
{
    /// <summary>Sequences per optimizer step (clipped to the training split's size).</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Sequences run through the model together; gradients are accumulated over a batch. Bounds memory.</summary>
    public int MicroBatchSize { get; init; } = 8;

    /// <summary>
    /// At most this many padded tokens (sequences × longest sequence) per micro-batch, null for no token bound. When set, each
    /// batch is sorted by length before it is split, so short sequences are not padded to a long one's length (like
    /// transformers' <c>group_by_length</c>, within a batch): the gradient is the same sum over the batch's solution tokens,
    /// only cheaper when lengths vary. A sequence longer than the bound gets a micro-batch of its own.
    /// </summary>
    public int? MicroBatchTokens { get; init; }

    /// <summary>Passes over the training split; the run ends after this many epochs or <see cref="MaxSteps"/>, whichever comes first.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>At most this many optimizer steps (null = as many as <see cref="Epochs"/> need).</summary>
    public int? MaxSteps { get; init; }

    /// <summary>Learning rate.</summary>
    public double LearningRate { get; init; } = 2e-4;

    /// <summary>Decoupled weight decay (AdamW); 0 is plain Adam.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Learning-rate schedule over the steps.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Global L2 norm the gradient is clipped to (null = no clipping).</summary>
    public double? MaxGradNorm { get; init; } = 1.0;

    /// <summary>Append the tokenizer's end-of-sequence token to each solution, so the model learns where to stop.</summary>
    public bool AppendEos { get; init; } = true;

    /// <summary>Sequences longer than this many tokens lose the end of their solution (null = no limit).</summary>
    public int? MaxSequenceLength { get; init; }

    /// <summary>Compute the loss on the validation split every this many steps (and before the first); 0 disables it.</summary>
    public int ValidationInterval { get; init; } = 10;

    /// <summary>At the end, load back the parameters with the lowest validation loss (when validation ran).</summary>
    public bool RestoreBest { get; init; } = true;

    /// <summary>Seed of the per-epoch shuffle.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Folder for the learning curve (<c>learning_curve.csv</c>), rewritten atomically after every step; null keeps it in memory.</summary>
    public string? OutputFolder { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        if (MicroBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(MicroBatchSize), MicroBatchSize, "MicroBatchSize must be at least 1.");
        if (MicroBatchTokens is < 1) throw new ArgumentOutOfRangeException(nameof(MicroBatchTokens), MicroBatchTokens, "MicroBatchTokens must be at least 1 or null.");
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be at least 1.");
        if (MaxSteps is < 0) throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "MaxSteps cannot be negative.");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be positive.");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must be 0 or positive.");
        if (MaxGradNorm is { } g && !(g > 0)) throw new ArgumentOutOfRangeException(nameof(MaxGradNorm), g, "MaxGradNorm must be positive or null.");
        if (MaxSequenceLength is < 2) throw new ArgumentOutOfRangeException(nameof(MaxSequenceLength), MaxSequenceLength, "MaxSequenceLength must be at least 2.");
        if (ValidationInterval < 0) throw new ArgumentOutOfRangeException(nameof(ValidationInterval), ValidationInterval, "ValidationInterval cannot be negative.");
    }
}
