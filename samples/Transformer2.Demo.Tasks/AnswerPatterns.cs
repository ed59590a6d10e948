using System.Text.RegularExpressions;

namespace Transformer2.Demo.Tasks;

/// <summary>The answer formats the synthetic families teach, and how each is read back.</summary>
internal static partial class AnswerPatterns
{
    [GeneratedRegex(@"-?\d+")]
    internal static partial Regex Number();

    [GeneratedRegex(@"Output:\s*(\S+)")]
    internal static partial Regex Output();

    [GeneratedRegex(@"Answer:\s*([A-D])\b")]
    internal static partial Regex Choice();

    /// <summary>The last integer in the text (GSM8K style), or null.</summary>
    internal static string? LastNumber(string text)
    {
        var matches = Number().Matches(text);
        return matches.Count == 0 ? null : matches[^1].Value;
    }

    internal static readonly string[] Names = ["Ann", "Ben", "Cara", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivy", "Jon", "Kim", "Leo"];

    internal static readonly string[] Things = ["apple", "pen", "card", "stone", "book", "coin", "shell", "cup"];
}
