using System.Text.Json;
using Parquet.Serialization;
using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Tasks;

public class TaskDatasetsTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = TaskTestData.TempDir();

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    internal static List<TaskItem> MathItems()
        => [new TaskItem("0", "What is 1/2 + 1/2?") { References = ["1"] }, new TaskItem("1", "Simplify.") { References = ["\\frac{1}{2}"] }];

    [Test]
    public void LoadsGsm8kJsonLines()
    {
        var path = WriteLines("gsm8k.jsonl",
            new { question = "Tom has 3 apples and buys 4. How many?", answer = "3 + 4 = <<3+4=7>>7\n#### 7" },
            new { question = "What is 10 - 2?", answer = "#### 8" });
        var items = TaskDatasets.LoadGsm8k(path);
        Assert.That(items, Has.Count.EqualTo(2));
        Assert.That(items[0].Prompt, Is.EqualTo("Tom has 3 apples and buys 4. How many?"));
        Assert.That(Gsm8kAnswer.ExtractGold(items[0].Reference!), Is.EqualTo(7.0));
        Assert.That(items[1].Id, Is.EqualTo("1"));
        var task = new Gsm8kTask(items, items);
        Assert.That(task.Score(items[1], "10 - 2 = 8").Correct, Is.True);
    }

    [Test]
    public void LoadsMathJsonLines()
    {
        var path = WriteLines("math.jsonl",
            new { problem = "Compute $\\frac{1}{2}+\\frac{1}{4}$.", solution = "We get $\\boxed{\\frac{3}{4}}$.", level = "Level 2", type = "Algebra" },
            new { problem = "No box.", solution = "Nothing boxed here.", level = "Level 1", type = "Prealgebra" });
        var items = TaskDatasets.LoadMath(path);
        Assert.That(items[0].Reference, Is.EqualTo("\\frac{3}{4}"));
        Assert.That(items[0].Metadata["level"], Is.EqualTo("Level 2"));
        Assert.That(items[0].Metadata["type"], Is.EqualTo("Algebra"));
        Assert.That(items[1].References, Is.Empty);
        var task = new MathTask(items);
        Assert.That(task.Score(items[0], "so \\boxed{3/4}").Correct, Is.True);
        Assert.That(task.Score(items[1], "no box either").Correct, Is.True); // None == None, as the authors' is_equiv
    }

    [Test]
    public void LoadsArcInTheAi2JsonLinesLayout()
    {
        var path = WriteLines("arc.jsonl", new
        {
            id = "Mercury_1",
            question = new { stem = "Which is a metal?", choices = new[] { new { text = "wood", label = "A" }, new { text = "iron", label = "B" }, new { text = "glass", label = "C" } } },
            answerKey = "B",
        });
        var item = TaskDatasets.LoadArc(path).Single();
        Assert.That(item.Id, Is.EqualTo("Mercury_1"));
        Assert.That(item.Prompt, Is.EqualTo("Which is a metal?\nOptions:\nA. wood\nB. iron\nC. glass\n"));
        Assert.That(item.Choices, Is.EqualTo(new[] { "wood", "iron", "glass" }));
        Assert.That(item.Reference, Is.EqualTo("B"));
    }

    [Test]
    public async Task LoadsArcFromHuggingFaceParquet()
    {
        var rows = new List<ArcRow>
        {
            new() { id = "q1", question = "Which is a gas?", choices = new ArcChoices { text = ["oxygen", "rock", "salt", "sand"], label = ["A", "B", "C", "D"] }, answerKey = "A" },
            new() { id = "q2", question = "Numeric labels?", choices = new ArcChoices { text = ["yes", "no"], label = ["1", "2"] }, answerKey = "2" },
        };
        var path = Path.Combine(_dir, "test-00000-of-00001.parquet");
        await using (var stream = File.Create(path))
        {
            await ParquetSerializer.SerializeAsync(rows, stream);
        }

        var items = TaskDatasets.LoadArc(path);
        Assert.That(items, Has.Count.EqualTo(2));
        Assert.That(items[0].Prompt, Is.EqualTo("Which is a gas?\nOptions:\nA. oxygen\nB. rock\nC. salt\nD. sand\n"));
        Assert.That(items[0].Reference, Is.EqualTo("A"));
        Assert.That(items[1].Prompt, Does.Contain("A. yes\nB. no\n"));
        Assert.That(items[1].Reference, Is.EqualTo("2"));
    }

    [Test]
    public async Task LoadsGsm8kFromParquet()
    {
        var path = Path.Combine(_dir, "train.parquet");
        await using (var stream = File.Create(path))
        {
            await ParquetSerializer.SerializeAsync(new[] { new Gsm8kRow { question = "2+2?", answer = "#### 4" } }, stream);
        }

        var item = TaskDatasets.LoadGsm8k(path).Single();
        Assert.That(item.Prompt, Is.EqualTo("2+2?"));
        Assert.That(item.Reference, Is.EqualTo("#### 4"));
    }

    [Test]
    public void LoadsMbppInTheEvalplusLayout()
    {
        var path = WriteLines("MbppPlus.jsonl", new
        {
            task_id = "Mbpp/2",
            prompt = "\"\"\"\nWrite a function to find the shared elements from the given two lists.\nassert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n\"\"\"\n",
            entry_point = "similar_elements",
            assertion = "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))",
        });
        var item = TaskDatasets.LoadMbpp(path).Single();
        Assert.That(item.Id, Is.EqualTo("Mbpp/2"));
        Assert.That(item.Prompt, Is.EqualTo(
            "Write a function to find the shared elements from the given two lists. Your code should satisfy the following assertion:\n```python\nassert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n```"));
        Assert.That(item.ResponsePrefix, Is.EqualTo("```python"));
        Assert.That(item.EntryPoint, Is.EqualTo("similar_elements"));
        Assert.That(item.TestCode, Does.StartWith("assert set(similar_elements"));
    }

    [Test]
    public void LoadsMbppInTheOriginalLayoutAndDerivesTheEntryPoint()
    {
        var path = WriteLines("mbpp.jsonl", new
        {
            task_id = 11,
            text = "Write a python function to remove first and last occurrence of a given character from the string",
            code = "def helper(x):\n    return x\ndef remove_Occ(s,ch):\n    return s",
            test_list = new[] { "assert remove_Occ(\"hello\",\"l\") == \"heo\"", "assert remove_Occ(\"abcda\",\"a\") == \"bcd\"" },
            test_setup_code = "",
        });
        var item = TaskDatasets.LoadMbpp(path).Single();
        Assert.That(item.Id, Is.EqualTo("11"));
        Assert.That(item.EntryPoint, Is.EqualTo("remove_Occ"));
        Assert.That(item.SourcePrompt, Is.EqualTo("\"\"\"\nWrite a python function to remove first and last occurrence of a given character from the string\nassert remove_Occ(\"hello\",\"l\") == \"heo\"\n\"\"\"\n"));
        Assert.That(item.Prompt, Does.StartWith("Write a python function to remove first and last occurrence of a given character from the string. Your code should"));
        Assert.That(item.TestCode, Is.EqualTo("assert remove_Occ(\"hello\",\"l\") == \"heo\"\nassert remove_Occ(\"abcda\",\"a\") == \"bcd\""));
    }

    [Test]
    public void LoadsMbppPlusHuggingFaceLayoutPreferringBaseTests()
    {
        var path = WriteLines("mbppplus.jsonl", new
        {
            task_id = 2,
            prompt = "Write a function to find the shared elements from the given two lists.",
            code = "def similar_elements(a, b):\n    return tuple(set(a) & set(b))",
            test_imports = new[] { "import math" },
            test_list = new[] { "assert set(similar_elements((3, 4), (4, 5))) == set((4,))" },
            test = "inputs = [[(1,), (2,)]]\nfor x in inputs: similar_elements(*x)",
        });
        var item = TaskDatasets.LoadMbpp(path).Single();
        Assert.That(item.EntryPoint, Is.EqualTo("similar_elements"));
        Assert.That(item.TestCode, Is.EqualTo("import math\nassert set(similar_elements((3, 4), (4, 5))) == set((4,))"));
        Assert.That(item.Metadata[CodeTask.DatasetKey], Is.EqualTo(CodeTask.Mbpp));
        Assert.That(item.Prompt, Does.StartWith("Write a function to find the shared elements from the given two lists. Your code should satisfy"));
    }

    [Test]
    public void LoadsHumanEval()
    {
        var path = WriteLines("HumanEval.jsonl", new
        {
            task_id = "HumanEval/0",
            prompt = "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n",
            test = "def check(candidate):\n    assert candidate(1, 2) == 3\n",
            entry_point = "add",
        });
        var item = TaskDatasets.LoadHumanEval(path).Single();
        Assert.That(item.Prompt, Is.EqualTo("Write a solution to the following problem:\n```python\ndef add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n```"));
        Assert.That(item.ResponsePrefix, Is.EqualTo("```python\ndef add(a, b):\n    \"\"\"Add two numbers.\"\"\""));
        Assert.That(item.TestCode, Does.EndWith("check(add)\n"));
        Assert.That(item.Metadata[CodeTask.DatasetKey], Is.EqualTo(CodeTask.HumanEval));
    }

    [Test]
    public void JsonArrayFilesAreRead()
    {
        var path = Path.Combine(_dir, "gsm.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new[] { new { question = "a?", answer = "#### 1" }, new { question = "b?", answer = "#### 2" } }));
        Assert.That(TaskDatasets.LoadGsm8k(path).Select(i => i.Prompt), Is.EqualTo(new[] { "a?", "b?" }));
    }

    [Test]
    public void BadInputNamesFileLineAndKey()
    {
        var badJson = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllText(badJson, "{\"question\": \"ok\", \"answer\": \"#### 1\"}\n{not json\n");
        var e = Assert.Throws<InvalidDataException>(() => TaskDatasets.LoadGsm8k(badJson));
        Assert.That(e!.Message, Does.Contain("bad.jsonl").And.Contain("line 2"));

        var missing = WriteLines("missing.jsonl", new { question = "no answer here" });
        e = Assert.Throws<InvalidDataException>(() => TaskDatasets.LoadGsm8k(missing));
        Assert.That(e!.Message, Does.Contain("missing.jsonl").And.Contain("'answer'").And.Contain("row 0"));

        var notParquet = Path.Combine(_dir, "junk.parquet");
        File.WriteAllText(notParquet, "this is not parquet");
        e = Assert.Throws<InvalidDataException>(() => TaskDatasets.LoadArc(notParquet));
        Assert.That(e!.Message, Does.Contain("junk.parquet"));

        Assert.Throws<FileNotFoundException>(() => TaskDatasets.LoadGsm8k(Path.Combine(_dir, "nope.jsonl")));
    }

    private string WriteLines(string name, params object[] rows)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, rows.Select(r => JsonSerializer.Serialize(r)));
        return path;
    }

#pragma warning disable IDE1006, SA1300 // Parquet column names follow the Hugging Face files.
    public sealed class ArcChoices
    {
        public List<string> text { get; set; } = [];

        public List<string> label { get; set; } = [];
    }

    public sealed class ArcRow
    {
        public string id { get; set; } = "";

        public string question { get; set; } = "";

        public ArcChoices choices { get; set; } = new();

        public string answerKey { get; set; } = "";
    }

    public sealed class Gsm8kRow
    {
        public string question { get; set; } = "";

        public string answer { get; set; } = "";
    }
#pragma warning restore IDE1006, SA1300
}
