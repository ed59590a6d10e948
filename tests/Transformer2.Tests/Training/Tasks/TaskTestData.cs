using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Tasks;

internal static class TaskTestData
{
    public static List<TaskItem> Numbered(int count, string prefix = "q")
        => Enumerable.Range(0, count).Select(i => new TaskItem($"{prefix}{i}", $"{prefix} question {i}") { References = [$"#### {i}"] }).ToList();

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "t2-tasks-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
