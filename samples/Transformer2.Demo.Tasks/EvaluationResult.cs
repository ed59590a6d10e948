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
    /// <summary>Mean tokens per item of each pass's prompt and generated text: what sets the pass-1 / pass-2 time ratio.</summary>
    public PassTokens Tokens { get; init; } = new(0, 0, 0, 0);

    /// <summary>Correct / Total.</summary>
    public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;
}

/// <summary>Mean token counts per item: pass 1's prompt and generated tokens, pass 2's prompt and generated tokens.</summary>
public sealed record PassTokens(double FirstPrompt, double FirstGenerated, double SecondPrompt, double SecondGenerated);
