namespace Transformer2.Training.Tasks;

/// <summary>Scores a batch of completions, in parallel where a task's scoring is slow (code tasks run Python).</summary>
public static class TaskScoring
{
    /// <summary>
    /// Scores <paramref name="completions"/>[i] against <paramref name="items"/>[i]. At most <paramref name="maxParallelism"/>
    /// scorings run at once (0 = half the processors, as the authors' evalplus workers).
    /// </summary>
    /// <exception cref="ArgumentException">The two lists differ in length.</exception>
    public static async Task<IReadOnlyList<TaskScore>> ScoreAllAsync(
        ITask task,
        IReadOnlyList<TaskItem> items,
        IReadOnlyList<string> completions,
        int maxParallelism = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(completions);
        if (items.Count != completions.Count)
        {
            throw new ArgumentException($"Task '{task.Name}': {items.Count} items but {completions.Count} completions.", nameof(completions));
        }

        var scores = new TaskScore[items.Count];
        var options = new ParallelOptions
        {
            MaxDegreeOfParallelism = maxParallelism > 0 ? maxParallelism : Math.Max(1, Environment.ProcessorCount / 2),
            CancellationToken = cancellationToken,
        };
        await Parallel.ForEachAsync(Enumerable.Range(0, items.Count), options, async (i, ct) =>
        {
            scores[i] = await task.ScoreAsync(items[i], completions[i], ct).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return scores;
    }
}
