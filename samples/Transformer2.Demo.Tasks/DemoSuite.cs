using Transformer2.Training.Tasks;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// The synthetic analogue of the paper's benchmark suite: three training families (arith, code, choice ↔ GSM8K, MBPP,
/// ARC-Easy), three unseen harder relatives (arith2, code2, choice2 ↔ MATH, HumanEval, ARC-Challenge) and the
/// classification task built from the training families' prompts — all drawn deterministically from one seed.
/// </summary>
public sealed class DemoSuite
{
    /// <summary>The seed the bundled model and experts were made with.</summary>
    public const int DefaultSeed = 2025;

    /// <summary>Creates the suite.</summary>
    public DemoSuite(int seed = DefaultSeed, DemoScale? scale = null)
    {
        Seed = seed;
        Scale = scale ?? DemoScale.Full;
        Training = [Make(new ArithmeticFamily(1), 1), Make(new SnippetFamily(1), 2), Make(new ChoiceFamily(false), 3)];
        Unseen = [Make(new ArithmeticFamily(2), 4), Make(new SnippetFamily(2), 5), Make(new ChoiceFamily(true), 6)];
        Classification = new ClassificationTask(Training[0].GetItems(TaskSplit.Train), Training[1].GetItems(TaskSplit.Train), Training[2].GetItems(TaskSplit.Train));

        FamilyTask Make(SyntheticFamily family, int offset) =>
            new(family, seed * 31 + offset, family is ArithmeticFamily { Steps: 2 } or SnippetFamily { Depth: 2 } or ChoiceFamily { Hard: true }
                ? Scale.UnseenInPretraining + Scale.Valid : Scale.Train, Scale.Valid, Scale.Test);
    }

    /// <summary>The seed everything is drawn from.</summary>
    public int Seed { get; }

    /// <summary>Split sizes.</summary>
    public DemoScale Scale { get; }

    /// <summary>arith, code, choice: the families experts are trained on.</summary>
    public IReadOnlyList<FamilyTask> Training { get; }

    /// <summary>arith2, code2, choice2: harder relatives no expert is trained on.</summary>
    public IReadOnlyList<FamilyTask> Unseen { get; }

    /// <summary>All six families.</summary>
    public IEnumerable<FamilyTask> All => Training.Concat(Unseen);

    /// <summary>Labels the training families' prompts math / code / reasoning with the authors' classification prompt.</summary>
    public ClassificationTask Classification { get; }

    /// <summary>The family task of the given name.</summary>
    public FamilyTask this[string name] => All.FirstOrDefault(t => t.Name == name)
        ?? throw new KeyNotFoundException($"No family named '{name}'; known: {string.Join(", ", All.Select(t => t.Name))}.");

    /// <summary>
    /// The base model's next-token training mixture: every training item of the training families, a few items of each
    /// unseen family, and classification-prompt examples whose label is wrong a quarter of the time (so the base model
    /// classifies imperfectly and dispatch has something to do).
    /// </summary>
    public ITask PretrainingMixture()
    {
        var noise = new Random(Seed + 99);
        string[] labels = ["math", "code", "reasoning"];
        var classification = Classification.GetItems(TaskSplit.Train).Take(Scale.ClassificationInPretraining).Select(item =>
        {
            string label = item.Reference!;
            if (noise.NextDouble() < 0.25) label = labels[(Array.IndexOf(labels, label) + 1 + noise.Next(2)) % 3];
            return item with { References = [$"Classification: \\boxed{{{label}}}"] };
        });
        return MixtureTask.Create(
            Training.Select(t => ((ITask)t, (IEnumerable<TaskItem>)t.GetItems(TaskSplit.Train)))
                .Concat(Unseen.Select(t => ((ITask)t, t.GetItems(TaskSplit.Train).Take(Scale.UnseenInPretraining))))
                .Append((Classification, classification)),
            valid: 64, seed: Seed);
    }
}
