namespace Transformer2.Models.Chat;

/// <summary>One turn of a conversation, as chat templates render it.</summary>
/// <param name="Role">The speaker: <c>system</c>, <c>user</c> or <c>assistant</c> (see <see cref="ChatRoles"/>).</param>
/// <param name="Content">The text of the turn.</param>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>A system message.</summary>
    public static ChatMessage System(string content) => new(ChatRoles.System, content);

    /// <summary>A user message.</summary>
    public static ChatMessage User(string content) => new(ChatRoles.User, content);

    /// <summary>An assistant message.</summary>
    public static ChatMessage Assistant(string content) => new(ChatRoles.Assistant, content);
}
