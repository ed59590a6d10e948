using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Transformer2.Training.Tasks;

/// <summary>Python's <c>float(str)</c> and <c>math.isclose</c>, as the MATH scorer uses them.</summary>
internal static partial class PythonFloat
{
    [GeneratedRegex(@"^[+-]?(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?$")]
    private static partial Regex DecimalLiteral();

    [GeneratedRegex(@"^[+-]?(?:inf|infinity|nan)$", RegexOptions.IgnoreCase)]
    private static partial Regex SpecialLiteral();

    /// <summary><c>float(s)</c>: surrounding whitespace, underscores between digits, exponents, inf/nan and non-ASCII digits.</summary>
    public static bool TryParse(string s, out double value)
    {
        value = 0;
        var t = PyStr.Strip(s);
        var sb = new StringBuilder(t.Length);
        foreach (var c in t)
        {
            sb.Append(c > 127 && char.IsDigit(c) ? (char)('0' + (int)char.GetNumericValue(c)) : c);
        }

        t = sb.ToString();
        if (SpecialLiteral().IsMatch(t))
        {
            var negative = t[0] == '-';
            var body = t.TrimStart('+', '-').ToLowerInvariant();
            value = body == "nan" ? double.NaN : negative ? double.NegativeInfinity : double.PositiveInfinity;
            return true;
        }

        if (!DecimalLiteral().IsMatch(t))
        {
            return false;
        }

        value = double.Parse(t.Replace("_", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture);
        return true;
    }

    /// <summary><c>math.isclose(a, b, rel_tol=relTol)</c> with <c>abs_tol=0</c>.</summary>
    public static bool IsClose(double a, double b, double relTol)
    {
        if (a == b)
        {
            return true;
        }

        if (double.IsInfinity(a) || double.IsInfinity(b))
        {
            return false;
        }

        var diff = Math.Abs(b - a);
        return diff <= Math.Abs(relTol * b) || diff <= Math.Abs(relTol * a);
    }
}
