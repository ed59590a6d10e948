using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Tasks;

public class FewShotTaskTests
{
    // random.seed(27); random.shuffle(list(range(20))) == [17, 10, 7, 0, 3, 12, ...] under CPython 3.11.
    [Test]
    public void ShotsComeFromThePythonShuffleAndTestIsTheWholeSplit()
    {
        var math = new MathTask(TaskTestData.Numbered(20, "m"));
        var fewShot = new FewShotTask(math, TaskSplit.Test, shots: 3, seed: 27);
        Assert.That(fewShot.Name, Is.EqualTo("math_3shots"));
        Assert.That(fewShot.GetItems(TaskSplit.Train).Select(i => i.Id), Is.EqualTo(new[] { "m17", "m10", "m7" }));
        Assert.That(fewShot.GetItems(TaskSplit.Valid), Has.Count.EqualTo(17));
        Assert.That(fewShot.GetItems(TaskSplit.Valid)[0].Id, Is.EqualTo("m0"));
        Assert.That(fewShot.GetItems(TaskSplit.Test), Has.Count.EqualTo(20));
        Assert.That(fewShot.GetItems(TaskSplit.Transfer), Is.Empty);
        Assert.That(fewShot.Generation, Is.SameAs(math.Generation));
        var item = new TaskItem("x", "q") { References = ["2"] };
        Assert.That(fewShot.Score(item, "\\boxed{2}").Correct, Is.True);
        Assert.That(fewShot.BuildMessages(item), Is.EqualTo(math.BuildMessages(item)));
    }

    [Test]
    public void TransferSplitOfArc()
    {
        var arc = new ArcTask([], [], TaskTestData.Numbered(12, "c"));
        var fewShot = new FewShotTask(arc, TaskSplit.Transfer, shots: 2, seed: 38);
        Assert.That(fewShot.GetItems(TaskSplit.Train).Select(i => i.Id), Is.EqualTo(new[] { "c7", "c4" }));
    }

    [Test]
    public void BadArgumentsAreRejected()
    {
        var math = new MathTask(TaskTestData.Numbered(5));
        Assert.Throws<ArgumentException>(() => new FewShotTask(math, TaskSplit.Train, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FewShotTask(math, TaskSplit.Test, 6, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FewShotTask(math, TaskSplit.Test, 0, 1));
    }
}
