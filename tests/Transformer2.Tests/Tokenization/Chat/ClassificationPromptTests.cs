using Transformer2.Models.Chat;

namespace Transformer2.Tests.Tokenization.Chat;

[TestFixture]
public sealed class ClassificationPromptTests
{
    [Test]
    public void HasTheAuthorsLayout()
    {
        var prompt = ClassificationPrompt.System;
        Assert.Multiple(() =>
        {
            Assert.That(prompt, Does.StartWith("\n    # Analyze the given question and classify it into one of four categories: 'code', 'math', 'reasoning' or 'other'."));
            Assert.That(prompt, Does.Contain("based on general understanding. \n    4. Other: Questions not clearly fit into above categories.\n"));
            Assert.That(prompt, Does.Contain(@"within \boxed{} notation. Example: \boxed{reasoning}"));
            Assert.That(prompt, Does.EndWith("    Classification: \\boxed{category}\n    "));
            Assert.That(prompt.Split('\n'), Has.Length.EqualTo(16));
        });
    }

    [Test]
    public void Llama3RenderStripsItsOuterWhitespace()
    {
        var text = Llama3ChatTemplate.Instruct.Render([ChatMessage.System(ClassificationPrompt.System), ChatMessage.User("What is 2+2?")]);
        Assert.That(text, Does.StartWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n# Analyze the given question"));
        Assert.That(text, Does.Contain("Classification: \\boxed{category}<|eot_id|><|start_header_id|>user"));
    }
}
