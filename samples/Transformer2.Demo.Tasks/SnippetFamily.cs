using System.Globalization;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// "What does this Python code print?" over one built-in call (mirrors MBPP, training family) or a composition of two
/// (mirrors HumanEval, unseen). Answered with "Output: X".
/// </summary>
public sealed class SnippetFamily(int depth) : SyntheticFamily
{
    /// <summary>Nesting depth of the expression: 1 or 2.</summary>
    public int Depth { get; } = depth is 1 or 2 ? depth : throw new ArgumentOutOfRangeException(nameof(depth), depth, "Depth must be 1 or 2.");

    /// <inheritdoc />
    public override string Name => Depth == 1 ? "code" : "code2";

    /// <inheritdoc />
    public override string Label => "code";

    /// <inheritdoc />
    public override SyntheticProblem Draw(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var (expression, value) = Call(random, null);
        if (Depth == 2)
        {
            (expression, value) = Call(random, (expression, value));
        }
        string text = value.ToString(CultureInfo.InvariantCulture);
        return new SyntheticProblem($"What does this Python code print?\nprint({expression})", $"Output: {text}", text);
    }

    // One call over small literals, or wrapping an inner integer expression.
    static (string Expression, int Value) Call(Random random, (string Expression, int Value)? inner)
    {
        string arg = inner?.Expression ?? "";
        int x = inner?.Value ?? 0;
        int n = random.Next(1, 10), m = random.Next(1, 10);
        switch (random.Next(inner is null ? 5 : 3))
        {
            case 0:
                return inner is null ? ($"max({n}, {m})", Math.Max(n, m)) : ($"max({arg}, {m})", Math.Max(x, m));
            case 1:
                return inner is null ? ($"min({n}, {m})", Math.Min(n, m)) : ($"min({arg}, {m})", Math.Min(x, m));
            case 2:
                return inner is null ? ($"abs({-n})", n) : ($"abs({arg} - {m})", Math.Abs(x - m));
            case 3:
            {
                int length = random.Next(1, 6);
                var list = Enumerable.Range(0, length).Select(_ => random.Next(0, 10)).ToArray();
                return ($"len([{string.Join(", ", list)}])", length);
            }
            default:
            {
                var list = Enumerable.Range(0, random.Next(2, 5)).Select(_ => random.Next(0, 10)).ToArray();
                int index = random.Next(list.Length);
                return ($"[{string.Join(", ", list)}][{index}]", list[index]);
            }
        }
    }

    /// <inheritdoc />
    public override string? Extract(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var match = AnswerPatterns.Output().Match(completion);
        return match.Success ? match.Groups[1].Value.TrimEnd('.') : null;
    }
}
