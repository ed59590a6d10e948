using Microsoft.Extensions.AI;
using T2Chat = Transformer2.Models.Chat;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>Our chat messages as Microsoft.Extensions.AI's, for a pass sent to an <see cref="IChatClient"/>: text only.</summary>
internal static class RemoteChatMessages
{
    /// <summary>Converts <paramref name="messages"/>; one carrying images is refused, naming <paramref name="pass"/> (for example "a remote second pass").</summary>
    public static List<ChatMessage> ToText(IReadOnlyList<T2Chat.ChatMessage> messages, string pass, string parameterName) =>
        messages.Select((m, i) => m.Images.Count == 0 ? new ChatMessage(new ChatRole(m.Role), m.Content)
            : throw new ArgumentException($"Message {i} carries {m.Images.Count} image(s); {pass} sends text only.", parameterName)).ToList();
}
