using Transformer2.Models.Chat;
using Transformer2.Tests.Training.Execution;
using Transformer2.Training.Execution;
using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Tasks;

[NonParallelizable]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class CodeTaskTests
{
    private const string MbppPrompt = "\"\"\"\nWrite a function to add two numbers.\nassert add(1, 2) == 3\n\"\"\"\n";
    private PythonSandbox? _sandbox;

    private static TaskItem MbppItem => new("Mbpp/1", CodeTask.MbppInstruction(MbppPrompt))
    {
        SourcePrompt = MbppPrompt,
        EntryPoint = "add",
        TestCode = "assert add(1, 2) == 3\nassert add(-1, 1) == 0",
        ResponsePrefix = CodeTask.MbppResponsePrefix,
    };

    private static TaskItem HumanEvalItem
    {
        get
        {
            const string prompt = "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n";
            return new TaskItem("HumanEval/0", CodeTask.HumanEvalInstruction(prompt))
            {
                SourcePrompt = prompt,
                EntryPoint = "add",
                TestCode = "def check(candidate):\n    assert candidate(2, 3) == 5\n\ncheck(add)\n",
                ResponsePrefix = CodeTask.HumanEvalResponsePrefix(prompt),
            };
        }
    }

    private PythonSandbox Sandbox
    {
        get
        {
            PythonSandboxTests.IgnoreUnlessPythonRuns();
            return _sandbox ??= new PythonSandbox(PythonSandboxTests.Options());
        }
    }

    // Expected values printed by the authors' sanitize_code under CPython for dataset prompt + "\n" + completion.
    [TestCase("\ndef add(a, b):\n    return a + b\n", "\"\"\"\nWrite a function to add two numbers.\nassert add(1, 2) == 3\n\"\"\"\n\n\ndef add(a, b):\n    return a + b")]
    [TestCase("\nimport math\ndef helper(x):\n    return x\n\ndef add(a, b):\n   return helper(a) + b\nprint(add(1,2))\nassert add(1,2)==3\n", "\"\"\"\nWrite a function to add two numbers.\nassert add(1, 2) == 3\n\"\"\"\n\n\nimport math\ndef helper(x):\n    return x")]
    [TestCase("\nHere is code\ndef add(a,b):\n    c = a + b\n    return c\nif __name__ == '__main__':\n    print(add(1,2))\n", "\"\"\"\nWrite a function to add two numbers.\nassert add(1, 2) == 3\n\"\"\"\n\n\nHere is code\ndef add(a,b):\n    c = a + b\n    return c")]
    public void SanitizesLikeTheAuthors(string completion, string expected)
        => Assert.That(CodeSanitizer.Sanitize((MbppPrompt + "\n" + completion).Trim(), "add").JoinAll(), Is.EqualTo(expected));

    [Test]
    public void HelpersAreKeptOnlyWhenTheyParseWhichTheHarnessChecks()
    {
        var pieces = CodeSanitizer.Sanitize((MbppPrompt + "\n\ndef helper(:\n    return 1\n\ndef add(a, b):\n    return a + b\n").Trim(), "add");
        Assert.That(pieces.Functions.Select(f => f.AlwaysKeep), Is.EqualTo(new[] { false, true }));
        Assert.That(pieces.Functions[0].Body, Does.StartWith("helper(:"));
    }

    [Test]
    public void PromptsMatchTheAuthors()
    {
        var task = new CodeTask([], null, null);
        var messages = task.BuildMessages(MbppItem);
        Assert.That(messages, Has.Count.EqualTo(3));
        Assert.That(messages[0], Is.EqualTo(ChatMessage.System("You are an exceptionally intelligent coding assistant that  consistently delivers accurate and reliable responses to user instructions.")));
        Assert.That(messages[1].Content, Is.EqualTo("Write a function to add two numbers. Your code should satisfy the following assertion:\n```python\nassert add(1, 2) == 3\n```"));
        Assert.That(messages[2], Is.EqualTo(ChatMessage.Assistant("```python")));
        Assert.That(task.BuildMessages(HumanEvalItem)[2].Content, Is.EqualTo("```python\ndef add(a, b):\n    \"\"\"Return a + b.\"\"\""));
    }

    [Test]
    public void SplitsFirst300WithPythonSeed16()
    {
        var mbpp = TaskTestData.Numbered(399, "m");
        var task = new CodeTask(mbpp, TaskTestData.Numbered(164, "h"), null);
        Assert.That(task.GetItems(TaskSplit.Train), Has.Count.EqualTo(200));
        Assert.That(task.GetItems(TaskSplit.Valid), Has.Count.EqualTo(100));
        Assert.That(task.GetItems(TaskSplit.Test), Has.Count.EqualTo(99));
        Assert.That(task.GetItems(TaskSplit.Transfer), Has.Count.EqualTo(164));
        // random.seed(16); random.shuffle(list(range(300))) starts 107, 76, 291 and its 201st element is 222.
        Assert.That(task.GetItems(TaskSplit.Train).Take(3).Select(i => i.Id), Is.EqualTo(new[] { "m107", "m76", "m291" }));
        Assert.That(task.GetItems(TaskSplit.Valid)[0].Id, Is.EqualTo("m222"));
        Assert.That(task.GetItems(TaskSplit.Test)[0].Id, Is.EqualTo("m300"));
    }

    [Test]
    public void ScoringWithoutASandboxExplainsTheOptIn()
    {
        var task = new CodeTask([MbppItem], null, null);
        var e = Assert.Throws<CodeExecutionNotEnabledException>(() => task.Score(MbppItem, "def add(a, b):\n    return a + b\n"));
        Assert.That(e!.Message, Does.Contain("AllowUntrustedCodeExecution"));
    }

    [Test]
    public async Task CorrectMbppSolutionPasses()
    {
        var task = new CodeTask([MbppItem], null, Sandbox);
        var score = await task.ScoreAsync(MbppItem, "\ndef add(a, b):\n    return a + b\n```\nThis adds the numbers.");
        Assert.That(score.Correct, Is.True, score.Detail);
        Assert.That(score.Reward, Is.EqualTo(1.0));
    }

    [Test]
    public async Task WrongMbppSolutionFails()
    {
        var task = new CodeTask([MbppItem], null, Sandbox);
        var score = await task.ScoreAsync(MbppItem, "\ndef add(a, b):\n    return a - b\n```");
        Assert.That(score.Correct, Is.False);
        Assert.That(score.Reward, Is.EqualTo(-1.0));
        Assert.That(score.Detail, Does.Contain("AssertionError"));
    }

    [Test]
    public async Task UnparsableHelperIsDroppedAndTheSolutionStillPasses()
    {
        var task = new CodeTask([MbppItem], null, Sandbox);
        var score = await task.ScoreAsync(MbppItem, "\ndef helper(:\n    return 1\n\ndef add(a, b):\n    return a + b\n");
        Assert.That(score.Correct, Is.True, score.Detail);
    }

    [Test]
    public async Task ExitingEarlyDoesNotFakeAPass()
    {
        var task = new CodeTask([MbppItem], null, Sandbox);
        foreach (var cheat in new[] { "import sys\n    sys.exit(0)", "import os\n    os._exit(0)" })
        {
            var completion = "\ndef add(a, b):\n    " + cheat + "\n    return 0\nadd(1, 1)\n";
            var score = await task.ScoreAsync(MbppItem, "\ndef add(a, b):\n    return 0\n" + completion);
            Assert.That(score.Correct, Is.False, cheat);
        }

        var direct = new TaskItem("x", "p") { SourcePrompt = "", EntryPoint = "add", TestCode = "assert add(1, 2) == 3", ResponsePrefix = "```python\n" };
        var viaHumanEvalPath = await task.ScoreAsync(direct, "import sys\nsys.exit(0)\n");
        Assert.That(viaHumanEvalPath.Correct, Is.False);
    }

    [Test]
    public async Task BatchScoringKeepsOrder()
    {
        var task = new CodeTask([MbppItem], null, Sandbox);
        var right = "\ndef add(a, b):\n    return a + b\n";
        var wrong = "\ndef add(a, b):\n    return a * b\n";
        var scores = await TaskScoring.ScoreAllAsync(task, [MbppItem, MbppItem, MbppItem, MbppItem], [right, wrong, wrong, right], maxParallelism: 2);
        Assert.That(scores.Select(s => s.Correct), Is.EqualTo(new[] { true, false, false, true }));
        Assert.ThrowsAsync<ArgumentException>(() => TaskScoring.ScoreAllAsync(task, [MbppItem], []));
    }

    [Test]
    public async Task EvalplusRowsCompareOutputsWithTheCanonicalSolution()
    {
        var dir = TaskTestData.TempDir();
        try
        {
            var path = Path.Combine(dir, "MbppPlus.jsonl");
            var row = new Dictionary<string, object>
            {
                ["task_id"] = "Mbpp/9",
                ["prompt"] = "\"\"\"\nWrite a function to compute the area of a circle.\nassert math.isclose(area(1.0), 3.14159, rel_tol=0.001)\n\"\"\"\n",
                ["entry_point"] = "area",
                ["canonical_solution"] = "import math\ndef area(r):\n    return math.pi * r * r\n",
                ["base_input"] = new object[] { new object[] { 1.0 }, new object[] { 2 }, new object[] { 0.5 } },
                ["atol"] = 0.001,
            };
            File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(row) + "\n");
            var item = TaskDatasets.LoadMbpp(path).Single();
            Assert.That(item.TestCode, Does.Contain("_t2_reference"));
            var task = new CodeTask([item], null, Sandbox);
            var close = await task.ScoreAsync(item, "\nimport math\ndef area(r):\n    return 3.1416 * r * r\n");
            Assert.That(close.Correct, Is.True, close.Detail);
            var wrong = await task.ScoreAsync(item, "\ndef area(r):\n    return 3.0 * r * r\n");
            Assert.That(wrong.Correct, Is.False);
            Assert.That(wrong.Detail, Does.Contain("wrong output for input"));
            Assert.Throws<ArgumentException>(() => CodeTask.ReferenceComparisonTests("x=1", "os.system('x')", "[]", 0));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task HumanEvalSolutionIsPromptPlusCompletion()
    {
        var task = new CodeTask([], [HumanEvalItem], Sandbox);
        Assert.That((await task.ScoreAsync(HumanEvalItem, "    return a + b\n```")).Correct, Is.True);
        Assert.That((await task.ScoreAsync(HumanEvalItem, "    return a * b\n```")).Correct, Is.False);
        Assert.That(task.Score(HumanEvalItem, "    while True:\n        pass\n").Correct, Is.False);
    }
}
