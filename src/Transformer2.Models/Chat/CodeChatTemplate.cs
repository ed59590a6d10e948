using System.Text;

namespace Transformer2.Models.Chat;

/// <summary>
/// The authors' <c>CODE_PROMPT</c> template (t2-reference §5.6), used for MBPP/HumanEval with both Llama-3 and Mistral:
/// <c>{system, stripped}\n\n</c>, then <c>@@ Instruction:\n{user, stripped}\n\n</c> and <c>@@ Response:\n{assistant, stripped}</c>
/// per turn, and <c>@@ Response:</c> as generation prompt after a final user turn. It writes no BOS token (the tokenizer
/// adds one when encoding), and nothing separates an assistant turn from the next instruction, as in the original.
/// </summary>
public sealed class CodeChatTemplate : IChatTemplate
{
    /// <summary>The single instance.</summary>
    public static CodeChatTemplate Instance { get; } = new();

    /// <summary>The system prompt of the authors' code tasks (sic: the double space is in the original).</summary>
    public const string SystemPrompt =
        "You are an exceptionally intelligent coding assistant that  consistently delivers accurate and reliable responses to user instructions.";

    private CodeChatTemplate()
    {
    }

    /// <inheritdoc />
    public string Name => "code";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">No messages, an unknown role, or user/assistant turns that do not alternate.</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ChatTemplateInput.Validate(messages, Name);
        var text = new StringBuilder();
        var first = 0;
        if (messages[0].Role == ChatRoles.System)
        {
            text.Append(ChatTemplateInput.PythonStrip(messages[0].Content)).Append("\n\n");
            first = 1;
        }
        for (var i = first; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role is not (ChatRoles.User or ChatRoles.Assistant))
                throw ChatTemplateInput.UnknownRole(message, i, Name, "user and assistant, with an optional system message first");
            if ((message.Role == ChatRoles.User) != ((i - first) % 2 == 0))
                throw new ArgumentException(
                    $"Message {i} has role '{message.Role}': conversation roles must alternate user/assistant/user/assistant/...", nameof(messages));
            if (message.Role == ChatRoles.User)
                text.Append("@@ Instruction:\n").Append(ChatTemplateInput.PythonStrip(message.Content)).Append("\n\n");
            else
                text.Append("@@ Response:\n").Append(ChatTemplateInput.PythonStrip(message.Content));
        }
        if (addGenerationPrompt && messages[^1].Role == ChatRoles.User) text.Append("@@ Response:");
        return text.ToString();
    }
}
