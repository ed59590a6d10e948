namespace Transformer2.Models.Chat;

/// <summary>Turns a conversation into the exact prompt text a model was trained on.</summary>
public interface IChatTemplate
{
    /// <summary>A short name for logs and metadata (for example <c>llama3</c>).</summary>
    string Name { get; }

    /// <summary>Renders <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/> the text ends where the assistant's answer begins.</summary>
    string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true);
}
