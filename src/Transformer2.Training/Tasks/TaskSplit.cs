namespace Transformer2.Training.Tasks;

/// <summary>The four item sets the authors' training loop evaluates (t2-reference §2, §5).</summary>
public enum TaskSplit
{
    /// <summary>Items REINFORCE samples its batches from.</summary>
    Train,

    /// <summary>Held-out items used to pick the best checkpoint.</summary>
    Valid,

    /// <summary>The reported test set.</summary>
    Test,

    /// <summary>A different dataset of the same kind (ARC-Challenge for ARC-Easy, HumanEval for MBPP).</summary>
    Transfer,
}
