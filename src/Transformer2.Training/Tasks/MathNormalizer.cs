using System.Text;
using System.Text.RegularExpressions;

namespace Transformer2.Training.Tasks;

/// <summary>
/// The Hendrycks MATH string normalisation (<c>_strip_string</c> and its helpers) as the authors run it, step for step.
/// Inputs on which the Python raises <c>AssertionError</c> (two <c>"\text{ "</c>) or <c>IndexError</c> (a bare <c>\sqrt</c> or
/// <c>\frac</c> at the end) make <see cref="TryNormalize"/> return <see langword="false"/>; the caller then compares raw strings.
/// (The Python lets the <c>IndexError</c> escape and stops the whole evaluation; we fall back instead.)
/// </summary>
public static partial class MathNormalizer
{
    [GeneratedRegex("^(?:0|-?[1-9][0-9]*)$")]
    private static partial Regex CanonicalInt();

    /// <summary>Normalises <paramref name="s"/>; <see langword="false"/> where the authors' code raises.</summary>
    public static bool TryNormalize(string s, out string normalized)
    {
        ArgumentNullException.ThrowIfNull(s);
        normalized = s;
        try
        {
            normalized = Normalize(s);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static string Normalize(string s)
    {
        s = s.Replace("\n", string.Empty, StringComparison.Ordinal);
        s = s.Replace("\\!", string.Empty, StringComparison.Ordinal);
        s = s.Replace("\\\\", "\\", StringComparison.Ordinal);
        s = s.Replace("tfrac", "frac", StringComparison.Ordinal);
        s = s.Replace("dfrac", "frac", StringComparison.Ordinal);
        s = s.Replace("\\left", string.Empty, StringComparison.Ordinal);
        s = s.Replace("\\right", string.Empty, StringComparison.Ordinal);
        s = s.Replace("^{\\circ}", string.Empty, StringComparison.Ordinal);
        s = s.Replace("^\\circ", string.Empty, StringComparison.Ordinal);
        s = s.Replace("\\$", string.Empty, StringComparison.Ordinal);
        s = RemoveRightUnits(s);
        s = s.Replace("\\\\%", string.Empty, StringComparison.Ordinal);
        s = s.Replace("\\%", string.Empty, StringComparison.Ordinal);
        s = s.Replace(" .", " 0.", StringComparison.Ordinal);
        s = s.Replace("{.", "{0.", StringComparison.Ordinal);
        if (s.Length == 0)
        {
            return s;
        }

        if (s[0] == '.')
        {
            s = "0" + s;
        }

        var eq = PyStr.Split(s, "=");
        if (eq.Length == 2 && eq[0].Length <= 2)
        {
            s = eq[1];
        }

        s = FixSqrt(s);
        s = s.Replace(" ", string.Empty, StringComparison.Ordinal);
        s = FixFracs(s);
        if (s == "0.5")
        {
            s = "\\frac{1}{2}";
        }

        return FixASlashB(s);
    }

    // "\text{ " starts trailing units; the Python asserts there is exactly one.
    private static string RemoveRightUnits(string s)
    {
        if (!s.Contains("\\text{ ", StringComparison.Ordinal))
        {
            return s;
        }

        var parts = PyStr.Split(s, "\\text{ ");
        if (parts.Length != 2)
        {
            throw new FormatException("more than one \\text{ ");
        }

        return parts[0];
    }

    // \sqrt2 -> \sqrt{2}.
    private static string FixSqrt(string s)
    {
        if (!s.Contains("\\sqrt", StringComparison.Ordinal))
        {
            return s;
        }

        var parts = PyStr.Split(s, "\\sqrt");
        var sb = new StringBuilder(parts[0]);
        foreach (var part in parts.Skip(1))
        {
            if (part.Length == 0)
            {
                throw new FormatException("bare \\sqrt");
            }

            if (part[0] != '{')
            {
                sb.Append("\\sqrt{").Append(part[0]).Append('}').Append(part, 1, part.Length - 1);
            }
            else
            {
                sb.Append("\\sqrt").Append(part);
            }
        }

        return sb.ToString();
    }

    // \frac12 -> \frac{1}{2}, \frac1{2} -> \frac{1}{2}.
    private static string FixFracs(string s)
    {
        var parts = PyStr.Split(s, "\\frac");
        var sb = new StringBuilder(parts[0]);
        foreach (var part in parts.Skip(1))
        {
            sb.Append("\\frac");
            if (part.Length == 0)
            {
                throw new FormatException("bare \\frac");
            }

            if (part[0] == '{')
            {
                sb.Append(part);
                continue;
            }

            if (part.Length < 2)
            {
                return s;
            }

            var a = part[0];
            var b = part[1];
            var post = part.Length > 2 ? part[2..] : string.Empty;
            if (b != '{')
            {
                sb.Append('{').Append(a).Append("}{").Append(b).Append('}').Append(post);
            }
            else
            {
                sb.Append('{').Append(a).Append('}').Append(b).Append(post);
            }
        }

        return sb.ToString();
    }

    // "3/4" -> "\frac{3}{4}" only when both sides are canonical integers (the Python round-trips them through int()).
    private static string FixASlashB(string s)
    {
        var parts = PyStr.Split(s, "/");
        if (parts.Length != 2 || !CanonicalInt().IsMatch(parts[0]) || !CanonicalInt().IsMatch(parts[1]))
        {
            return s;
        }

        return "\\frac{" + parts[0] + "}{" + parts[1] + "}";
    }
}
