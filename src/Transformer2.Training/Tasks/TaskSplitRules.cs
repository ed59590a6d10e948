namespace Transformer2.Training.Tasks;

/// <summary>The authors' index rules for building splits (t2-reference §4.2, §5).</summary>
internal static class TaskSplitRules
{
    /// <summary>Even indices train, odd indices validate (GSM8K, ARC, cls).</summary>
    public static (IReadOnlyList<TaskItem> Train, IReadOnlyList<TaskItem> Valid) EvenOdd(IReadOnlyList<TaskItem> items)
    {
        var train = new List<TaskItem>((items.Count + 1) / 2);
        var valid = new List<TaskItem>(items.Count / 2);
        for (var i = 0; i < items.Count; i++)
        {
            (i % 2 == 0 ? train : valid).Add(items[i]);
        }

        return (train, valid);
    }

    /// <summary>
    /// Python's <c>random.seed(seed); random.shuffle(range(n))</c>, then the first <paramref name="trainCount"/> train and the
    /// rest validate (MBPP: seed 16, 200 of the first 300 problems).
    /// </summary>
    public static (IReadOnlyList<TaskItem> Train, IReadOnlyList<TaskItem> Valid) PythonShuffle(IReadOnlyList<TaskItem> items, int seed, int trainCount)
    {
        var order = Enumerable.Range(0, items.Count).ToArray();
        new PythonRandom(seed).Shuffle(order);
        var train = order.Take(trainCount).Select(i => items[i]).ToArray();
        var valid = order.Skip(trainCount).Select(i => items[i]).ToArray();
        return (train, valid);
    }

    /// <summary>Item i trains when <c>i % 5 &lt; 4</c>, else tests (the classification task).</summary>
    public static (IReadOnlyList<TaskItem> Train, IReadOnlyList<TaskItem> Test) FourToOne(IReadOnlyList<TaskItem> items)
    {
        var train = new List<TaskItem>();
        var test = new List<TaskItem>();
        for (var i = 0; i < items.Count; i++)
        {
            (i % 5 < 4 ? train : test).Add(items[i]);
        }

        return (train, test);
    }
}
