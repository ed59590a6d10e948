namespace Transformer2.Training.Tasks;

/// <summary>How a task's answers are generated (the authors' vLLM sampling parameters, t2-reference §2 and §5).</summary>
/// <param name="MaxNewTokens">Most tokens generated per answer (512; 1024 for MATH and cls).</param>
/// <param name="MaxContextTokens">Prompt plus answer limit, the authors' <c>max_model_len</c> (1024; 2048 for MATH and cls).</param>
/// <param name="StopStrings">Generation stops before any of these strings; the stop string is not part of the answer.</param>
/// <param name="Temperature">0 = greedy, as the authors run every rollout and evaluation.</param>
/// <param name="TopP">Nucleus sampling mass (1 = off).</param>
public sealed record GenerationSettings(int MaxNewTokens, int MaxContextTokens, IReadOnlyList<string> StopStrings, double Temperature = 0.0, double TopP = 1.0)
{
    /// <summary>The authors' stop strings for every task.</summary>
    public static IReadOnlyList<string> AuthorsStopStrings { get; } = ["Instruction:", "Instruction", "Response:", "Response"];

    /// <summary>GSM8K, ARC, MBPP: 512 new tokens in a 1024-token context, greedy.</summary>
    public static GenerationSettings Short { get; } = new(512, 1024, AuthorsStopStrings);

    /// <summary>MATH and the classification task: 1024 new tokens in a 2048-token context, greedy.</summary>
    public static GenerationSettings Long { get; } = new(1024, 2048, AuthorsStopStrings);
}
