namespace Transformer2.Models.Llava;

/// <summary>Puts images into a tokenised prompt the way Hugging Face's LLaVA processors do.</summary>
public static class LlavaPrompt
{
    /// <summary>The text placeholder of one image; LLaVA tokenizers map it to <c>image_token_index</c>.</summary>
    public const string ImagePlaceholder = "<image>";

    /// <summary>
    /// Replaces the i-th image token of <paramref name="ids"/> with <paramref name="tokenCounts"/>[i] copies of it, so the
    /// text has one position per image feature.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt holds a different number of image tokens than there are counts.</exception>
    public static int[] ExpandImageTokens(IReadOnlyList<int> ids, int imageTokenIndex, IReadOnlyList<int> tokenCounts)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(tokenCounts);
        int placeholders = ids.Count(id => id == imageTokenIndex);
        if (placeholders != tokenCounts.Count)
            throw new ArgumentException(
                $"the prompt holds {placeholders} image tokens (id {imageTokenIndex}) but {tokenCounts.Count} images were given; put one '{ImagePlaceholder}' per image in the text and make sure the tokenizer maps it to id {imageTokenIndex}.",
                nameof(ids));
        var expanded = new List<int>(ids.Count + tokenCounts.Sum());
        int image = 0;
        foreach (int id in ids)
        {
            if (id != imageTokenIndex)
            {
                expanded.Add(id);
                continue;
            }
            int count = tokenCounts[image++];
            if (count <= 0) throw new ArgumentException($"image {image - 1} has a token count of {count}.", nameof(tokenCounts));
            expanded.AddRange(Enumerable.Repeat(imageTokenIndex, count));
        }
        return expanded.ToArray();
    }
}
