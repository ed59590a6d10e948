namespace Transformer2.Models.Chat;

/// <summary>Checks shared by the chat templates and the whitespace rule their Jinja originals use.</summary>
internal static class ChatTemplateInput
{
    /// <summary>Throws unless there is at least one message and none is null or has null text.</summary>
    public static void Validate(IReadOnlyList<ChatMessage> messages, string templateName)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
            throw new ArgumentException($"The {templateName} chat template needs at least one message.", nameof(messages));
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is null || messages[i].Role is null || messages[i].Content is null)
                throw new ArgumentException($"Message {i} (or its role or content) is null.", nameof(messages));
        }
    }

    /// <summary>An exception for a role the template does not know, naming the role, its position and the allowed roles.</summary>
    public static ArgumentException UnknownRole(ChatMessage message, int index, string templateName, string allowed) =>
        new($"Message {index} has role '{message.Role}', which the {templateName} chat template does not support (allowed: {allowed}).", "messages");

    /// <summary>Python's <c>str.strip()</c>, which Jinja's <c>trim</c> filter calls: it also strips U+001C..U+001F.</summary>
    public static string PythonStrip(string text)
    {
        static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001C' and <= '\u001F';
        var start = 0;
        var end = text.Length;
        while (start < end && IsPythonSpace(text[start])) start++;
        while (end > start && IsPythonSpace(text[end - 1])) end--;
        return text[start..end];
    }
}
