namespace Transformer2.Models.Chat;

/// <summary>
/// The system prompt of Transformer²'s prompt-based dispatch (t2-reference §4.1; the authors' <c>utils.py</c>
/// <c>CLASSIFICATION_PROMPT</c>, also the system message of the <c>cls</c> task). The text is the authors' string verbatim,
/// including its leading newline, four-space indentation, the trailing space after "understanding." and the final
/// indentation; chat templates that strip content (Llama-3) remove the outer whitespace, as the original run did.
/// </summary>
public static class ClassificationPrompt
{
    /// <summary>The system message asking for <c>Classification: \boxed{category}</c>.</summary>
    public const string System =
        "\n" +
        "    # Analyze the given question and classify it into one of four categories: 'code', 'math', 'reasoning' or 'other'. Follow these guidelines:\n" +
        "\n" +
        "    1. Code: Questions asking for programming solutions, functions, algorithms. Often includes specific programming terms, language syntax, or data structures.\n" +
        "    2. Math: Questions involving mathematical calculations, formulas, statistics. Often includes numbers, equations, or mathematical operations.\n" +
        "    3. Reasoning: Questions requiring logical thinking, application of scientific knowledge, or critical analysis of information. Often presents statements that need evaluation based on general understanding. \n" +
        "    4. Other: Questions not clearly fit into above categories.\n" +
        "\n" +
        "    Instructions:\n" +
        "    - Consider the primary focus, skills, and knowledge required to answer the question.\n" +
        "    - If a question spans multiple categories, choose the most dominant one.\n" +
        "    - Provide your final classification within \\boxed{} notation. Example: \\boxed{reasoning}\n" +
        "\n" +
        "    Format your response as follows:\n" +
        "    Classification: \\boxed{category}\n" +
        "    ";

    /// <summary>The labels the dispatcher accepts; any other answer (or none) counts as <see cref="Other"/>.</summary>
    public static IReadOnlyList<string> Labels { get; } = ["code", "math", "reasoning"];

    /// <summary>The fallback label.</summary>
    public const string Other = "other";
}
