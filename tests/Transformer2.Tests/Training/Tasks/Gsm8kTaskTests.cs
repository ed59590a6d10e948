using Transformer2.Models.Chat;
using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Tasks;

public class Gsm8kTaskTests
{
    [TestCase("The answer is 72.", 72.0)]
    [TestCase("It costs 1,080 dollars", 80.0)] // commas split numbers (the authors' dead .replace)
    [TestCase("The change is -3", 3.0)] // signs are ignored
    [TestCase("first 5 then 2.5", 2.5)]
    [TestCase("ends with .5", 0.5)]
    [TestCase("version 1.2.3", 0.3)] // "1.2" then ".3"
    public void ExtractsLastNumberWithTheAuthorsQuirks(string text, double expected)
        => Assert.That(Gsm8kAnswer.ExtractLastNumber(text), Is.EqualTo(expected));

    [Test]
    public void NoNumberGivesNull() => Assert.That(Gsm8kAnswer.ExtractLastNumber("no digits here"), Is.Null);

    [Test]
    public void GoldIsTheLastNumberOfTheAnswerTruncatedToInt()
    {
        Assert.That(Gsm8kAnswer.ExtractGold("She has 3 + 4 = <<3+4=7>>7 apples.\n#### 7"), Is.EqualTo(7.0));
        Assert.That(Gsm8kAnswer.ExtractGold("#### 2.9"), Is.EqualTo(2.0));
    }

    [Test]
    public void ScoresAgainstTheAnswerField()
    {
        var task = new Gsm8kTask([], []);
        var item = new TaskItem("1", "How many?") { References = ["2 + 2 = 4\n#### 1,200"] };
        // Gold is 200 (the comma quirk applies to the gold too), so "1200" is wrong and "1,200" is right.
        Assert.That(task.Score(item, "So the total is 1200.").Correct, Is.False);
        var right = task.Score(item, "So the total is 1,200.");
        Assert.That(right.Correct, Is.True);
        Assert.That(right.Reward, Is.EqualTo(1.0));
        Assert.That(right.ExtractedAnswer, Is.EqualTo("200"));
        Assert.That(task.Score(item, "I don't know").Reward, Is.EqualTo(-1.0));
        Assert.That(task.Score(new TaskItem("2", "q") { References = ["#### 72"] }, "72.0").Correct, Is.True);
    }

    [Test]
    public void MissingNumbersOnBothSidesCountAsCorrectLikePythonNoneEqualsNone()
    {
        var task = new Gsm8kTask([], []);
        Assert.That(task.Score(new TaskItem("1", "q") { References = ["no number"] }, "none either").Correct, Is.True);
    }

    [Test]
    public void BuildsTheAuthorsMessages()
    {
        var task = new Gsm8kTask([], []);
        var messages = task.BuildMessages(new TaskItem("1", "What is 2+2?"));
        Assert.That(messages, Is.EqualTo(new[]
        {
            new ChatMessage("system", "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"),
            new ChatMessage("user", "What is 2+2?"),
        }));
        Assert.That(task.Generation.MaxNewTokens, Is.EqualTo(512));
        Assert.That(task.Generation.StopStrings, Is.EqualTo(new[] { "Instruction:", "Instruction", "Response:", "Response" }));
        Assert.That(task.Generation.Temperature, Is.EqualTo(0.0));
    }

    [Test]
    public void SplitsTrainFileEvenOddAndKeepsTest()
    {
        var task = new Gsm8kTask(TaskTestData.Numbered(7), TaskTestData.Numbered(3, "t"));
        Assert.That(task.GetItems(TaskSplit.Train).Select(i => i.Id), Is.EqualTo(new[] { "q0", "q2", "q4", "q6" }));
        Assert.That(task.GetItems(TaskSplit.Valid).Select(i => i.Id), Is.EqualTo(new[] { "q1", "q3", "q5" }));
        Assert.That(task.GetItems(TaskSplit.Test), Has.Count.EqualTo(3));
        Assert.That(task.GetItems(TaskSplit.Transfer), Is.Empty);
    }

    [Test]
    public void CustomRewardsApply()
    {
        var task = new Gsm8kTask([], [], new RewardScheme(2.0, 0.0));
        var item = new TaskItem("1", "q") { References = ["#### 5"] };
        Assert.That(task.Score(item, "5").Reward, Is.EqualTo(2.0));
        Assert.That(task.Score(item, "6").Reward, Is.EqualTo(0.0));
    }
}
