using Transformer2.Adaptation.Dispatch;
using Transformer2.Models.Chat;

namespace Transformer2.Tests.Adaptation;

public class ClassificationPromptBuilderTests
{
    static readonly ExpertCategory[] Authors =
        ClassificationPromptBuilder.AuthorsCategories.Select(c => new ExpertCategory(c.Label, c.Label + "-expert", c.Description)).ToArray();

    [TestCase("Classification: \\boxed{math}", "math")]
    [TestCase("\\boxed{ Math }", "math")]
    [TestCase("I think \\boxed{code} or \\boxed{math}", "code")]
    [TestCase("\\boxed{other}", null)]
    [TestCase("\\boxed{poetry}", null)]
    [TestCase("no box at all", null)]
    [TestCase("\\boxed{math", null)]
    [TestCase("\\boxed{}", null)]
    public void ParsesTheFirstBoxedLabel(string completion, string? expected) =>
        Assert.That(ClassificationPromptBuilder.Parse(completion, Authors)?.Label, Is.EqualTo(expected));

    [Test]
    public void TheAuthorsCategoriesGetTheAuthorsPromptAndOthersTheSameShape()
    {
        Assert.That(ClassificationPromptBuilder.SystemPrompt(Authors), Is.EqualTo(ClassificationPrompt.System));
        var custom = ClassificationPromptBuilder.SystemPrompt([new ExpertCategory("law", "legal", "Questions about statutes."), Authors[1]]);
        Assert.That(custom, Does.Contain("'law', 'math' or 'other'").And.Contain("1. Law: Questions about statutes.").And.Contain("3. Other:").And.Contain("\\boxed{law}"));
    }

    [Test]
    public void ClassifiesTheLastUserMessage()
    {
        var messages = ClassificationPromptBuilder.Messages(Authors, [ChatMessage.System("be nice"), ChatMessage.User("first"), ChatMessage.Assistant("ok"), ChatMessage.User("second")]);
        Assert.That(messages.Select(m => m.Role), Is.EqualTo(new[] { "system", "user" }));
        Assert.That(messages[1].Content, Is.EqualTo("second"));
        Assert.Throws<ArgumentException>(() => ClassificationPromptBuilder.Messages(Authors, [ChatMessage.System("x")]));
    }

    [Test]
    public void BadCategoryListsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new PromptDispatchStrategy([]));
        Assert.Throws<ArgumentException>(() => new PromptDispatchStrategy([Authors[0], Authors[0] with { Expert = "y" }]));
        Assert.Throws<ArgumentException>(() => new PromptDispatchStrategy([new ExpertCategory("other", "x", "d")]));
    }
}
