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
        var result = Run<int[][]>(script, inputs);
        Assert.That(result, Has.Length.EqualTo(inputs.Count));
        return result;
    }

    /// <summary>Runs <paramref name="script"/> with <paramref name="input"/> as JSON in the file <c>process.argv[2]</c>; parses the last printed line.</summary>
    public static T Run<T>(string script, object input)
    {
        var folder = Path.Combine(Path.GetTempPath(), "transformer2-tests-node-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var scriptPath = Path.Combine(folder, "oracle.js");
            var inputPath = Path.Combine(folder, "inputs.json");
            File.WriteAllText(scriptPath, script);
            File.WriteAllText(inputPath, JsonSerializer.Serialize(input));
            var (exitCode, output, error) = NpmPackageCache.Run("node", $"\"{scriptPath}\" \"{inputPath}\"", folder, TimeSpan.FromMinutes(2));
            Assert.That(exitCode, Is.Zero, $"node oracle failed: {error}");
            var lastLine = output.TrimEnd().Split('\n')[^1];
            return JsonSerializer.Deserialize<T>(lastLine) ?? throw new InvalidDataException("node printed nothing");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>A JavaScript string literal for a file path.</summary>
    public static string Literal(string path) => JsonSerializer.Serialize(path);
}
