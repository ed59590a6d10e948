using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Tasks;

public class ArcTaskTests
{
    [TestCase("Let's see... the answer is (B).", "B")]
    [TestCase("so the answer is C", "C")]
    [TestCase("Answer: D\nbut maybe A", "D")]
    [TestCase("first answer: A\nthen answer: B", "A")] // ".*" does not cross lines; the first line with "answer:" wins
    [TestCase("x answer: A y answer: B", "B")] // on one line the greedy ".*" takes the last
    [TestCase("I pick B over C, final C.", "C")] // last standalone letter
    [TestCase("A is wrong. Definitely B\n\nok", "B")]
    public void ExtractsLettersInTheAuthorsOrder(string completion, string expected)
        => Assert.That(ArcAnswer.Extract(completion), Is.EqualTo(expected));

    [Test]
    public void NoLetterGivesNull()
        => Assert.That(ArcAnswer.Extract("no idea at all, sorry"), Is.Null);

    [Test]
    public void FallbackGuessIsSeed42Deterministic()
    {
        Assert.That(ArcAnswer.FallbackGuess(4), Is.EqualTo("A"));
        Assert.That(ArcAnswer.FallbackGuess(3), Is.EqualTo("C"));
        Assert.That(ArcAnswer.FallbackGuess(5), Is.EqualTo("A"));
    }

    [Test]
    public void ScoringUsesTheFallbackWhenNothingIsExtracted()
    {
        var task = new ArcTask([], []);
        var fourA = Item(["w", "x", "y", "z"], "A");
        var fourB = Item(["w", "x", "y", "z"], "B");
        var threeC = Item(["x", "y", "z"], "C");
        Assert.That(task.Score(fourA, "no idea").Correct, Is.True);
        Assert.That(task.Score(fourB, "no idea").Correct, Is.False);
        Assert.That(task.Score(threeC, "no idea").Correct, Is.True);
        Assert.That(task.Score(fourB, "the answer is (B)").Correct, Is.True);
    }

    [Test]
    public void NumericAnswerKeysNeverMatch()
    {
        var task = new ArcTask([], []);
        var item = Item(["w", "x", "y", "z"], "2");
        Assert.That(task.Score(item, "the answer is (B)").Correct, Is.False);
        Assert.That(task.Score(item, "the answer is 2").Correct, Is.False);
    }

    [Test]
    public void FormatsQuestionWithPositionalLetters()
        => Assert.That(ArcTask.FormatQuestion("Which?", ["red", "blue"]), Is.EqualTo("Which?\nOptions:\nA. red\nB. blue\n"));

    [Test]
    public void MessagesAndSplits()
    {
        var task = new ArcTask(TaskTestData.Numbered(5), TaskTestData.Numbered(2, "t"), TaskTestData.Numbered(3, "c"));
        Assert.That(task.GetItems(TaskSplit.Train), Has.Count.EqualTo(3));
        Assert.That(task.GetItems(TaskSplit.Valid), Has.Count.EqualTo(2));
        Assert.That(task.GetItems(TaskSplit.Transfer).Select(i => i.Id), Is.EqualTo(new[] { "c0", "c1", "c2" }));
        var messages = task.BuildMessages(new TaskItem("x", "Q"));
        Assert.That(messages[0].Content, Does.StartWith("The following are multiple choice questions (with answers)."));
        Assert.That(messages[0].Content, Does.EndWith("where X is the correct letter choice."));
        Assert.That(messages[1].Content, Is.EqualTo("Q"));
    }

    private static TaskItem Item(string[] options, string key)
        => new("id", ArcTask.FormatQuestion("Q?", options)) { Choices = options, References = [key] };
}
