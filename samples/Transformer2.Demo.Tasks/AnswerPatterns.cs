using System.Text.RegularExpressions;

namespace Transformer2.Demo.Tasks;

/// <summary>The answer formats the synthetic families teach, and how each is read back.</summary>
internal static partial class AnswerPatterns
{
    [GeneratedRegex(@"The answer is (-?\d+)\b")]
    internal static partial Regex Arithmetic();

    [GeneratedRegex(@"Output:\s*(\S+)")]
    internal static partial Regex Output();

    [GeneratedRegex(@"Answer:\s*([A-D])\b")]
    internal static partial Regex Choice();

    /// <summary>The number of the first "The answer is N" (the answer the completion commits to), or null.</summary>
    internal static string? ArithmeticAnswer(string text)
    {
        var match = Arithmetic().Match(text);
        return match.Success ? match.Groups[1].Value : null;
    }

    internal static readonly string[] Names = ["Ann", "Ben", "Cara", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivy", "Jon", "Kim", "Leo"];

    internal static readonly string[] Things = ["apple", "pen", "card", "stone", "book", "coin", "shell", "cup"];
}
