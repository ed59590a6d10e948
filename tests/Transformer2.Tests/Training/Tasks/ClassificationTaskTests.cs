using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Tasks;

public class ClassificationTaskTests
{
    [Test]
    public void Takes399PerSourceAndSplitsLikeTheAuthors()
    {
        var task = new ClassificationTask(TaskTestData.Numbered(450, "g"), TaskTestData.Numbered(400, "m"), TaskTestData.Numbered(500, "a"));
        var all = ClassificationTask.BuildItems(TaskTestData.Numbered(450, "g"), TaskTestData.Numbered(400, "m"), TaskTestData.Numbered(500, "a"));
        Assert.That(all, Has.Count.EqualTo(3 * 399));
        Assert.That(all[0].Reference, Is.EqualTo("math"));
        Assert.That(all[399].Reference, Is.EqualTo("code"));
        Assert.That(all[798].Reference, Is.EqualTo("reasoning"));
        Assert.That(all[398].Id, Is.EqualTo("math/g398"));
        Assert.That(task.GetItems(TaskSplit.Train), Has.Count.EqualTo(479));
        Assert.That(task.GetItems(TaskSplit.Valid), Has.Count.EqualTo(479));
        Assert.That(task.GetItems(TaskSplit.Test), Has.Count.EqualTo(239));
        Assert.That(task.GetItems(TaskSplit.Test)[0].Id, Is.EqualTo("math/g4"));
        Assert.That(task.GetItems(TaskSplit.Train)[1].Id, Is.EqualTo("math/g2"));
        Assert.That(task.GetItems(TaskSplit.Valid)[0].Id, Is.EqualTo("math/g1"));
        Assert.That(task.Generation.MaxNewTokens, Is.EqualTo(1024));
    }

    [Test]
    public void CorrectIffFirstBoxedEqualsLabel()
    {
        var task = new ClassificationTask([], [], []);
        var item = new TaskItem("x", "Write a function.") { References = ["code"] };
        Assert.That(task.Score(item, "Classification: \\boxed{code}").Correct, Is.True);
        Assert.That(task.Score(item, "\\boxed{math} no wait \\boxed{code}").Correct, Is.False);
        Assert.That(task.Score(item, "\\boxed{ code}").Correct, Is.False);
        Assert.That(task.Score(item, "\\boxed{Code}").Correct, Is.False);
        Assert.That(task.Score(item, "code").Correct, Is.False);
        Assert.That(task.Score(item, "Classification: \\boxed{code}").ExtractedAnswer, Is.EqualTo("code"));
    }

    [Test]
    public void DispatchParsingMapsEverythingElseToOther()
    {
        Assert.That(ClassificationPrompt.ParseCategory("Classification: \\boxed{reasoning}"), Is.EqualTo("reasoning"));
        Assert.That(ClassificationPrompt.ParseCategory("\\boxed{physics}"), Is.EqualTo("other"));
        Assert.That(ClassificationPrompt.ParseCategory("no box"), Is.EqualTo("other"));
    }

    [Test]
    public void SystemPromptIsTheAuthorsString()
    {
        var prompt = ClassificationPrompt.SystemPrompt;
        Assert.That(prompt, Does.StartWith("\n    # Analyze the given question and classify it into one of four categories: 'code', 'math', 'reasoning' or 'other'."));
        Assert.That(prompt, Does.Contain("general understanding. \n    4. Other:"));
        Assert.That(prompt, Does.Contain("Example: \\boxed{reasoning}\n"));
        Assert.That(prompt, Does.EndWith("Classification: \\boxed{category}\n    "));
        Assert.That(prompt, Has.Length.EqualTo(1080));
        var task = new ClassificationTask([], [], []);
        var messages = task.BuildMessages(new TaskItem("1", "What is 2+2?"));
        Assert.That(messages[0].Content, Is.SameAs(prompt));
        Assert.That(messages[1].Content, Is.EqualTo("What is 2+2?"));
    }
}
