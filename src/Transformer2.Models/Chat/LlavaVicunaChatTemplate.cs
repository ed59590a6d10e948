using System.Text;

namespace Transformer2.Models.Chat;

/// <summary>
/// LLaVA-1.5's Vicuna-style prompt, as the <c>chat_template</c> of the <c>llava-hf/llava-1.5-*-hf</c> processors renders
/// plain-text turns: <c>USER: {text} </c>, <c>ASSISTANT: {text} </c>, a system message as its bare text followed by a
/// space, and <c>ASSISTANT:</c> as the generation prompt — so one question reads <c>USER: &lt;image&gt;\n{question} ASSISTANT:</c>,
/// the format of the model card. Images are already <c>&lt;image&gt;\n</c> placeholders in front of the text (the template
/// renders a turn's images before its text). The render has no BOS: the tokenizer adds it, as the processor does.
/// </summary>
public sealed class LlavaVicunaChatTemplate : IChatTemplate
{
    /// <summary>The single instance.</summary>
    public static LlavaVicunaChatTemplate Instance { get; } = new();

    private LlavaVicunaChatTemplate()
    {
    }

    /// <inheritdoc />
    public string Name => "llava-1.5";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">No messages, or a role other than system, user and assistant.</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ChatTemplateInput.Validate(messages, Name);
        var text = new StringBuilder();
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            switch (message.Role)
            {
                case ChatRoles.System:
                    break;
                case ChatRoles.User:
                    text.Append("USER: ");
                    break;
                case ChatRoles.Assistant:
                    text.Append("ASSISTANT: ");
                    break;
                default:
                    throw ChatTemplateInput.UnknownRole(message, i, Name, "system, user and assistant");
            }
            text.Append(message.Content).Append(' ');
        }
        if (addGenerationPrompt) text.Append("ASSISTANT:");
        return text.ToString();
    }
}
