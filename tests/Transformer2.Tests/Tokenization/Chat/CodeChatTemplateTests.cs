using Transformer2.Models.Chat;

namespace Transformer2.Tests.Tokenization.Chat;

/// <summary>
/// The authors' CODE_PROMPT (t2-reference §5.6). Expected strings were checked once against jinja2 3.1.6 rendering the
/// authors' template string after their own <c>.replace("    ", "").replace("\n", "")</c>.
/// </summary>
[TestFixture]
public sealed class CodeChatTemplateTests
{
    private static readonly CodeChatTemplate Template = CodeChatTemplate.Instance;

    [Test]
    public void UserTurnWithAndWithoutGenerationPrompt()
    {
        Assert.That(Template.Render([ChatMessage.User(" Hi ")]), Is.EqualTo("@@ Instruction:\nHi\n\n@@ Response:"));
        Assert.That(Template.Render([ChatMessage.User(" Hi ")], addGenerationPrompt: false), Is.EqualTo("@@ Instruction:\nHi\n\n"));
    }

    [Test]
    public void SystemAndMultiTurn()
    {
        Assert.That(Template.Render([ChatMessage.System("SYS "), ChatMessage.User("U1")]), Is.EqualTo("SYS\n\n@@ Instruction:\nU1\n\n@@ Response:"));
        Assert.That(
            Template.Render([ChatMessage.System("SYS"), ChatMessage.User("U1"), ChatMessage.Assistant(" A1 \n"), ChatMessage.User("U2")]),
            Is.EqualTo("SYS\n\n@@ Instruction:\nU1\n\n@@ Response:\nA1@@ Instruction:\nU2\n\n@@ Response:"));
        Assert.That(Template.Render([ChatMessage.User("U1"), ChatMessage.Assistant("A1")]), Is.EqualTo("@@ Instruction:\nU1\n\n@@ Response:\nA1"));
    }

    [Test]
    public void TheAuthorsCodeSystemPromptKeepsItsDoubleSpace()
    {
        Assert.That(CodeChatTemplate.SystemPrompt, Does.Contain("assistant that  consistently"));
        Assert.That(Template.Render([ChatMessage.System(CodeChatTemplate.SystemPrompt), ChatMessage.User("Write f.")]),
            Does.StartWith(CodeChatTemplate.SystemPrompt + "\n\n@@ Instruction:\nWrite f.\n\n"));
    }

    [Test]
    public void BadRolesThrow()
    {
        Assert.That(() => Template.Render([ChatMessage.Assistant("a")]), Throws.ArgumentException.With.Message.Contains("must alternate"));
        Assert.That(() => Template.Render([ChatMessage.User("a"), new ChatMessage("critic", "b")]),
            Throws.ArgumentException.With.Message.Contains("'critic'"));
        Assert.That(() => Template.Render([]), Throws.ArgumentException);
    }
}
