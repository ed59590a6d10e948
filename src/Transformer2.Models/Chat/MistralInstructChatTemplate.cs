using System.Text;

namespace Transformer2.Models.Chat;

/// <summary>
/// Mistral-7B-Instruct-v0.3's chat format, as the <c>chat_template</c> of its <c>tokenizer_config.json</c> renders plain
/// conversations: <c>&lt;s&gt;</c>, then <c>[INST] {user}[/INST]</c> and <c> {assistant, stripped}&lt;/s&gt;</c>.
/// A leading system message is not a turn of its own: it is written before the <b>last</b> message's text
/// (<c>[INST] {system}\n\n{user}[/INST]</c>) when that message is from the user, and dropped otherwise, exactly as the
/// template does. Roles must alternate user/assistant after the optional system message. The template has no generation
/// prompt (the text after <c>[/INST]</c> is where the answer starts), so <c>addGenerationPrompt</c> changes nothing.
/// The render holds the BOS token: encode it without adding another.
/// </summary>
public sealed class MistralInstructChatTemplate : IChatTemplate
{
    /// <summary>The single instance.</summary>
    public static MistralInstructChatTemplate Instance { get; } = new();

    private MistralInstructChatTemplate()
    {
    }

    /// <inheritdoc />
    public string Name => "mistral-v0.3";

    /// <summary>The beginning-of-sequence token the render starts with.</summary>
    public string BosToken => "<s>";

    /// <summary>The end-of-sequence token closing every assistant turn.</summary>
    public string EosToken => "</s>";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">
    /// No messages, a role other than user/assistant (besides a first system message), or roles that do not alternate;
    /// the message quotes the template's own error text.
    /// </exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ChatTemplateInput.Validate(messages, Name);
        string? system = null;
        var first = 0;
        if (messages[0].Role == ChatRoles.System)
        {
            system = messages[0].Content;
            first = 1;
        }

        for (var i = first; i < messages.Count; i++)
        {
            var role = messages[i].Role;
            if (role is not (ChatRoles.User or ChatRoles.Assistant))
                throw ChatTemplateInput.UnknownRole(messages[i], i, Name,
                    "user and assistant, with an optional system message first (Only user and assistant roles are supported, with the exception of an initial optional system message!)");
            if ((role == ChatRoles.User) != ((i - first) % 2 == 0))
                throw new ArgumentException(
                    $"Message {i} has role '{role}': after the optional system message, conversation roles must alternate user/assistant/user/assistant/...",
                    nameof(messages));
        }

        var text = new StringBuilder(BosToken);
        for (var i = first; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role == ChatRoles.User)
            {
                text.Append("[INST] ");
                if (system is not null && i == messages.Count - 1) text.Append(system).Append("\n\n");
                text.Append(message.Content).Append("[/INST]");
            }
            else
            {
                text.Append(' ').Append(ChatTemplateInput.PythonStrip(message.Content)).Append(EosToken);
            }
        }
        return text.ToString();
    }
}
