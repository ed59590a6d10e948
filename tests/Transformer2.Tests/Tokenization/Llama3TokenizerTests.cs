using System.Text;
using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Tokenization;

/// <summary>
/// The Llama-3 tokenizer on the real vocabulary. Expected ids come from two independent oracles: the npm package's
/// own JavaScript tokenizer run under node, and the reference ids that <c>llama3-tokenizer-js</c> 1.2.0 publishes in its tests.
/// </summary>
[TestFixture]
[Category("Slow")]
public sealed class Llama3TokenizerTests
{
    internal static readonly string[] VariedTexts =
    [
        "Hello, world!",
        "grabbed",
        " grabbed",
        "           grabbed",
        "naïve café 🦙 日本語 한국어 русский ελληνικά עברית",
        "1234567890 3.14159 -42 1,000,000",
        "a\n\n\nb  \t c   ",
        "   leading and trailing   ",
        "I'm sure you're right, WE'LL see what he'D say; they've it's",
        "def square(x):\n    return x ** 2  # comment\r\n\r\n",
        "👩‍👩‍👧‍👦 family, e\u0301 combining, ﬁ ligature, \u00A0nbsp, \u3000ideographic space",
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "<|begin_of_text|>text<|end_of_text|> <|reserved_special_token_5|>",
        "\\boxed{42} $x^2$ ```python\nprint('hi')\n```",
        "𝐀𝐁𝐂 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 x𠀀y 1𝟙2",
        "",
    ];

    [Test]
    public void EncodingMatchesTheTransformersJsOracle()
    {
        var tokenizer = Llama3Vocabulary.Tokenizer;
        var expected = Llama3Vocabulary.OracleEncode(VariedTexts);
        for (var i = 0; i < VariedTexts.Length; i++)
            Assert.That(tokenizer.Encode(VariedTexts[i]), Is.EqualTo(expected[i]), $"text #{i}: {VariedTexts[i]}");
    }

    [TestCase("grabbed", new[] { 59312, 2788 })]
    [TestCase(" grabbed", new[] { 30418 })]
    [TestCase("           grabbed", new[] { 1881, 30418 })]
    [TestCase("\n", new[] { 198 })]
    public void EncodingMatchesPublishedReferenceIds(string text, int[] expected)
    {
        // Oracle: the test cases of the npm package llama3-tokenizer-js 1.2.0 (src/llama3-tokenizer.js, runTests).
        Assert.That(Llama3Vocabulary.Tokenizer.Encode(text), Is.EqualTo(expected));
    }

    [Test]
    public void SpecialTokensInTextEncodeToTheirIds()
    {
        var tokenizer = Llama3Vocabulary.Tokenizer;
        var ids = tokenizer.Encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", addBos: true);
        Assert.Multiple(() =>
        {
            Assert.That(ids[0], Is.EqualTo(128000));
            Assert.That(ids[1], Is.EqualTo(128006));
            Assert.That(ids[3], Is.EqualTo(128007));
            Assert.That(ids[^1], Is.EqualTo(128009));
            Assert.That(tokenizer.GetSpecialTokenId("<|eot_id|>"), Is.EqualTo(128009));
            Assert.That(tokenizer.SpecialTokens, Has.Count.EqualTo(256));
        });
    }

    [Test]
    public void ExposesTheIdsGenerationNeeds()
    {
        var tokenizer = Llama3Vocabulary.Tokenizer;
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.VocabSize, Is.EqualTo(128256));
            Assert.That(tokenizer.BosId, Is.EqualTo(128000));
            Assert.That(tokenizer.EosIds, Is.EquivalentTo(new[] { 128001, 128009 }));
            Assert.That(tokenizer.PadId, Is.Null);
            Assert.That(tokenizer.Name, Is.EqualTo("llama3"));
        });
    }

    [Test]
    public void DecodeInvertsEncode()
    {
        var tokenizer = Llama3Vocabulary.Tokenizer;
        foreach (var text in VariedTexts)
        {
            Assert.That(tokenizer.Decode(tokenizer.Encode(text)), Is.EqualTo(text), text);
            Assert.That(tokenizer.Decode(tokenizer.Encode(text, addBos: true)), Is.EqualTo("<|begin_of_text|>" + text), text);
        }
    }

    [Test]
    public void DecodeCanSkipSpecialTokens()
    {
        var tokenizer = Llama3Vocabulary.Tokenizer;
        var ids = tokenizer.Encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", addBos: true);
        Assert.That(tokenizer.Decode(ids, skipSpecialTokens: true), Is.EqualTo("user\n\nHi"));
    }

    [Test]
    public void DecodeRejectsIdsOutsideTheVocabulary()
    {
        var tokenizer = Llama3Vocabulary.Tokenizer;
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([1, 128256]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([-1]));
        Assert.That(() => tokenizer.GetSpecialTokenId("<|nope|>"), Throws.TypeOf<KeyNotFoundException>().With.Message.Contains("<|nope|>"));
    }

    [Test]
    public void TiktokenModelFileGivesTheSameIdsAsTokenizerJson()
    {
        // Meta's original/tokenizer.model format, written from the same vocabulary: base64 bytes and rank per line.
        var folder = Path.Combine(Path.GetTempPath(), "t2-llama3-tiktoken-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(folder, "original"));
        try
        {
            var vocab = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Llama3Vocabulary.Folder, "tokenizer.json")))
                .RootElement.GetProperty("model").GetProperty("vocab");
            var lines = vocab.EnumerateObject()
                .Select(p => (Id: p.Value.GetInt32(), Bytes: ByteLevelAlphabet.TryDecode(p.Name)!))
                .OrderBy(p => p.Id)
                .Select(p => $"{Convert.ToBase64String(p.Bytes)} {p.Id}");
            var modelPath = Path.Combine(folder, "original", "tokenizer.model");
            File.WriteAllLines(modelPath, lines);

            var fromModel = Llama3Tokenizer.FromTiktokenModel(modelPath);
            foreach (var text in VariedTexts)
                Assert.That(fromModel.Encode(text), Is.EqualTo(Llama3Vocabulary.Tokenizer.Encode(text)), text);
            Assert.That(fromModel.VocabSize, Is.EqualTo(128256));
            Assert.That(fromModel.GetSpecialTokenId("<|start_header_id|>"), Is.EqualTo(128006));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
