using Transformer2.Models.Chat;

namespace Transformer2.Training.Tasks;

/// <summary>Turns a task's messages into the generation prompt the way the authors' vLLM wrapper does.</summary>
public static class TaskPrompt
{
    /// <summary>
    /// Renders <paramref name="messages"/> with the generation prompt. A trailing assistant message is a prefill: it is left out of
    /// the template and appended verbatim after the generation prompt (fishfarm <c>VLLMModel._into_prompt</c>). For the code template
    /// this gives <c>…@@ Response:```python</c> with no newline, while rendering the prefill as an assistant turn (the authors'
    /// log-prob path) gives <c>…@@ Response:\n```python</c>; callers that need the latter render the messages themselves.
    /// </summary>
    public static string Render(IChatTemplate template, IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(messages);
        var (conversation, prefill) = SplitPrefill(messages);
        return template.Render(conversation, addGenerationPrompt: true) + prefill;
    }

    /// <summary>Separates a trailing assistant prefill from the conversation; the prefill is empty when there is none.</summary>
    public static (IReadOnlyList<ChatMessage> Conversation, string Prefill) SplitPrefill(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count > 0 && messages[^1].Role == ChatRoles.Assistant)
        {
            return (messages.Take(messages.Count - 1).ToArray(), messages[^1].Content);
        }

        return (messages, string.Empty);
    }
}
