using System.Text;
using System.Text.RegularExpressions;

namespace Transformer2.Training.Tasks;

/// <summary>
/// The authors' MBPP post-processing (evalplus-style <c>sanitize_code</c> as fishfarm runs it, t2-reference §5.4), ported step by
/// step. Its last step keeps a helper function only when it parses as Python; that check needs a Python parser, so it is
/// left to the sandboxed harness: <see cref="Sanitize"/> returns the pieces and says which ones need it.
/// </summary>
internal static class CodeSanitizer
{
    /// <summary>The sanitised program in pieces: joined with <c>"\ndef "</c> after dropping helpers that fail to parse.</summary>
    /// <param name="Head">Everything before the first top-level <c>"\ndef "</c>.</param>
    /// <param name="Functions">The following pieces (without the <c>"\ndef "</c>) and whether each is kept unconditionally.</param>
    public sealed record Pieces(string Head, IReadOnlyList<(string Body, bool AlwaysKeep)> Functions)
    {
        /// <summary>The program when every helper parses (what the authors get in the common case).</summary>
        public string JoinAll() => PyStr.Strip(string.Join("\ndef ", Functions.Select(f => f.Body).Prepend(Head)));
    }

    /// <summary>Sanitises <paramref name="code"/> (dataset prompt + "\n" + completion body, stripped) for <paramref name="entryPoint"/>.</summary>
    public static Pieces Sanitize(string code, string entryPoint)
    {
        var newCode = "\n" + code;
        var defLeft = "def " + entryPoint;
        newCode = newCode.Replace("\n```python\n", "\n```\n", StringComparison.Ordinal);
        foreach (var chunk in PyStr.Split(newCode, "\n```\n"))
        {
            if (chunk.Contains(defLeft, StringComparison.Ordinal))
            {
                newCode = chunk;
                break;
            }
        }

        var chunks = Regex.Split(newCode, Regex.Escape(defLeft) + @"\s*\(");
        var bodies = chunks.Skip(1).Where(c => PyStr.Split(c, "\ndef")[0].Contains("    return ", StringComparison.Ordinal)).ToList();
        defLeft += "(";
        newCode = bodies.Count > 0 ? defLeft + string.Join(defLeft, bodies) : string.Empty;
        newCode = ToFourSpaceIndents(newCode);
        newCode = RemoveUnindentedLines(newCode, defLeft, ["def ", "import ", "from "], ["\"\"\"", "if", "print"]);
        newCode = chunks[0] + newCode;

        var parts = PyStr.Split(newCode, "\ndef ");
        var functions = parts.Skip(1)
            .Select(fn => (fn, PyStr.Strip(fn).StartsWith(entryPoint + " ", StringComparison.Ordinal) || PyStr.Strip(fn).StartsWith(entryPoint + "(", StringComparison.Ordinal)))
            .ToList();
        return new Pieces(parts[0], functions);
    }

    private static string ToFourSpaceIndents(string code)
    {
        var sb = new StringBuilder();
        foreach (var line in PyStr.SplitLines(code))
        {
            if (line.Length - PyStr.LStrip(line).Length == 3)
            {
                sb.Append(' ');
            }

            sb.Append(line).Append('\n');
        }

        return sb.ToString();
    }

    private static string RemoveUnindentedLines(string code, string protectBefore, string[] exceptions, string[] trimTails)
    {
        var lines = PyStr.SplitLines(code);
        var cut = new HashSet<int>();
        var cutEnabled = false;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (!cutEnabled && line.StartsWith(protectBefore, StringComparison.Ordinal))
            {
                cutEnabled = true;
                continue;
            }

            if (PyStr.Strip(line).Length == 0)
            {
                continue;
            }

            if (exceptions.Any(e => line.StartsWith(e, StringComparison.Ordinal)))
            {
                continue;
            }

            if (line.Length - PyStr.LStrip(line).Length == 0)
            {
                cut.Add(i);
            }

            if (trimTails.Any(t => PyStr.RStrip(line).StartsWith(t, StringComparison.Ordinal)))
            {
                for (var k = i; k < lines.Count; k++)
                {
                    cut.Add(k);
                }

                break;
            }
        }

        return string.Join("\n", lines.Where((_, i) => !cut.Contains(i)));
    }
}
