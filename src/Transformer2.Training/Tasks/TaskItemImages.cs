using Transformer2.Models.Chat;
using Transformer2.Models.Llava;

namespace Transformer2.Training.Tasks;

/// <summary>Puts a task item's image on the messages that ask it, for pipelines that take images on messages (Transformer²'s).</summary>
public static class TaskItemImages
{
    /// <summary>
    /// The item's image as a <see cref="ChatImage"/>: its <see cref="TaskItem.ImageBytes"/> when set, else its file
    /// <see cref="TaskItem.ImagePath"/>; <see langword="null"/> when it has none.
    /// </summary>
    public static ChatImage? Image(TaskItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (item.ImageBytes is { } bytes)
            return ChatImage.FromBytes(bytes, item.Metadata.TryGetValue("image_path", out var name) ? $"item '{item.Id}' image ({name})" : $"item '{item.Id}' image");
        return item.ImagePath is { } path ? ChatImage.FromFile(path) : null;
    }

    /// <summary>
    /// <paramref name="messages"/> with the item's image attached to the first message holding an <c>&lt;image&gt;</c>
    /// placeholder (as <see cref="VqaTask"/> writes it), else to the last user message; unchanged when the item has no image.
    /// </summary>
    /// <exception cref="ArgumentException">The item has an image but the messages have no user message.</exception>
    public static IReadOnlyList<ChatMessage> Attach(IReadOnlyList<ChatMessage> messages, TaskItem item)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (Image(item) is not { } image) return messages;
        int index = -1;
        for (int i = 0; i < messages.Count && index < 0; i++)
            if (messages[i].Content.Contains(LlavaPrompt.ImagePlaceholder, StringComparison.Ordinal)) index = i;
        if (index < 0)
        {
            for (int i = messages.Count - 1; i >= 0 && index < 0; i--)
                if (messages[i].Role == ChatRoles.User) index = i;
        }
        if (index < 0) throw new ArgumentException($"Item '{item.Id}' has an image but its messages have no user message to show it with.", nameof(messages));
        var result = messages.ToArray();
        result[index] = result[index] with { Images = [.. result[index].Images, image] };
        return result;
    }
}
