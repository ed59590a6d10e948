using TorchSharp;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Models.Generation;

/// <summary>Per-token log-probabilities of given completions (teacher forcing): log π(completion_j | prompt, completion_&lt;j).</summary>
/// <remarks>
/// This is the scoring pass of policy-gradient training: run it with gradients enabled and the result stays connected to every
/// parameter (and to any module swapped into the model). Sequences are right-padded, so padding never changes a real token's score.
/// </remarks>
public static class SequenceScorer
{
    /// <summary>Log-probabilities [C] (float32) of <paramref name="completionIds"/> following <paramref name="promptIds"/>.</summary>
    /// <exception cref="ArgumentException">The prompt or completion is empty or holds an id outside the vocabulary.</exception>
    public static Tensor ComputeLogProbs(LlamaForCausalLM model, IReadOnlyList<int> promptIds, IReadOnlyList<int> completionIds)
    {
        using var scope = NewDisposeScope();
        using var batch = ComputeLogProbs(model, [(promptIds, completionIds)]);
        return batch.LogProbs[0].clone().MoveToOuterDisposeScope();
    }

    /// <summary>Scores a batch of (prompt, completion) pairs in one forward pass.</summary>
    /// <returns>Log-probabilities [B, C_max] (float32, 0 past each completion's end) and the matching mask [B, C_max].</returns>
    /// <exception cref="ArgumentException">A prompt or completion is empty or holds an id outside the vocabulary.</exception>
    public static CompletionLogProbs ComputeLogProbs(LlamaForCausalLM model, IReadOnlyList<(IReadOnlyList<int> Prompt, IReadOnlyList<int> Completion)> pairs) =>
        Score(model, pairs, null);

    /// <summary>
    /// Scores a batch of pairs whose right-padded ids [B, L] are embedded by <paramref name="embedInputs"/> (for example with
    /// LLaVA image features written in); otherwise as <see cref="ComputeLogProbs(LlamaForCausalLM, IReadOnlyList{ValueTuple{IReadOnlyList{int}, IReadOnlyList{int}}})"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A prompt or completion is empty or holds an id outside the vocabulary.</exception>
    public static CompletionLogProbs ComputeLogProbs(LlamaForCausalLM model, IReadOnlyList<(IReadOnlyList<int> Prompt, IReadOnlyList<int> Completion)> pairs, PromptEmbedder embedInputs)
    {
        ArgumentNullException.ThrowIfNull(embedInputs);
        return Score(model, pairs, embedInputs);
    }

    static CompletionLogProbs Score(LlamaForCausalLM model, IReadOnlyList<(IReadOnlyList<int> Prompt, IReadOnlyList<int> Completion)> pairs, PromptEmbedder? embedInputs)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(pairs);
        if (pairs.Count == 0) throw new ArgumentException("At least one (prompt, completion) pair is needed.", nameof(pairs));
        int vocab = model.Config.VocabSize;
        for (int row = 0; row < pairs.Count; row++)
        {
            var (prompt, completion) = pairs[row];
            if (prompt is null || prompt.Count == 0) throw new ArgumentException($"Prompt {row} is empty; the first completion token needs a context.", nameof(pairs));
            if (completion is null || completion.Count == 0) throw new ArgumentException($"Completion {row} is empty.", nameof(pairs));
            foreach (int id in prompt.Concat(completion))
                if (id < 0 || id >= vocab) throw new ArgumentException($"Pair {row} holds token id {id}, outside the vocabulary [0, {vocab}).", nameof(pairs));
        }

        using var scope = NewDisposeScope();
        int rows = pairs.Count;
        int length = pairs.Max(p => p.Prompt.Count + p.Completion.Count);
        int completionLength = pairs.Max(p => p.Completion.Count);
        var ids = new long[rows * length];
        var sources = new long[rows * completionLength]; // position whose output predicts each completion token
        var targets = new long[rows * completionLength];
        var valid = new bool[rows * completionLength];
        for (int r = 0; r < rows; r++)
        {
            var (prompt, completion) = pairs[r];
            int i = 0;
            foreach (int id in prompt) ids[r * length + i++] = id;
            foreach (int id in completion) ids[r * length + i++] = id;
            for (int j = 0; j < completion.Count; j++)
            {
                sources[r * completionLength + j] = prompt.Count + j - 1;
                targets[r * completionLength + j] = completion[j];
                valid[r * completionLength + j] = true;
            }
        }
        var device = model.Device;
        var input = tensor(ids, [rows, length], device: device);
        var hidden = embedInputs is null ? model.ForwardHidden(input) : model.ForwardHiddenFromEmbeddings(embedInputs(input)); // [B, L, hidden]
        long width = hidden.shape[2];
        var index = tensor(sources, [rows, completionLength], device: device);
        var picked = hidden.gather(1, index.unsqueeze(2).expand(rows, completionLength, width)); // [B, C, hidden]
        var logits = model.lm_head.call(picked).to_type(ScalarType.Float32); // [B, C, V]
        var target = tensor(targets, [rows, completionLength], device: device);
        var mask = tensor(valid, [rows, completionLength], device: device);
        var logProbs = logits.log_softmax(2).gather(2, target.unsqueeze(2)).squeeze(2).masked_fill(mask.logical_not(), 0); // [B, C]
        return new CompletionLogProbs(logProbs.MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
    }
}
