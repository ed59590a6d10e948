using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Tokenization;

[TestFixture]
public sealed class TokenizerLoaderTests
{
    private string _folder = "";

    [SetUp]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "t2-loader-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    [Test]
    public void SentencePieceModelGivesTheSentencePieceTokenizer()
    {
        SentencePieceControlTokenFixture.WriteModel(_folder);
        File.WriteAllText(Path.Combine(_folder, "tokenizer.json"), """{"model": {"type": "BPE", "byte_fallback": true}}""");
        var tokenizer = TokenizerLoader.FromPretrained(_folder);
        Assert.That(tokenizer, Is.TypeOf<SentencePieceTokenizer>());
        Assert.That(tokenizer.Encode("[INST]"), Is.EqualTo(new[] { 3 }));
    }

    [Test]
    public void MetaOriginalTiktokenFileGivesTheLlama3Tokenizer()
    {
        Directory.CreateDirectory(Path.Combine(_folder, "original"));
        File.WriteAllLines(Path.Combine(_folder, "original", "tokenizer.model"),
            Enumerable.Range(0, 256).Select(b => $"{Convert.ToBase64String([(byte)b])} {b}"));
        var tokenizer = TokenizerLoader.FromPretrained(_folder);
        Assert.That(tokenizer, Is.TypeOf<Llama3Tokenizer>());
        Assert.That(tokenizer.BosId, Is.EqualTo(256));
    }

    [Test]
    [Category("Slow")]
    public void HuggingFaceLlama3FolderGivesTheLlama3Tokenizer()
    {
        var tokenizer = TokenizerLoader.FromPretrained(Llama3Vocabulary.Folder);
        Assert.That(tokenizer, Is.TypeOf<Llama3Tokenizer>());
        Assert.That(tokenizer.Encode("Hello"), Is.EqualTo(Llama3Vocabulary.Tokenizer.Encode("Hello")));
    }

    [Test]
    public void SentencePieceStyleTokenizerJsonAloneIsRejectedWithAReason()
    {
        var json = Path.Combine(_folder, "tokenizer.json");
        File.WriteAllText(json, """{"model": {"type": "BPE", "byte_fallback": true, "vocab": {}, "merges": []}}""");
        Assert.That(() => TokenizerLoader.FromPretrained(_folder),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(json).And.Message.Contains("tokenizer.model"));
    }

    [Test]
    public void EmptyOrMissingFolderNamesWhatWasLookedFor()
    {
        Assert.That(() => TokenizerLoader.FromPretrained(_folder),
            Throws.TypeOf<FileNotFoundException>().With.Message.Contains("tokenizer.json").And.Message.Contains(_folder));
        var missing = Path.Combine(_folder, "nope");
        Assert.That(() => TokenizerLoader.FromPretrained(missing), Throws.TypeOf<DirectoryNotFoundException>().With.Message.Contains(missing));
    }
}
