using System.Text.Json;

namespace Transformer2.Tests.Tokenization;

/// <summary>Runs an npm package's own JavaScript tokenizer under node to produce expected ids for a list of strings.</summary>
internal static class NodeOracle
{
    /// <summary>
    /// Runs <paramref name="script"/> (CommonJS) with node; it reads a JSON array of strings from the file named by
    /// <c>process.argv[2]</c> and prints a JSON array with one id array per string.
    /// </summary>
    public static int[][] Encode(string script, IReadOnlyList<string> inputs)
    {
        var folder = Path.Combine(Path.GetTempPath(), "transformer2-tests-node-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var scriptPath = Path.Combine(folder, "oracle.js");
            var inputPath = Path.Combine(folder, "inputs.json");
            File.WriteAllText(scriptPath, script);
            File.WriteAllText(inputPath, JsonSerializer.Serialize(inputs));
            var (exitCode, output, error) = NpmPackageCache.Run("node", $"\"{scriptPath}\" \"{inputPath}\"", folder, TimeSpan.FromMinutes(2));
            Assert.That(exitCode, Is.Zero, $"node oracle failed: {error}");
            var lastLine = output.TrimEnd().Split('\n')[^1];
            var result = JsonSerializer.Deserialize<int[][]>(lastLine) ?? throw new InvalidDataException("node printed no ids");
            Assert.That(result, Has.Length.EqualTo(inputs.Count));
            return result;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>A JavaScript string literal for a file path.</summary>
    public static string Literal(string path) => JsonSerializer.Serialize(path);
}
