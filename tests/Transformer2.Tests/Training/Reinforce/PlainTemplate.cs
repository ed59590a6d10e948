using Transformer2.Models.Chat;

namespace Transformer2.Tests.Training.Reinforce;

/// <summary>Concatenates the contents: the trainer tests need no chat markup.</summary>
internal sealed class PlainTemplate : IChatTemplate
{
    public string Name => "plain";

    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) => string.Concat(messages.Select(m => m.Content));
}
