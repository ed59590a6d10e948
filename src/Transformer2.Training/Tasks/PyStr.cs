namespace Transformer2.Training.Tasks;

/// <summary>Python <c>str</c> behaviours the authors' parsers rely on.</summary>
internal static class PyStr
{
    /// <summary>Python's <c>str.isspace</c> for one character.</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    /// <summary><c>str.strip()</c>.</summary>
    public static string Strip(string s) => LStrip(RStrip(s));

    /// <summary><c>str.lstrip()</c>.</summary>
    public static string LStrip(string s)
    {
        var i = 0;
        while (i < s.Length && IsSpace(s[i]))
        {
            i++;
        }

        return s[i..];
    }

    /// <summary><c>str.rstrip()</c>.</summary>
    public static string RStrip(string s)
    {
        var j = s.Length;
        while (j > 0 && IsSpace(s[j - 1]))
        {
            j--;
        }

        return s[..j];
    }

    /// <summary><c>str.strip(chars)</c>.</summary>
    public static string Strip(string s, string chars)
    {
        int i = 0, j = s.Length;
        while (i < j && chars.Contains(s[i], StringComparison.Ordinal))
        {
            i++;
        }

        while (j > i && chars.Contains(s[j - 1], StringComparison.Ordinal))
        {
            j--;
        }

        return s[i..j];
    }

    /// <summary><c>str.split(sep)</c> with a non-empty separator.</summary>
    public static string[] Split(string s, string sep) => s.Split(sep, StringSplitOptions.None);

    /// <summary><c>str.splitlines()</c> (no line ends kept).</summary>
    public static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        var start = 0;
        var i = 0;
        while (i < s.Length)
        {
            var c = s[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                lines.Add(s[start..i]);
                i += c == '\r' && i + 1 < s.Length && s[i + 1] == '\n' ? 2 : 1;
                start = i;
            }
            else
            {
                i++;
            }
        }

        if (start < s.Length)
        {
            lines.Add(s[start..]);
        }

        return lines;
    }
}
