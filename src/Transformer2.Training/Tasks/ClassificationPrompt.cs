using System.Text.RegularExpressions;

namespace Transformer2.Training.Tasks;

/// <summary>
/// The authors' task-classification prompt (t2-reference §4.1/§4.2: <c>utils.py</c> CLASSIFICATION_PROMPT, the same string as
/// the system message of <c>tasks/cls.py</c>) and its answer parsing.
/// </summary>
public static partial class ClassificationPrompt
{
    /// <summary>The label of code questions.</summary>
    public const string Code = "code";

    /// <summary>The label of math questions.</summary>
    public const string Math = "math";

    /// <summary>The label of reasoning questions.</summary>
    public const string Reasoning = "reasoning";

    /// <summary>What dispatch uses for anything else.</summary>
    public const string Other = "other";

    /// <summary>
    /// The system message, byte for byte (it starts with a newline and indents each line by four spaces; the Llama template
    /// trims only the ends).
    /// </summary>
    public const string SystemPrompt = "\n    # Analyze the given question and classify it into one of four categories: 'code', 'math', 'reasoning' or 'other'. Follow these guidelines:\n\n    1. Code: Questions asking for programming solutions, functions, algorithms. Often includes specific programming terms, language syntax, or data structures.\n    2. Math: Questions involving mathematical calculations, formulas, statistics. Often includes numbers, equations, or mathematical operations.\n    3. Reasoning: Questions requiring logical thinking, application of scientific knowledge, or critical analysis of information. Often presents statements that need evaluation based on general understanding. \n    4. Other: Questions not clearly fit into above categories.\n\n    Instructions:\n    - Consider the primary focus, skills, and knowledge required to answer the question.\n    - If a question spans multiple categories, choose the most dominant one.\n    - Provide your final classification within \\boxed{} notation. Example: \\boxed{reasoning}\n\n    Format your response as follows:\n    Classification: \\boxed{category}\n    ";

    [GeneratedRegex(@"\\boxed\{([^}]*)\}")]
    private static partial Regex FirstBoxed();

    /// <summary>The content of the first <c>\boxed{…}</c> (no nested braces), or <see langword="null"/>.</summary>
    public static string? ExtractBoxed(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var m = FirstBoxed().Match(completion);
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>Dispatch's reading (§4.1): exactly <c>code</c>, <c>math</c> or <c>reasoning</c>, anything else <c>other</c>.</summary>
    public static string ParseCategory(string completion)
    {
        var label = ExtractBoxed(completion);
        return label is Code or Math or Reasoning ? label : Other;
    }
}
