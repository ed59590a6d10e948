using System.Text;
using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Tokenization;

/// <summary>Llama-3 loading on tiny hand-made files: no network, fast, and the error messages name the file at fault.</summary>
[TestFixture]
public sealed class Llama3TokenizerFileTests
{
    private string _folder = "";

    [SetUp]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "t2-llama3-files-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    // 256 single bytes, then "ab" (rank 256) and "abab" (rank 257).
    private string WriteTinyModel(params string[] extraLines)
    {
        var lines = Enumerable.Range(0, 256).Select(b => $"{Convert.ToBase64String([(byte)b])} {b}").ToList();
        lines.Add($"{Convert.ToBase64String("ab"u8.ToArray())} 256");
        lines.Add($"{Convert.ToBase64String("abab"u8.ToArray())} 257");
        lines.AddRange(extraLines);
        var path = Path.Combine(_folder, "tokenizer.model");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Test]
    public void TinyTiktokenModelMergesBySmallestRankAndKnowsTheDefaultSpecials()
    {
        var tokenizer = Llama3Tokenizer.FromTiktokenModel(WriteTinyModel());
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.Encode("abab"), Is.EqualTo(new[] { 257 }));
            Assert.That(tokenizer.Encode("abc"), Is.EqualTo(new[] { 256, 'c' }));
            Assert.That(tokenizer.BosId, Is.EqualTo(258));
            Assert.That(tokenizer.GetSpecialTokenId("<|eot_id|>"), Is.EqualTo(258 + 9));
            Assert.That(tokenizer.GetSpecialTokenId("<|reserved_special_token_0|>"), Is.EqualTo(258 + 2));
            Assert.That(tokenizer.GetSpecialTokenId("<|reserved_special_token_250|>"), Is.EqualTo(258 + 255));
            Assert.That(tokenizer.VocabSize, Is.EqualTo(258 + 256));
            Assert.That(tokenizer.Encode("ab<|eot_id|>ab", addBos: true), Is.EqualTo(new[] { 258, 256, 267, 256 }));
            Assert.That(tokenizer.Decode(tokenizer.Encode("x\u00e9<|eot_id|>\U0001F999")), Is.EqualTo("x\u00e9<|eot_id|>\U0001F999"));
        });
    }

    [Test]
    public void SpecialTokensComeFromTokenizerConfigWhenPresent()
    {
        var model = WriteTinyModel();
        File.WriteAllText(Path.Combine(_folder, "tokenizer_config.json"), """
            {"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>"}, "pad_token": "<|pad|>",
             "added_tokens_decoder": {
               "258": {"content": "<|begin_of_text|>", "special": true},
               "259": {"content": "<|eot_id|>", "special": true},
               "260": {"content": "<|pad|>", "special": true}}}
            """);
        File.WriteAllText(Path.Combine(_folder, "generation_config.json"), """{"eos_token_id": [259, 258]}""");
        var tokenizer = Llama3Tokenizer.FromTiktokenModel(model, _folder);
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.VocabSize, Is.EqualTo(261));
            Assert.That(tokenizer.EosIds, Is.EqualTo(new[] { 259, 258 }));
            Assert.That(tokenizer.PadId, Is.EqualTo(260));
            Assert.That(tokenizer.Encode("<|pad|>"), Is.EqualTo(new[] { 260 }));
        });
    }

    [Test]
    public void MalformedTiktokenLineIsReportedWithFileAndLine()
    {
        var path = WriteTinyModel("not-base64!! 300");
        Assert.That(() => Llama3Tokenizer.FromTiktokenModel(path),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("line 259"));
    }

    [Test]
    public void MissingFilesNameThePath()
    {
        var path = Path.Combine(_folder, "original", "tokenizer.model");
        Assert.That(() => Llama3Tokenizer.FromTiktokenModel(path), Throws.TypeOf<FileNotFoundException>().With.Message.Contains(path));
        var json = Path.Combine(_folder, "tokenizer.json");
        Assert.That(() => Llama3Tokenizer.FromTokenizerJson(json), Throws.TypeOf<FileNotFoundException>().With.Message.Contains(json));
    }

    [Test]
    public void TokenizerJsonThatIsNotByteLevelBpeIsRejected()
    {
        var path = Path.Combine(_folder, "tokenizer.json");
        File.WriteAllText(path, """{"model": {"type": "Unigram", "vocab": []}}""");
        Assert.That(() => Llama3Tokenizer.FromTokenizerJson(path),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("model.type").And.Message.Contains(path));
        File.WriteAllText(path, "{ not json");
        Assert.That(() => Llama3Tokenizer.FromTokenizerJson(path), Throws.TypeOf<InvalidDataException>().With.Message.Contains(path));
    }

    [Test]
    public void TinyTokenizerJsonDerivesRanksFromTheVocabulary()
    {
        var vocab = new StringBuilder();
        for (var b = 0; b < 256; b++)
            vocab.Append(System.Text.Json.JsonSerializer.Serialize(ByteLevelAlphabet.Encode([(byte)b]))).Append(':').Append(b).Append(',');
        vocab.Append("\"ab\":256,\"ĠĠ\":257");
        var path = Path.Combine(_folder, "tokenizer.json");
        const string added = """{"id": 258, "content": "<|begin_of_text|>", "special": true}, {"id": 259, "content": "<|eot_id|>", "special": true}""";
        File.WriteAllText(path, "{\"added_tokens\": [" + added + "], \"model\": {\"type\": \"BPE\", \"vocab\": {" + vocab +
            "}, \"merges\": [\"a b\", \"Ġ Ġ\"]}}");
        var tokenizer = Llama3Tokenizer.FromTokenizerJson(path);
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.Encode("ab  ab"), Is.EqualTo(new[] { 256, ' ', ' ', 256 }).Or.EqualTo(new[] { 256, 257, 256 }));
            Assert.That(tokenizer.Encode("ab<|eot_id|>", addBos: true), Is.EqualTo(new[] { 258, 256, 259 }));
            Assert.That(tokenizer.EosIds, Is.EqualTo(new[] { 259 }));
        });

        File.WriteAllText(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {" + vocab + "}, \"merges\": [\"Ġ Ġ\", \"a b\"]}}");
        Assert.That(() => Llama3Tokenizer.FromTokenizerJson(path),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("model.merges"));
    }
}
