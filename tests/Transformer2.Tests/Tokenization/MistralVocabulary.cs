using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Tokenization;

/// <summary>
/// Mistral's real 32000-piece vocabulary (v0.1; v0.3 adds 768 control pieces in front of the bytes and otherwise
/// shares it) from the npm package <c>mistral-tokenizer-js</c>, written as a SentencePiece <c>tokenizer.model</c>.
/// The package ships pieces in id order and the HF merge list but no scores. That merge list (ordered by score) follows the
/// ids, except that all whitespace-only merges come last: so normal pieces get score = -rank and whitespace-only pieces
/// -1e9, as in Llama-2's model. The published reference ids below (made with the real model) confirm the reconstruction.
/// The oracle is Google's sentencepiece itself, compiled to WebAssembly (npm <c>@agnai/sentencepiece-js</c>), run with node.
/// </summary>
internal static class MistralVocabulary
{
    public const string VocabularyPackage = "mistral-tokenizer-js@1.0.0";
    public const string SentencePiecePackage = "@agnai/sentencepiece-js@1.1.1";

    private static readonly Lazy<string> ModelFile = new(() => Prepare(v3: false));
    private static readonly Lazy<string> V3ModelFile = new(() => Prepare(v3: true));
    private static readonly Lazy<SentencePieceTokenizer> Loaded = new(() => SentencePieceTokenizer.FromModelFile(ModelPath));

    public static string ModelPath => ModelFile.Value;

    /// <summary>
    /// The same vocabulary shaped like Mistral v0.3's <c>tokenizer.model</c>: 768 control pieces after &lt;/s&gt;
    /// (<c>[INST]</c>=3, <c>[/INST]</c>=4, tool markers, then <c>[control_N]</c>), so every later id moves up by 768.
    /// </summary>
    public static string V3ModelPath => V3ModelFile.Value;

    /// <summary>The 768 v0.3 control pieces.</summary>
    public static string[] V3Controls { get; } =
    [
        "[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]",
        .. Enumerable.Range(7, 761).Select(i => $"[control_{i + 1}]"),
    ];

    public static SentencePieceTokenizer Tokenizer => Loaded.Value;

    private static string Prepare(bool v3)
    {
        var package = NpmPackageCache.Get(VocabularyPackage);
        var folder = Path.Combine(Path.GetDirectoryName(package)!, v3 ? "sp-model-v3" : "sp-model");
        var path = Path.Combine(folder, "tokenizer.model");
        if (File.Exists(path)) return path;

        var script = $$"""
            const { pathToFileURL } = require('url');
            import(pathToFileURL({{NodeOracle.Literal(Path.Combine(package, "mistral-tokenizer.js"))}}).href)
              .then(m => console.log(JSON.stringify(m.default.vocabById)));
            """;
        var vocab = NodeOracle.Run<string[]>(script, Array.Empty<string>());
        Assert.That(vocab, Has.Length.EqualTo(32000));
        Assert.That(vocab[..3], Is.EqualTo(new[] { "<unk>", "<s>", "</s>" }));
        Assert.That(vocab[3], Is.EqualTo("<0x00>"));
        Directory.CreateDirectory(folder);
        var staging = path + ".tmp";
        SentencePieceModelWriter.Write(staging, SentencePieceModelWriter.LlamaLayout(vocab[259..], v3 ? V3Controls : []));
        File.Move(staging, path, overwrite: true);
        return path;
    }

    /// <summary>Ids from Google's sentencepiece (WebAssembly build) for <paramref name="inputs"/> on the model at <paramref name="modelPath"/>.</summary>
    public static int[][] OracleEncode(string modelPath, IReadOnlyList<string> inputs)
    {
        var package = NpmPackageCache.Get(SentencePiecePackage);
        var script = $$"""
            const { SentencePieceProcessor } = require({{NodeOracle.Literal(Path.Combine(package, "dist", "index.js"))}});
            const fs = require('fs');
            (async () => {
              const sp = new SentencePieceProcessor();
              await sp.load({{NodeOracle.Literal(modelPath)}});
              const inputs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
              console.log(JSON.stringify(inputs.map(s => sp.encodeIds(s))));
            })();
            """;
        return NodeOracle.Encode(script, inputs);
    }
}
