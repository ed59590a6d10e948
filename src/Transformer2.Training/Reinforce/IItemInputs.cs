using Transformer2.Models.Generation;
using Transformer2.Training.Tasks;

namespace Transformer2.Training.Reinforce;

/// <summary>
/// What a text prompt cannot carry, such as an item's image: an optional hook of <see cref="ReinforceTrainer"/> (and of
/// anything that generates or scores task items) that adjusts each item's prompt ids and embeds a batch of them.
/// </summary>
public interface IItemInputs
{
    /// <summary>The prompt ids the model sees for <paramref name="item"/> (for LLaVA: each image token expanded to the image's token count).</summary>
    int[] PreparePrompt(TaskItem item, int[] promptIds);

    /// <summary>An embedder for ids [B, T] whose row b belongs to <paramref name="items"/>[b] (prompt plus any completion, padded).</summary>
    PromptEmbedder Embedder(IReadOnlyList<TaskItem> items);
}
