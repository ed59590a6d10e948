using System.Text;
using System.Text.RegularExpressions;
using Transformer2.Models.Chat;

namespace Transformer2.Adaptation.Dispatch;

/// <summary>The first-pass classification prompt and the parsing of its answer.</summary>
public static partial class ClassificationPromptBuilder
{
    /// <summary>The authors' three categories with their descriptions (t2-reference §4.1).</summary>
    public static IReadOnlyList<(string Label, string Description)> AuthorsCategories { get; } =
    [
        ("code", "Questions asking for programming solutions, functions, algorithms. Often includes specific programming terms, language syntax, or data structures."),
        ("math", "Questions involving mathematical calculations, formulas, statistics. Often includes numbers, equations, or mathematical operations."),
        ("reasoning", "Questions requiring logical thinking, application of scientific knowledge, or critical analysis of information. Often presents statements that need evaluation based on general understanding."),
    ];

    /// <summary>
    /// The system prompt: the authors' exact text when the labels are exactly code, math and reasoning; otherwise the
    /// same layout listing <paramref name="categories"/> and 'other'.
    /// </summary>
    public static string SystemPrompt(IReadOnlyList<ExpertCategory> categories)
    {
        if (categories.Select(c => c.Label).Order(StringComparer.Ordinal).SequenceEqual(["code", "math", "reasoning"]))
            return ClassificationPrompt.System;
        var labels = categories.Select(c => $"'{c.Label}'").Append("'other'").ToList();
        var text = new StringBuilder();
        text.Append("\n    # Analyze the given question and classify it into one of ").Append(labels.Count).Append(" categories: ")
            .Append(string.Join(", ", labels.SkipLast(1))).Append(" or ").Append(labels[^1]).Append(". Follow these guidelines:\n\n");
        for (int i = 0; i < categories.Count; i++)
            text.Append("    ").Append(i + 1).Append(". ").Append(Capitalize(categories[i].Label)).Append(": ").Append(categories[i].Description).Append('\n');
        text.Append("    ").Append(categories.Count + 1).Append(". Other: Questions not clearly fit into above categories.\n\n");
        text.Append("    Instructions:\n    - Consider the primary focus, skills, and knowledge required to answer the question.\n")
            .Append("    - If a question spans multiple categories, choose the most dominant one.\n")
            .Append("    - Provide your final classification within \\boxed{} notation. Example: \\boxed{").Append(categories[0].Label).Append("}\n\n")
            .Append("    Format your response as follows:\n    Classification: \\boxed{category}\n    ");
        return text.ToString();
    }

    /// <summary>
    /// The conversation of the first pass: the classification system prompt and the question (the last user message).
    /// With <paramref name="includeImages"/> the question keeps that message's images, so a vision-language model classifies
    /// what it is shown (the authors' pipeline is text-only; a VQA question alone often does not say which skill it needs);
    /// without, the images and their <c>&lt;image&gt;</c> placeholders are left out.
    /// </summary>
    public static IReadOnlyList<ChatMessage> Messages(IReadOnlyList<ExpertCategory> categories, IReadOnlyList<ChatMessage> request, bool includeImages = true)
    {
        var question = LastUser(request);
        var user = includeImages
            ? ChatMessage.User(question.Content) with { Images = question.Images }
            : ChatMessage.User(WithoutPlaceholders(question.Content));
        return [ChatMessage.System(SystemPrompt(categories)), user];
    }

    /// <summary>The text classified: the last user message (the authors classify the problem text alone).</summary>
    public static string Question(IReadOnlyList<ChatMessage> request) => LastUser(request).Content;

    static ChatMessage LastUser(IReadOnlyList<ChatMessage> request) =>
        request.LastOrDefault(m => m.Role == ChatRoles.User)
        ?? throw new ArgumentException("The request has no user message to classify.", nameof(request));

    /// <summary>The text without image placeholders (and the line break LLaVA prompts put after each).</summary>
    static string WithoutPlaceholders(string text) =>
        text.Replace(Models.Llava.LlavaPrompt.ImagePlaceholder + "\n", "", StringComparison.Ordinal)
            .Replace(Models.Llava.LlavaPrompt.ImagePlaceholder, "", StringComparison.Ordinal);

    /// <summary>
    /// The category in the first <c>\boxed{…}</c> of <paramref name="completion"/>, or null for none or an unknown label.
    /// Unlike the authors' exact match, surrounding spaces and letter case are ignored.
    /// </summary>
    public static ExpertCategory? Parse(string completion, IReadOnlyList<ExpertCategory> categories)
    {
        var match = FirstBoxed().Match(completion);
        if (!match.Success) return null;
        string label = match.Groups[1].Value.Trim();
        return categories.FirstOrDefault(c => string.Equals(c.Label, label, StringComparison.OrdinalIgnoreCase));
    }

    [GeneratedRegex(@"\\boxed\{([^}]*)\}")]
    private static partial Regex FirstBoxed();

    static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];
}
