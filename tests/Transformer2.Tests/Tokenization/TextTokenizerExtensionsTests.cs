using Transformer2.Models.Chat;
using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Tokenization;

[TestFixture]
public sealed class TextTokenizerExtensionsTests
{
    [Test]
    public void EncodePromptGivesExactlyOneBos()
    {
        var tokenizer = SentencePieceControlTokenFixture.Create(out var id, out var cleanup);
        try
        {
            var withBos = tokenizer.EncodePrompt(MistralInstructChatTemplate.Instance.Render([ChatMessage.User("Hi")]));
            Assert.That(withBos, Is.EqualTo(new[] { 1, 3, id("▁Hi"), 4 }));
            var code = tokenizer.EncodePrompt(CodeChatTemplate.Instance.Render([ChatMessage.User("Hi")]));
            Assert.That(code[0], Is.EqualTo(1));
            Assert.That(code.Count(i => i == 1), Is.EqualTo(1));
            Assert.That(tokenizer.EncodePrompt(""), Is.EqualTo(new[] { 1 }));
        }
        finally
        {
            cleanup();
        }
    }
}
