namespace Transformer2.Demo.Tasks;

/// <summary>Accuracy of one setting on one task's held-out items, with the mean time of each pass.</summary>
/// <param name="Task">Task name.</param>
/// <param name="Setting">What answered (e.g. "base", "svf", "t2-prompt").</param>
/// <param name="Correct">Items answered correctly.</param>
/// <param name="Total">Items asked.</param>
/// <param name="FirstPass">Mean time of the dispatch pass.</param>
/// <param name="SecondPass">Mean time of the answering pass.</param>
/// <param name="DispatchCorrect">Items whose dispatch label matched the family's category (prompt-based strategies only).</param>
public sealed record EvaluationResult(string Task, string Setting, int Correct, int Total, TimeSpan FirstPass, TimeSpan SecondPass, int? DispatchCorrect = null)
{
    /// <summary>Correct / Total.</summary>
    public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;
}
