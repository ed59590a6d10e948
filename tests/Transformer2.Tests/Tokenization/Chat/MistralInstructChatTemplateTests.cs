using Transformer2.Models.Chat;

namespace Transformer2.Tests.Tokenization.Chat;

/// <summary>
/// Expected strings follow Mistral-7B-Instruct-v0.3's Jinja <c>chat_template</c>; each was checked once against jinja2 3.1.6
/// rendering that template (sandboxed, trim_blocks and lstrip_blocks, as transformers does).
/// </summary>
[TestFixture]
public sealed class MistralInstructChatTemplateTests
{
    private static readonly MistralInstructChatTemplate Template = MistralInstructChatTemplate.Instance;

    [Test]
    public void SingleUserTurnKeepsTheUserTextAsIs()
    {
        Assert.That(Template.Render([ChatMessage.User(" Hi ")]), Is.EqualTo("<s>[INST]  Hi [/INST]"));
    }

    [Test]
    public void SystemMessageGoesBeforeTheLastUserMessage()
    {
        Assert.That(Template.Render([ChatMessage.System("SYS "), ChatMessage.User("U1")]), Is.EqualTo("<s>[INST] SYS \n\nU1[/INST]"));
        Assert.That(
            Template.Render([ChatMessage.System("SYS"), ChatMessage.User("U1"), ChatMessage.Assistant(" A1 \n"), ChatMessage.User("U2")]),
            Is.EqualTo("<s>[INST] U1[/INST] A1</s>[INST] SYS\n\nU2[/INST]"));
    }

    [Test]
    public void SystemMessageIsDroppedWhenTheLastMessageIsTheAssistants()
    {
        Assert.That(Template.Render([ChatMessage.System("SYS"), ChatMessage.User("U1"), ChatMessage.Assistant("A1")]),
            Is.EqualTo("<s>[INST] U1[/INST] A1</s>"));
    }

    [Test]
    public void GenerationPromptFlagChangesNothing()
    {
        var messages = new[] { ChatMessage.User("U1"), ChatMessage.Assistant("A1") };
        Assert.That(Template.Render(messages, addGenerationPrompt: false), Is.EqualTo(Template.Render(messages)));
        Assert.That(Template.Render(messages), Is.EqualTo("<s>[INST] U1[/INST] A1</s>"));
    }

    [Test]
    public void RolesMustAlternateAndBeKnown()
    {
        Assert.That(() => Template.Render([ChatMessage.User("a"), ChatMessage.User("b")]),
            Throws.ArgumentException.With.Message.Contains("must alternate").And.Message.Contains("Message 1"));
        Assert.That(() => Template.Render([ChatMessage.Assistant("a")]), Throws.ArgumentException.With.Message.Contains("must alternate"));
        Assert.That(() => Template.Render([ChatMessage.User("a"), ChatMessage.System("late system")]),
            Throws.ArgumentException.With.Message.Contains("'system'"));
        Assert.That(() => Template.Render([ChatMessage.User("a"), new ChatMessage("tool", "x")]),
            Throws.ArgumentException.With.Message.Contains("'tool'"));
        Assert.That(() => Template.Render([]), Throws.ArgumentException);
    }

    [Test]
    public void RenderedPromptEncodesToMistralCommonsLayout()
    {
        // mistral_common builds [BOS, [INST], encode(user), [/INST], encode(answer), EOS]; the rendered text must give the same.
        var tokenizer = Transformer2.Tests.Tokenization.SentencePieceControlTokenFixture.Create(out var id, out var cleanup);
        try
        {
            var ids = tokenizer.Encode(Template.Render([ChatMessage.User("Hi"), ChatMessage.Assistant("Hello")]));
            Assert.That(ids, Is.EqualTo(new[] { 1, 3, id("▁Hi"), 4, id("▁Hello"), 2 }));
        }
        finally
        {
            cleanup();
        }
    }
}
