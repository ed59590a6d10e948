namespace Transformer2.Tests.Models;

/// <summary>Compares a model's state-dict keys and shapes with a committed snapshot in Models/Snapshots.</summary>
internal static class StateDictSnapshot
{
    public static void AssertMatches(IReadOnlyList<(string Key, long[] Shape)> shapes, string name, int tensorCount, long parameterCount)
    {
        Assert.That(shapes, Has.Count.EqualTo(tensorCount));
        Assert.That(shapes.Sum(s => s.Shape.Aggregate(1L, (a, b) => a * b)), Is.EqualTo(parameterCount));

        string actual = string.Join("\n", shapes.Select(s => $"{s.Key} [{string.Join(", ", s.Shape)}]")) + "\n";
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "Models", "Snapshots", name + ".txt");
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path + ".received", actual);
            Assert.Fail($"Snapshot {path} is missing; the actual keys were written next to it as .received.");
        }
        Assert.That(actual, Is.EqualTo(File.ReadAllText(path).ReplaceLineEndings("\n")));
    }
}
