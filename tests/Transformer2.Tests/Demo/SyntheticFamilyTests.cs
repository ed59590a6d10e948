using Transformer2.Demo.Tasks;
using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Demo;

public class SyntheticFamilyTests
{
    static readonly DemoSuite Suite = new(7, DemoScale.Smoke);

    [Test]
    public void TheSuiteIsTheSameForTheSameSeedAndDifferentForAnother()
    {
        var again = new DemoSuite(7, DemoScale.Smoke);
        var other = new DemoSuite(8, DemoScale.Smoke);
        foreach (var task in Suite.All)
        {
            var prompts = task.GetItems(TaskSplit.Test).Select(i => i.Prompt).ToList();
            Assert.That(again[task.Name].GetItems(TaskSplit.Test).Select(i => i.Prompt), Is.EqualTo(prompts), task.Name);
            Assert.That(other[task.Name].GetItems(TaskSplit.Test).Select(i => i.Prompt), Is.Not.EqualTo(prompts), task.Name);
        }
    }

    [Test]
    public void SplitsNeverShareAPrompt()
    {
        foreach (var task in Suite.All)
        {
            var test = task.GetItems(TaskSplit.Test).Select(i => i.Prompt).ToHashSet();
            var valid = task.GetItems(TaskSplit.Valid).Select(i => i.Prompt).ToHashSet();
            Assert.That(task.GetItems(TaskSplit.Train).Any(i => test.Contains(i.Prompt) || valid.Contains(i.Prompt)), Is.False, task.Name);
            Assert.That(test.Overlaps(valid), Is.False, task.Name);
        }
    }

    [Test]
    public void EveryReferenceSolutionScoresCorrectAndAWrongOneDoesNot()
    {
        foreach (var task in Suite.All)
            foreach (var item in task.GetItems(TaskSplit.Test))
            {
                Assert.That(task.Score(item, item.Reference!).Correct, Is.True, $"{task.Name}: {item.Prompt} → {item.Reference}");
                Assert.That(task.Score(item, "I do not know").Correct, Is.False);
            }
    }

    [Test]
    public void ScorersReadTheFormatsExactly()
    {
        var item = new TaskItem("x", "q") { Metadata = new Dictionary<string, string> { [FamilyTask.ExpectedKey] = "12" } };
        var arith = new ArithmeticFamily(1);
        Assert.That(arith.Score(item, "The answer is 12.").Correct, Is.True);
        Assert.That(arith.Score(item, "The answer is 12 or 13.").Correct, Is.False, "the last number counts");
        Assert.That(arith.Score(item, "The answer is 112.").Correct, Is.False);
        var code = new SnippetFamily(1);
        Assert.That(code.Score(item, "Output: 12").Correct, Is.True);
        Assert.That(code.Score(item, "12").Correct, Is.False, "the output must be labelled");
        var letter = item with { Metadata = new Dictionary<string, string> { [FamilyTask.ExpectedKey] = "B" } };
        var choice = new ChoiceFamily(true);
        Assert.That(choice.Score(letter, "Answer: B").Correct, Is.True);
        Assert.That(choice.Score(letter, "Answer: Bob").Correct, Is.False);
        Assert.That(choice.Score(letter, "Answer: C").Correct, Is.False);
    }

    [Test]
    public void UnseenFamiliesAreHarderRelativesOfTheTrainingOnes()
    {
        var random = new Random(1);
        Assert.That(new ArithmeticFamily(2).Draw(random).Prompt, Does.Contain(" Then "));
        Assert.That(new SnippetFamily(2).Draw(random).Prompt.Count(c => c == '('), Is.GreaterThanOrEqualTo(3));
        Assert.That(new ChoiceFamily(true).Draw(random).Prompt, Does.Contain("D) "));
        Assert.That(Suite.All.Select(t => t.Family.Label).Distinct().Order(), Is.EqualTo(new[] { "code", "math", "reasoning" }));
        Assert.That(Suite.Classification.GetItems(TaskSplit.Train).Select(i => i.Reference).Distinct().Count(), Is.EqualTo(3));
    }

    [Test]
    public void ThePretrainingMixtureRendersEachItemWithItsOwnTaskAndMislabelsSomeClassifications()
    {
        var suite = new DemoSuite(7, DemoScale.Full);
        var mixture = suite.PretrainingMixture();
        var items = mixture.GetItems(TaskSplit.Train).Concat(mixture.GetItems(TaskSplit.Valid)).ToList();
        var classification = items.Where(i => i.Reference!.StartsWith("Classification:", StringComparison.Ordinal)).ToList();
        Assert.That(classification, Has.Count.EqualTo(DemoScale.Full.ClassificationInPretraining));
        Assert.That(mixture.BuildMessages(classification[0])[0].Content, Is.EqualTo(ClassificationPrompt.SystemPrompt));
        // The classification task's ids start with the true label.
        int wrong = classification.Count(i => !i.Reference!.Contains("{" + i.Id.Split('/')[0] + "}", StringComparison.Ordinal));
        Assert.That((double)wrong / classification.Count, Is.InRange(0.15, 0.35), "about a quarter of the labels are wrong");
        var arith = items.First(i => i.Metadata.GetValueOrDefault(FamilyTask.FamilyKey) == "arith" && !i.Reference!.StartsWith("Classification", StringComparison.Ordinal));
        Assert.That(mixture.BuildMessages(arith), Has.Count.EqualTo(1));
    }
}
