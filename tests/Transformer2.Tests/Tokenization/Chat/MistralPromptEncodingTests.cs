using Transformer2.Models.Chat;
using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Tokenization.Chat;

/// <summary>
/// Rendering with <see cref="MistralInstructChatTemplate"/> and encoding the text must give the ids mistral_common builds
/// for v0.3: BOS, <c>[INST]</c>, sentencepiece(user text), <c>[/INST]</c>, sentencepiece(answer), EOS, with the system
/// prompt joined to the last user text by a blank line. Oracle: Google's sentencepiece (WebAssembly, node) encoding each
/// text on its own, on Mistral's real vocabulary shaped as a v0.3 model.
/// </summary>
[TestFixture]
[Category("Slow")]
public sealed class MistralPromptEncodingTests
{
    [Test]
    public void RenderedConversationEncodesLikeMistralCommon()
    {
        var tokenizer = SentencePieceTokenizer.FromModelFile(Transformer2.Tests.Tokenization.MistralVocabulary.V3ModelPath);
        const string system = "You are terse.";
        string[] texts = ["What is your favourite condiment?", "Lemon juice.", system + "\n\n" + "Any    mayonnaise recipes?  "];
        var pieces = Transformer2.Tests.Tokenization.MistralVocabulary.OracleEncode(Transformer2.Tests.Tokenization.MistralVocabulary.V3ModelPath, texts);

        var prompt = MistralInstructChatTemplate.Instance.Render(
        [
            ChatMessage.System(system), ChatMessage.User(texts[0]), ChatMessage.Assistant(texts[1]), ChatMessage.User("Any    mayonnaise recipes?  "),
        ]);
        int[] expected = [1, 3, .. pieces[0], 4, .. pieces[1], 2, 3, .. pieces[2], 4];
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.VocabSize, Is.EqualTo(32768));
            Assert.That(tokenizer.GetSpecialTokenId("[/INST]"), Is.EqualTo(4));
            Assert.That(tokenizer.Encode(prompt), Is.EqualTo(expected));
            Assert.That(tokenizer.Decode(expected), Is.EqualTo(prompt));
        });
    }
}
