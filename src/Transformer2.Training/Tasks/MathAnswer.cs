namespace Transformer2.Training.Tasks;

/// <summary>The authors' MATH answer reading (fishfarm <c>competation_math.py</c>, t2-reference §5.2).</summary>
public static class MathAnswer
{
    private const string AnswerIsMarker = "The answer is: ";
    private const string BoxedPrefix = "\\boxed{";

    /// <summary>
    /// The last <c>\boxed…</c> (or, when there is none, <c>\fbox…</c>) with its brace-matched argument, from the command to the
    /// closing brace; <see langword="null"/> when there is none or the braces never close.
    /// </summary>
    public static string? LastBoxedOnly(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var idx = text.LastIndexOf("\\boxed", StringComparison.Ordinal);
        if (idx < 0)
        {
            idx = text.LastIndexOf("\\fbox", StringComparison.Ordinal);
            if (idx < 0)
            {
                return null;
            }
        }

        var open = 0;
        for (var i = idx; i < text.Length; i++)
        {
            if (text[i] == '{')
            {
                open++;
            }

            if (text[i] == '}')
            {
                open--;
                if (open == 0)
                {
                    return text[idx..(i + 1)];
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The argument of a string that starts with <c>\boxed{</c> and ends with <c>}</c>; anything else (including <c>\fbox{…}</c>,
    /// a quirk kept on purpose) gives <see langword="null"/>.
    /// </summary>
    public static string? RemoveBoxed(string? boxed)
    {
        if (boxed is null || !boxed.StartsWith(BoxedPrefix, StringComparison.Ordinal) || !boxed.EndsWith('}'))
        {
            return null;
        }

        return boxed[BoxedPrefix.Length..^1];
    }

    /// <summary>The gold answer of a MATH <c>solution</c>: the content of its last <c>\boxed{}</c>.</summary>
    public static string? GoldFromSolution(string solution) => RemoveBoxed(LastBoxedOnly(solution));

    /// <summary>
    /// The authors' <c>extract_ans</c>: when <c>"The answer is: "</c> occurs, the text after its last occurrence up to the first
    /// <c>".\n"</c>, trimmed and without one trailing <c>.</c>; otherwise the content of the last <c>\boxed{}</c>.
    /// </summary>
    public static string? Extract(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var at = completion.LastIndexOf(AnswerIsMarker, StringComparison.Ordinal);
        if (at < 0)
        {
            return GoldFromSolution(completion);
        }

        var tail = completion[(at + AnswerIsMarker.Length)..];
        var cut = tail.IndexOf(".\n", StringComparison.Ordinal);
        var answer = PyStr.Strip(cut >= 0 ? tail[..cut] : tail);
        if (answer.Length > 0 && answer[^1] == '.')
        {
            answer = answer[..^1];
        }

        return PyStr.Strip(answer);
    }
}
