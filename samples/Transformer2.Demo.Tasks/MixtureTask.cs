using Transformer2.Models.Chat;
using Transformer2.Training.Tasks;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// The pre-training mixture: items from several tasks, each rendered with its own task's messages, for next-token training
/// of the base model (the loss falls on each item's reference answer).
/// </summary>
internal sealed class MixtureTask : TaskBase
{
    const string SourceKey = "source";
    readonly Dictionary<string, ITask> _sources;

    MixtureTask(TaskSplits splits, Dictionary<string, ITask> sources)
        : base("mixture", splits, FamilyTask.ShortAnswers, null) => _sources = sources;

    /// <summary>Interleaves (source task, items) pairs in a seeded random order; validation gets <paramref name="valid"/> items.</summary>
    public static MixtureTask Create(IEnumerable<(ITask Task, IEnumerable<TaskItem> Items)> parts, int valid, int seed)
    {
        var sources = new Dictionary<string, ITask>(StringComparer.Ordinal);
        var all = new List<TaskItem>();
        foreach (var (task, items) in parts)
        {
            sources[task.Name] = task;
            all.AddRange(items.Select(i => i with { Metadata = new Dictionary<string, string>(i.Metadata) { [SourceKey] = task.Name } }));
        }
        var order = all.ToArray();
        new Random(seed).Shuffle(order);
        int held = Math.Min(valid, order.Length / 10);
        return new MixtureTask(new TaskSplits(order[held..], order[..held], [], []), sources);
    }

    public override IReadOnlyList<ChatMessage> BuildMessages(TaskItem item) => Source(item).BuildMessages(item);

    public override TaskScore Score(TaskItem item, string completion) => Source(item).Score(item, completion);

    ITask Source(TaskItem item) =>
        item.Metadata.TryGetValue(SourceKey, out var name) && _sources.TryGetValue(name, out var task)
            ? task
            : throw new ArgumentException($"Item '{item.Id}' does not come from this mixture.", nameof(item));
}
