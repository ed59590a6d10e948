using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Transformer2.Training.Tasks;

/// <summary>
/// The authors' GSM8K answer reading (fishfarm <c>extract_answer_number</c>): the last match of <c>\d*\.?\d+</c>, as a float.
/// Quirks kept on purpose: commas split numbers ("1,080" reads 80) and signs are ignored ("-3" reads 3).
/// </summary>
public static partial class Gsm8kAnswer
{
    [GeneratedRegex(@"\d*\.?\d+")]
    private static partial Regex NumberPattern();

    /// <summary>The last number in <paramref name="text"/>, or <see langword="null"/> when there is none.</summary>
    public static double? ExtractLastNumber(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Match? last = null;
        for (var m = NumberPattern().Match(text); m.Success; m = m.NextMatch())
        {
            last = m;
        }

        return last is null ? null : ParseDigits(last.Value);
    }

    /// <summary>The gold answer of a GSM8K <c>answer</c> field: its last number cast to int (truncated), as the authors do.</summary>
    public static double? ExtractGold(string answerField)
    {
        var n = ExtractLastNumber(answerField);
        return n is null ? null : Math.Truncate(n.Value);
    }

    /// <summary>Correct iff gold == prediction (two missing numbers compare equal, as Python's <c>None == None</c>).</summary>
    public static bool IsCorrect(double? gold, double? prediction) => gold == prediction;

    /// <summary>Formats a number for reports.</summary>
    public static string? Format(double? value) => value?.ToString("R", CultureInfo.InvariantCulture);

    // \d also matches non-ASCII decimal digits, which Python's float() accepts; map them to ASCII before parsing.
    private static double ParseDigits(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            sb.Append(c == '.' ? '.' : (char)('0' + (int)char.GetNumericValue(c)));
        }

        return double.Parse(sb.ToString(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
    }
}
