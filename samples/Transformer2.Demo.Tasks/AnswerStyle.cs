using Transformer2.Training.Tasks;

namespace Transformer2.Demo.Tasks;

/// <summary>
/// Why the base model has skills it does not reliably use. Pre-training text answers each problem either by working it
/// out (right) or carelessly (a plausible wrong value in the same format), and how often it works the answer out depends
/// on the prompt's phrasing: mostly after the favoured phrasing, rarely after the other one. The base model so learns to
/// compute every answer, but under greedy decoding it only does so after the favoured phrasing; an SVF expert trained by
/// REINFORCE has to make it work the answer out after either phrasing.
/// </summary>
public static class AnswerStyle
{
    /// <summary>Metadata key of an item's careless answer.</summary>
    public const string CarelessKey = "careless";

    /// <summary>Metadata key of whether each answer line is asked for with the favoured phrasing ("1") or the other one ("0"), comma-separated.</summary>
    public const string FavouredKey = "favoured";

    /// <summary>Share of problems drawn with the favoured phrasing.</summary>
    public const double FavouredShare = 0.35;

    /// <summary>How often pre-training text works the answer out after the favoured phrasing.</summary>
    public const double WorkedAfterFavoured = 0.85;

    /// <summary>How often pre-training text works the answer out after the other phrasing.</summary>
    public const double WorkedAfterOther = 0.25;

    /// <summary>Whether every part of <paramref name="item"/> is asked for with the favoured phrasing.</summary>
    public static bool IsFavoured(TaskItem item) => Flags(item ?? throw new ArgumentNullException(nameof(item))) is { Length: > 0 } flags && flags.All(f => f);

    /// <summary>
    /// The item as pre-training text shows it: each answer line worked out (the reference's line) or, with its phrasing's
    /// probability, careless. Items without a careless answer (classification prompts) are returned unchanged.
    /// </summary>
    /// <exception cref="ArgumentException">The item's reference, careless answer and phrasing flags disagree on the number of lines.</exception>
    public static TaskItem AsPretrainingText(TaskItem item, Random random)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(random);
        if (!item.Metadata.TryGetValue(CarelessKey, out var careless)) return item;
        var flags = Flags(item);
        var worked = (item.Reference ?? "").Split('\n');
        var wrong = careless.Split('\n');
        if (worked.Length != flags.Length || wrong.Length != flags.Length)
            throw new ArgumentException($"Item '{item.Id}': {worked.Length} reference line(s), {wrong.Length} careless line(s) and {flags.Length} phrasing flag(s) must agree.", nameof(item));
        var lines = flags.Select((favoured, i) => random.NextDouble() < (favoured ? WorkedAfterFavoured : WorkedAfterOther) ? worked[i] : wrong[i]);
        return item with { References = [string.Join('\n', lines)] };
    }

    static bool[] Flags(TaskItem item) =>
        item.Metadata.TryGetValue(FavouredKey, out var f) ? f.Split(',').Select(x => x == "1").ToArray() : [];

    /// <summary>A plausible wrong integer near <paramref name="value"/> (never equal to it, never negative).</summary>
    internal static int NearMiss(Random random, int value)
    {
        int[] deltas = [-2, -1, 1, 2];
        while (true)
        {
            int wrong = value + deltas[random.Next(deltas.Length)];
            if (wrong >= 0 && wrong != value) return wrong;
        }
    }
}
