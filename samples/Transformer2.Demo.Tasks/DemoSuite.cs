using Transformer2.Training.Tasks;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// The synthetic analogue of the paper's benchmark suite: three training families (arith, code, choice ↔ GSM8K, MBPP,
/// ARC-Easy), three unseen harder relatives (arith2, code2, choice2 ↔ MATH, HumanEval, ARC-Challenge) plus an unseen
/// family that needs two skills at once (arith-choice), and the classification task over every family's training
/// prompts — all drawn deterministically from one seed. <see cref="AnswerStyle"/> explains the pre-training text.
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
        Unseen = [Make(new ArithmeticFamily(2), 4, unseen: true), Make(new SnippetFamily(2), 5, unseen: true), Make(new ChoiceFamily(true), 6, unseen: true),
            Make(new TwoSkillFamily(), 7, unseen: true)];
        // Every family's training prompts (for an unseen family only those pre-training shows), labelled by family, so
        // that routing an unseen family to its related expert is something the classification prompt can learn.
        IReadOnlyList<TaskItem> Prompts(string label) => Interleave(All.Where(t => t.Family.Label == label)
            .Select(t => Training.Contains(t) ? t.GetItems(TaskSplit.Train) : t.GetItems(TaskSplit.Train).Take(Scale.UnseenInPretraining).ToList()).ToList());
        Classification = new ClassificationTask(Prompts("math"), Prompts("code"), Prompts("reasoning"));

        FamilyTask Make(SyntheticFamily family, int offset, bool unseen = false) =>
            new(family, seed * 31 + offset, unseen ? Scale.UnseenInPretraining + Scale.Valid : Scale.Train, Scale.Valid, Scale.Test);
    }

    // Scale.FactDrill items cycling through every fact, so the full scale shows each one the same number of times.
    IEnumerable<TaskItem> FactDrill()
    {
        var facts = ArithmeticFamily.FactDrill();
        return Enumerable.Range(0, Scale.FactDrill).Select(i => facts[i % facts.Count]);
    }

    static List<TaskItem> Interleave(IReadOnlyList<IReadOnlyList<TaskItem>> lists)
    {
        var result = new List<TaskItem>();
        for (int i = 0; result.Count < lists.Sum(l => l.Count); i++)
            foreach (var list in lists)
                if (i < list.Count) result.Add(list[i]);
        return result;
    }

    /// <summary>The seed everything is drawn from.</summary>
    public int Seed { get; }

    /// <summary>Split sizes.</summary>
    public DemoScale Scale { get; }

    /// <summary>arith, code, choice: the families experts are trained on.</summary>
    public IReadOnlyList<FamilyTask> Training { get; }

    /// <summary>arith2, code2, choice2 (harder relatives) and arith-choice (two skills at once): no expert is trained on them.</summary>
    public IReadOnlyList<FamilyTask> Unseen { get; }

    /// <summary>All seven families.</summary>
    public IEnumerable<FamilyTask> All => Training.Concat(Unseen);

    /// <summary>Labels every family's training prompts math / code / reasoning with the authors' classification prompt.</summary>
    public ClassificationTask Classification { get; }

    /// <summary>The family task of the given name.</summary>
    public FamilyTask this[string name] => All.FirstOrDefault(t => t.Name == name)
        ?? throw new KeyNotFoundException($"No family named '{name}'; known: {string.Join(", ", All.Select(t => t.Name))}.");

    /// <summary>Share of pre-training classification examples whose label is wrong.</summary>
    public const double ClassificationLabelNoise = 0.1;

    /// <summary>
    /// The base model's next-token training mixture: every training item of the training families and a few items of each
    /// unseen family, each answered worked-out or carelessly as <see cref="AnswerStyle"/> draws it, and classification-prompt
    /// examples whose label is wrong <see cref="ClassificationLabelNoise"/> of the time, and the arithmetic facts drilled bare.
    /// </summary>
    public ITask PretrainingMixture()
    {
        var noise = new Random(Seed + 99);
        var style = new Random(Seed + 98);
        string[] labels = ["math", "code", "reasoning"];
        var classification = Classification.GetItems(TaskSplit.Train).Take(Scale.ClassificationInPretraining).Select(item =>
        {
            string label = item.Reference!;
            if (noise.NextDouble() < ClassificationLabelNoise) label = labels[(Array.IndexOf(labels, label) + 1 + noise.Next(2)) % 3];
            return item with { References = [$"Classification: \\boxed{{{label}}}"] };
        }).ToList();
        IEnumerable<TaskItem> Text(IEnumerable<TaskItem> items) => items.Select(i => AnswerStyle.AsPretrainingText(i, style)).ToList();
        return MixtureTask.Create(
            Training.Select(t => ((ITask)t, Text(t.GetItems(TaskSplit.Train))))
                .Concat(Unseen.Select(t => ((ITask)t, Text(t.GetItems(TaskSplit.Train).Take(Scale.UnseenInPretraining)))))
                .Append((Classification, classification))
                .Append(((ITask)Training[0], FactDrill())),
            valid: 64, seed: Seed);
    }
}
