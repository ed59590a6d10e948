using Transformer2.Demo.Tasks;
using Transformer2.Models.Chat;
using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Demo;

public class ByteLevelBpeBuilderTests
{
    [Test]
    public void TheLearnedTokenizerLoadsThroughTheNormalPathAndRoundTrips()
    {
        string folder = Path.Combine(Path.GetTempPath(), "t2-bpe-" + Guid.NewGuid().ToString("N"));
        try
        {
            string[] texts = ["Ann has 12 apples and gets 3 more.", "What does this Python code print?\nprint(max(4, 9))", "Which number is larger?\nA) 37\nB) 52"];
            int vocab = ByteLevelBpeBuilder.Build(Enumerable.Repeat(texts, 20).SelectMany(t => t), 40, folder);
            var tokenizer = TokenizerLoader.FromPretrained(folder);
            Assert.That(tokenizer.VocabSize, Is.EqualTo(vocab));
            Assert.That(vocab, Is.GreaterThan(256 + 6).And.LessThanOrEqualTo(256 + 40 + 6));

            string chat = Llama3ChatTemplate.Instruct.Render([ChatMessage.User(texts[1])]) + "Output: 9";
            var ids = tokenizer.Encode(chat);
            Assert.That(ids[0], Is.EqualTo(tokenizer.BosId), "<|begin_of_text|> is one special token");
            Assert.That(tokenizer.Decode(ids), Is.EqualTo(chat));
            Assert.That(tokenizer.Encode(texts[0]).Length, Is.LessThan(texts[0].Length * 3 / 4), "merges compress the text");
            var digits = tokenizer.Encode("12345");
            Assert.That(digits, Has.Length.EqualTo(5), "digits are never merged");
            Assert.That(tokenizer.EosIds, Does.Contain(tokenizer.Encode("<|eot_id|>").Single()));
            Assert.That(tokenizer.PadId, Is.Not.Null);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, true);
        }
    }
}
