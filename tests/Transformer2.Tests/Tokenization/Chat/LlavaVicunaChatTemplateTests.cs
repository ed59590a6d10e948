using Transformer2.Models.Chat;

namespace Transformer2.Tests.Tokenization.Chat;

/// <summary>
/// Expected strings follow the llava-hf LLaVA-1.5 processors' chat template for text turns (images render as
/// <c>&lt;image&gt;\n</c> before the text, which the pipeline has already put in the text) and the model card's
/// <c>USER: &lt;image&gt;\n{prompt} ASSISTANT:</c>.
/// </summary>
[TestFixture]
public sealed class LlavaVicunaChatTemplateTests
{
    static readonly LlavaVicunaChatTemplate Template = LlavaVicunaChatTemplate.Instance;

    [Test]
    public void OneQuestionIsTheModelCardFormat()
    {
        Assert.That(Template.Render([ChatMessage.User("<image>\nWhat is shown?")]), Is.EqualTo("USER: <image>\nWhat is shown? ASSISTANT:"));
        Assert.That(Template.Render([ChatMessage.User("hi")], addGenerationPrompt: false), Is.EqualTo("USER: hi "));
    }

    [Test]
    public void TurnsEndWithASpaceAndTheSystemTextHasNoLabel()
    {
        var messages = new[] { ChatMessage.System("Be brief."), ChatMessage.User("Q1"), ChatMessage.Assistant("A1"), ChatMessage.User("Q2") };
        Assert.That(Template.Render(messages), Is.EqualTo("Be brief. USER: Q1 ASSISTANT: A1 USER: Q2 ASSISTANT:"));
    }

    [Test]
    public void UnknownRolesAndEmptyConversationsAreNamed()
    {
        var ex = Assert.Throws<ArgumentException>(() => Template.Render([new ChatMessage("tool", "x")]));
        Assert.That(ex!.Message, Does.Contain("'tool'").And.Contain("llava-1.5"));
        Assert.Throws<ArgumentException>(() => Template.Render([]));
    }
}
