using System.Globalization;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// "What does this Python code print?" over one built-in call (mirrors MBPP, training family) or a composition of two
/// (mirrors HumanEval, unseen). Worked answer: "max(4, 9) is 9. Output: 9" (composed: "min(3, 8) is 3, max(3, 5) is 5.
/// Output: 5"); careless answer: "Output: 4".
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
        var inner = Call(random, null);
        var (expression, value, working, decoy) = inner;
        if (Depth == 2)
        {
            var outer = Call(random, inner);
            (expression, value, decoy) = (outer.Expression, outer.Value, outer.Decoy);
            working += ", " + outer.Working;
        }
        bool favoured = random.NextDouble() < AnswerStyle.FavouredShare;
        string question = favoured ? "What does this Python code print?" : "What is the output of this code?";
        string wrong = (decoy != value ? decoy : AnswerStyle.NearMiss(random, value)).ToString(CultureInfo.InvariantCulture);
        string text = value.ToString(CultureInfo.InvariantCulture);
        return new SyntheticProblem($"{question}\nprint({expression})", $"{working}. Output: {text}", $"Output: {wrong}", text, [favoured]);
    }

    // One call over small literals, or wrapping an inner expression (its working names the inner value, not the inner
    // call). Decoy: the value a careless reader gives (the other argument, the number under abs, a miscounted length).
    static (string Expression, int Value, string Working, int Decoy) Call(Random random, (string Expression, int Value, string Working, int Decoy)? inner)
    {
        int n = random.Next(1, 10), m = random.Next(1, 10);
        string arg = inner?.Expression ?? n.ToString(CultureInfo.InvariantCulture);
        int x = inner?.Value ?? n;
        string shown = x.ToString(CultureInfo.InvariantCulture);
        switch (random.Next(inner is null ? 4 : 3))
        {
            case 0:
            {
                int v = Math.Max(x, m);
                return ($"max({arg}, {m})", v, $"max({shown}, {m}) is {v}", Math.Min(x, m));
            }
            case 1:
            {
                int v = Math.Min(x, m);
                return ($"min({arg}, {m})", v, $"min({shown}, {m}) is {v}", Math.Max(x, m));
            }
            case 2:
            {
                // abs of a negative literal, or of the inner value minus m.
                if (inner is null) return ($"abs(-{n})", n, $"abs(-{n}) is {n}", n + 1);
                int v = Math.Abs(x - m);
                return ($"abs({arg} - {m})", v, $"abs({shown} - {m}) is {v}", x - m);
            }
            default:
            {
                int length = random.Next(1, 6);
                var list = string.Join(", ", Enumerable.Range(0, length).Select(_ => random.Next(0, 10)));
                return ($"len([{list}])", length, $"len([{list}]) is {length}", length + (random.Next(2) == 0 ? 1 : -1));
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
