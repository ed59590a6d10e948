using TorchSharp;
using Transformer2.Core;
using static TorchSharp.torch;

namespace Transformer2.Models.Generation;

/// <summary>The token-choice rules of <see cref="GenerationOptions"/>, on float32 logits [B, V].</summary>
internal static class LogitsProcessor
{
    /// <summary>Divides positive and multiplies negative logits of every id in <paramref name="seen"/> [B, S] by <paramref name="penalty"/>.</summary>
    public static Tensor RepetitionPenalty(Tensor logits, Tensor seen, double penalty)
    {
        using var scope = NewDisposeScope();
        var scores = logits.gather(1, seen); // [B, S]
        var penalised = where(scores.lt(0), scores * penalty, scores / penalty);
        // Repeated ids write the same value, so duplicates in seen are harmless.
        return logits.clone().scatter_(1, seen, penalised).MoveToOuterDisposeScope();
    }

    /// <summary>Keeps the <paramref name="k"/> largest logits per row (ties with the k-th kept), sets the rest to -inf.</summary>
    public static Tensor TopK(Tensor logits, int k)
    {
        using var scope = NewDisposeScope();
        if (k >= logits.shape[1]) return logits.clone().MoveToOuterDisposeScope();
        var (values, _) = logits.topk(k, dim: 1);
        var threshold = values.narrow(1, k - 1, 1); // [B, 1]
        return logits.masked_fill(logits.lt(threshold), KeptScalars.MinusInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>Keeps the smallest set of most likely tokens whose probability reaches <paramref name="p"/> (at least one), sets the rest to -inf.</summary>
    public static Tensor TopP(Tensor logits, double p)
    {
        using var scope = NewDisposeScope();
        var (sorted, order) = logits.sort(dim: 1, descending: true); // [B, V] each
        var probabilities = sorted.softmax(1);
        var before = probabilities.cumsum(1) - probabilities; // mass of strictly more likely tokens
        var dropSorted = before.ge(p);
        var drop = zeros_like(dropSorted).scatter_(1, order, dropSorted); // back to vocabulary order
        return logits.masked_fill(drop, KeptScalars.MinusInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>Chooses the next token of each row: greedy when temperature is 0, otherwise sampled. Returns int64 [B].</summary>
    public static Tensor Choose(Tensor logits, Tensor? seen, GenerationOptions options, Generator? generator)
    {
        using var scope = NewDisposeScope();
        if (options.RepetitionPenalty != 1.0 && seen is not null) logits = RepetitionPenalty(logits, seen, options.RepetitionPenalty);
        if (options.Temperature == 0) return logits.argmax(1).MoveToOuterDisposeScope();
        logits = logits / options.Temperature;
        if (options.TopK > 0) logits = TopK(logits, options.TopK);
        if (options.TopP < 1.0) logits = TopP(logits, options.TopP);
        var probabilities = logits.softmax(1);
        return probabilities.multinomial(1, generator: generator).squeeze(1).MoveToOuterDisposeScope();
    }
}
