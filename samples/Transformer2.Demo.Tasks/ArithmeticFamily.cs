using System.Globalization;
using Transformer2.Training.Tasks;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// Arithmetic word problems over small numbers. Worked answer: "7+5=12. The answer is 12." (two steps:
/// "7+5=12, 12-3=9. The answer is 9."); careless answer: "The answer is 13.". One step mirrors GSM8K (training
/// family); two steps mirror MATH (the unseen, harder relative).
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
        string question, working;
        int value;
        switch (random.Next(3))
        {
            case 0:
            {
                int a = random.Next(1, 10), b = random.Next(1, 10);
                question = $"{name} has {a} {thing}s and gets {b} more.";
                value = a + b;
                working = $"{a}+{b}={value}";
                break;
            }
            case 1:
            {
                int a = random.Next(2, 19), b = random.Next(1, Math.Min(9, a - 1) + 1);
                question = $"{name} has {a} {thing}s and gives away {b}.";
                value = a - b;
                working = $"{a}-{b}={value}";
                break;
            }
            default:
            {
                // Factors 2–5 only: the whole 9×9 table is more than a sub-million-parameter model learns in minutes.
                int a = random.Next(2, 6), b = random.Next(1, 10);
                question = $"{name} buys {a} bags with {b} {thing}s in each bag.";
                value = a * b;
                working = $"{a}*{b}={value}";
                break;
            }
        }
        if (Steps == 2)
        {
            int c = random.Next(1, 10);
            int before = value;
            if (random.Next(2) == 0 || value <= c)
            {
                question += $" Then {name} finds {c} more.";
                value += c;
                working += $", {before}+{c}={value}";
            }
            else
            {
                question += $" Then {name} loses {c}.";
                value -= c;
                working += $", {before}-{c}={value}";
            }
        }
        bool favoured = random.NextDouble() < AnswerStyle.FavouredShare;
        question += favoured ? $" How many {thing}s does {name} have?" : $" How many {thing}s are there now?";
        string text = value.ToString(CultureInfo.InvariantCulture);
        return new SyntheticProblem(question, $"{working}. {Answer(text)}", Answer(AnswerStyle.NearMiss(random, value).ToString(CultureInfo.InvariantCulture)), text, [favoured]);
    }

    /// <summary>
    /// Every one-step fact the family uses (sums and products of single digits, differences up to 18), each asked bare
    /// ("What is 7+5?") and answered worked out: arithmetic taught in pre-training outside the word problems, the way a
    /// pretrained LLM has seen its tables in other contexts than the benchmark's.
    /// </summary>
    public static IReadOnlyList<TaskItem> FactDrill()
    {
        var items = new List<TaskItem>();
        void Add(int a, char op, int b, int value) => items.Add(new TaskItem($"arith/facts/{items.Count}", $"What is {a}{op}{b}?")
        {
            References = [$"{a}{op}{b}={value}. {Answer(value.ToString(CultureInfo.InvariantCulture))}"],
            Metadata = new Dictionary<string, string> { [FamilyTask.ExpectedKey] = value.ToString(CultureInfo.InvariantCulture), [FamilyTask.FamilyKey] = "arith" },
        });
        for (int a = 1; a <= 9; a++)
            for (int b = 1; b <= 9; b++) Add(a, '+', b, a + b);
        for (int a = 2; a <= 18; a++)
            for (int b = 1; b <= Math.Min(9, a - 1); b++) Add(a, '-', b, a - b);
        for (int a = 2; a <= 5; a++)
            for (int b = 1; b <= 9; b++) Add(a, '*', b, a * b);
        return items;
    }

    static string Answer(string value) => $"The answer is {value}.";

    /// <inheritdoc />
    public override string? Extract(string completion) => AnswerPatterns.ArithmeticAnswer(completion ?? throw new ArgumentNullException(nameof(completion)));
}
