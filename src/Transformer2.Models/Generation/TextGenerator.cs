using System.Runtime.CompilerServices;
using Transformer2.Models.Llama;

namespace Transformer2.Models.Generation;

/// <summary>
/// Generates tokens from a <see cref="LlamaForCausalLM"/>: greedy or sampled (temperature, top-k, top-p, repetition penalty, seed),
/// one prompt or a left-padded batch whose rows stop independently, all at once or streamed.
/// </summary>
/// <remarks>Uses a preallocated KV cache, so each new token costs one single-position forward pass.</remarks>
/// <param name="model">The model; it is not disposed by the generator.</param>
/// <param name="decode">Turns token ids into text; needed only for <see cref="GenerationOptions.StopStrings"/>.</param>
public sealed class TextGenerator(LlamaForCausalLM model, Func<IReadOnlyList<int>, string>? decode = null)
{
    readonly LlamaForCausalLM _model = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>Generates a continuation of <paramref name="promptIds"/>.</summary>
    /// <exception cref="ArgumentException">The prompt or the options are invalid.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public GenerationResult Generate(IReadOnlyList<int> promptIds, GenerationOptions options, CancellationToken cancellationToken = default) =>
        GenerateBatch([promptIds], options, cancellationToken)[0];

    /// <summary>Generates a continuation for each prompt in one left-padded batch; each row stops on its own.</summary>
    /// <exception cref="ArgumentException">A prompt or the options are invalid.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IReadOnlyList<GenerationResult> GenerateBatch(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options, CancellationToken cancellationToken = default) =>
        Run(prompts, options, null, cancellationToken);

    /// <summary>
    /// Generates for a left-padded batch whose prompt is embedded by <paramref name="embedPrompt"/> (for example with
    /// image features written in, see <c>LlavaForConditionalGeneration.ImageEmbedder</c>); later tokens are embedded as usual.
    /// </summary>
    /// <exception cref="ArgumentException">A prompt or the options are invalid.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IReadOnlyList<GenerationResult> GenerateBatch(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options, PromptEmbedder embedPrompt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(embedPrompt);
        return Run(prompts, options, embedPrompt, cancellationToken);
    }

    IReadOnlyList<GenerationResult> Run(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options, PromptEmbedder? embedPrompt, CancellationToken cancellationToken)
    {
        using var session = new GenerationSession(_model, prompts, options, decode, embedPrompt);
        while (!session.Done)
        {
            cancellationToken.ThrowIfCancellationRequested();
            session.Step();
        }
        return session.Results();
    }

    /// <summary>Streams the continuation of <paramref name="promptIds"/> token by token; each step runs on the thread pool.</summary>
    public IAsyncEnumerable<GeneratedToken> StreamAsync(IReadOnlyList<int> promptIds, GenerationOptions options, CancellationToken cancellationToken = default) =>
        StreamBatchAsync([promptIds], options, cancellationToken);

    /// <summary>Streams a batched generation: per step, one token for every row still running (see <see cref="GeneratedToken.Row"/>).</summary>
    public async IAsyncEnumerable<GeneratedToken> StreamBatchAsync(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var session = new GenerationSession(_model, prompts, options, decode);
        while (!session.Done)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var tokens = await Task.Run(session.Step, cancellationToken).ConfigureAwait(false);
            foreach (var token in tokens) yield return token;
        }
    }
}
