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
    public const string SystemPrompt = Transformer2.Models.Chat.ClassificationPrompt.System;

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
