using Transformer2.Models.Llava;

namespace Transformer2.Tests.Models.Llava;

/// <summary>The encoding the tests' character tokenizers share: each <c>&lt;image&gt;</c> is one image token, every other character one id.</summary>
internal static class ImagePlaceholderText
{
    public static int[] Encode(string text, bool addBos, int bosId, int imageToken, Func<char, int> characterId)
    {
        var ids = new List<int>();
        if (addBos) ids.Add(bosId);
        for (int i = 0; i < text.Length; i++)
        {
            if (string.CompareOrdinal(text, i, LlavaPrompt.ImagePlaceholder, 0, LlavaPrompt.ImagePlaceholder.Length) == 0)
            {
                ids.Add(imageToken);
                i += LlavaPrompt.ImagePlaceholder.Length - 1;
                continue;
            }
            ids.Add(characterId(text[i]));
        }
        return ids.ToArray();
    }
}
