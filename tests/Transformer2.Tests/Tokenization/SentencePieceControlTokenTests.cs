using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Tokenization;

/// <summary>
/// A Mistral-v0.3-shaped model (control pieces [INST], [/INST] after &lt;/s&gt;) made by the test, plus file errors.
/// Plain-text ids are checked against Google's sentencepiece (WebAssembly, node) on the same file.
/// </summary>
[TestFixture]
public sealed class SentencePieceControlTokenTests
{
    private string _folder = "";
    private string _model = "";

    [SetUp]
    public void WriteModel()
    {
        _folder = Path.Combine(Path.GetTempPath(), "t2-sp-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _model = SentencePieceControlTokenFixture.WriteModel(_folder);
    }

    [TearDown]
    public void Delete() => Directory.Delete(_folder, recursive: true);

    private static int Id(string piece) => SentencePieceControlTokenFixture.Id(piece);

    [Test]
    public void ControlTokensInTextEncodeToTheirIdsWithoutADummyPrefixAfterThem()
    {
        var tokenizer = SentencePieceTokenizer.FromModelFile(_model);
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.GetSpecialTokenId("[INST]"), Is.EqualTo(3));
            Assert.That(tokenizer.Encode("<s>[INST] Hi[/INST] Hello</s>"),
                Is.EqualTo(new[] { 1, 3, Id("▁Hi"), 4, Id("▁Hello"), 2 }));
            Assert.That(tokenizer.Encode("Hi", addBos: true), Is.EqualTo(new[] { 1, Id("▁Hi") }));
            Assert.That(tokenizer.Encode("[INST]Hi"), Is.EqualTo(new[] { 3, Id("H"), Id("i") }));
            Assert.That(tokenizer.Decode(tokenizer.Encode("<s>[INST] Hi[/INST] Hello</s>")), Is.EqualTo("<s>[INST] Hi[/INST] Hello</s>"));
            Assert.That(tokenizer.Decode(tokenizer.Encode("<s>[INST] Hi[/INST]"), skipSpecialTokens: true), Is.EqualTo("Hi"));
        });
    }

    [Test]
    [Category("Slow")]
    public void PlainTextMatchesGoogleSentencePiece()
    {
        string[] texts = ["Hello", "HiHi Hi", "  Hello  ", "Hellllllo", "x\ny", "héllo", ""];
        var expected = MistralVocabulary.OracleEncode(_model, texts);
        var tokenizer = SentencePieceTokenizer.FromModelFile(_model);
        for (var i = 0; i < texts.Length; i++)
            Assert.That(tokenizer.Encode(texts[i]), Is.EqualTo(expected[i]), texts[i]);
    }

    [Test]
    public void AddedTokensAndStopIdsComeFromTheConfigFiles()
    {
        File.WriteAllText(Path.Combine(_folder, "tokenizer_config.json"), """
            {"eos_token": "</s>", "added_tokens_decoder": {"262": {"content": "<tool>", "special": true}}}
            """);
        File.WriteAllText(Path.Combine(_folder, "generation_config.json"), """{"eos_token_id": 4}""");
        var tokenizer = SentencePieceTokenizer.FromModelFile(_model, _folder);
        Assert.That(tokenizer.Encode("a<tool>")[^1], Is.EqualTo(262));
        Assert.That(tokenizer.EosIds, Is.EqualTo(new[] { 2, 4 }));
    }

    [Test]
    public void BadFilesAreReportedByName()
    {
        var truncated = Path.Combine(_folder, "truncated.model");
        File.WriteAllBytes(truncated, File.ReadAllBytes(_model)[..100]);
        Assert.That(() => SentencePieceTokenizer.FromModelFile(truncated),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(truncated));

        var garbage = Path.Combine(_folder, "garbage.model");
        File.WriteAllBytes(garbage, [0xFF, 0xFF, 0xFF]);
        Assert.That(() => SentencePieceTokenizer.FromModelFile(garbage), Throws.TypeOf<InvalidDataException>().With.Message.Contains(garbage));

        var missing = Path.Combine(_folder, "missing.model");
        Assert.That(() => SentencePieceTokenizer.FromModelFile(missing), Throws.TypeOf<FileNotFoundException>().With.Message.Contains(missing));
    }

    [Test]
    public void CorruptedModelsFailWithInvalidDataOrStillWork()
    {
        var original = File.ReadAllBytes(_model);
        var random = new Random(1234);
        var corrupted = Path.Combine(_folder, "corrupted.model");
        for (var trial = 0; trial < 300; trial++)
        {
            var bytes = (byte[])original.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            File.WriteAllBytes(corrupted, trial % 10 == 0 ? bytes[..random.Next(bytes.Length)] : bytes);
            try
            {
                var tokenizer = SentencePieceTokenizer.FromModelFile(corrupted);
                var ids = tokenizer.Encode("[INST] Hello world héllo 🦙[/INST]", addBos: true);
                tokenizer.Decode(ids);
            }
            catch (InvalidDataException e)
            {
                Assert.That(e.Message, Does.Contain(corrupted));
            }
        }
    }

    [Test]
    public void UnigramModelsAreRejected()
    {
        // Patch the trainer spec's model_type varint (field 3, value 2 = BPE) to 1 = Unigram.
        var bytes = File.ReadAllBytes(_model);
        var index = FindTrainerModelType(bytes);
        bytes[index] = 1;
        var unigram = Path.Combine(_folder, "unigram.model");
        File.WriteAllBytes(unigram, bytes);
        Assert.That(() => SentencePieceTokenizer.FromModelFile(unigram),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("not BPE").And.Message.Contains(unigram));
    }

    private static int FindTrainerModelType(byte[] bytes)
    {
        // The writer emits the trainer spec as field 2 with model_type (tag 0x18) first.
        for (var i = 0; i + 3 < bytes.Length; i++)
            if (bytes[i] == 0x12 && bytes[i + 2] == 0x18 && bytes[i + 3] == 2) return i + 3;
        throw new InvalidOperationException("trainer spec not found");
    }
}
