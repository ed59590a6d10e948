namespace Transformer2.Demo.Tasks;

/// <summary>
/// Arithmetic word problems answered with "The answer is N." One step mirrors GSM8K (training family); two steps mirror
/// MATH (the unseen, harder relative).
/// </summary>
public sealed class ArithmeticFamily(int steps) : SyntheticFamily
{
    /// <summary>Number of operations in each problem: 1 or 2.</summary>
    public int Steps { get; } = steps is 1 or 2 ? steps : throw new ArgumentOutOfRangeException(nameof(steps), steps, "Steps must be 1 or 2.");

    /// <inheritdoc />
    public override string Name => Steps == 1 ? "arith" : "arith2";

    /// <inheritdoc />
    public override string Label => "math";

    /// <inheritdoc />
    public override SyntheticProblem Draw(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        string name = AnswerPatterns.Names[random.Next(AnswerPatterns.Names.Length)];
        string thing = AnswerPatterns.Things[random.Next(AnswerPatterns.Things.Length)];
        int a = random.Next(2, 30), b = random.Next(1, 10);
        string question;
        int value;
        switch (random.Next(3))
        {
            case 0:
                question = $"{name} has {a} {thing}s and gets {b} more.";
                value = a + b;
                break;
            case 1:
                a = Math.Max(a, b + 1);
                question = $"{name} has {a} {thing}s and gives away {b}.";
                value = a - b;
                break;
            default:
                a = random.Next(2, 10);
                question = $"{name} buys {a} bags with {b} {thing}s in each bag.";
                value = a * b;
                break;
        }
        if (Steps == 2)
        {
            int c = random.Next(1, 10);
            if (random.Next(2) == 0 || value <= c)
            {
                question += $" Then {name} finds {c} more.";
                value += c;
            }
            else
            {
                question += $" Then {name} loses {c}.";
                value -= c;
            }
        }
        question += $" How many {thing}s does {name} have?";
        return new SyntheticProblem(question, $"The answer is {value}.", value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <inheritdoc />
    public override string? Extract(string completion) => AnswerPatterns.LastNumber(completion ?? throw new ArgumentNullException(nameof(completion)));
}
