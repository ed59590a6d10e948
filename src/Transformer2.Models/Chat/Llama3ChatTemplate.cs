using System.Text;

namespace Transformer2.Models.Chat;

/// <summary>
/// The Llama-3 Instruct chat format, as the <c>chat_template</c> of Meta-Llama-3-8B-Instruct's
/// <c>tokenizer_config.json</c> renders it: <c>&lt;|begin_of_text|&gt;</c> once, then per message
/// <c>&lt;|start_header_id|&gt;{role}&lt;|end_header_id|&gt;\n\n{content, stripped}&lt;|eot_id|&gt;</c>, and the
/// assistant header as generation prompt. The rendered text already holds the BOS token: encode it without adding another.
/// </summary>
public sealed class Llama3ChatTemplate : IChatTemplate
{
    private const string HeaderStart = "<|start_header_id|>";
    private const string HeaderEnd = "<|end_header_id|>\n\n";
    private const string EndOfTurn = "<|eot_id|>";

    /// <summary>The roles this template accepts: the three chat roles and Llama-3.1's tool roles.</summary>
    public static IReadOnlyList<string> SupportedRoles { get; } = [ChatRoles.System, ChatRoles.User, ChatRoles.Assistant, "ipython", "tool"];

    /// <summary>The checkpoint's own template.</summary>
    public static Llama3ChatTemplate Instruct { get; } = new("llama3", "");

    /// <summary>
    /// The authors' <c>LLAMA3_COT</c> (used for ARC): the generation prompt continues with <c>Let's think step by step</c>.
    /// </summary>
    public static Llama3ChatTemplate ChainOfThought { get; } = new("llama3-cot", "Let's think step by step");

    private Llama3ChatTemplate(string name, string generationPromptSuffix)
    {
        Name = name;
        GenerationPromptSuffix = generationPromptSuffix;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Text appended after the assistant header when a generation prompt is added.</summary>
    public string GenerationPromptSuffix { get; }

    /// <summary>The beginning-of-text token the render starts with.</summary>
    public string BosToken => "<|begin_of_text|>";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">No messages, a null message, or a role outside <see cref="SupportedRoles"/>.</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ChatTemplateInput.Validate(messages, Name);
        var text = new StringBuilder(BosToken);
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if (!SupportedRoles.Contains(message.Role, StringComparer.Ordinal))
                throw ChatTemplateInput.UnknownRole(message, i, Name, string.Join(", ", SupportedRoles));
            text.Append(HeaderStart).Append(message.Role).Append(HeaderEnd)
                .Append(ChatTemplateInput.PythonStrip(message.Content)).Append(EndOfTurn);
        }
        if (addGenerationPrompt)
            text.Append(HeaderStart).Append(ChatRoles.Assistant).Append(HeaderEnd).Append(GenerationPromptSuffix);
        return text.ToString();
    }
}
