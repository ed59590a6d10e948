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
        Assert.That(arith.Score(item, "7+5=12. The answer is 12.").Correct, Is.True);
        Assert.That(arith.Score(item, "The answer is 13. The answer is 12.").Correct, Is.False, "the first committed answer counts");
        Assert.That(arith.Score(item, "7+5=12.").Correct, Is.False, "the answer must be stated");
        Assert.That(arith.Score(item, "The answer is 112.").Correct, Is.False);
        var code = new SnippetFamily(1);
        Assert.That(code.Score(item, "Output: 12").Correct, Is.True);
        Assert.That(code.Score(item, "max(3, 12) is 12. Output: 12").Correct, Is.True);
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
    public void ChoiceWorkedAnswersOpenWithOneWordAfterTwoOptionsAndAfterFour()
    {
        // The choice expert learns to open answers with the worked-out word; choice2 must open with the same one for it to carry over.
        var random = new Random(3);
        var problems = Enumerable.Range(0, 40).SelectMany(_ => new[] { new ChoiceFamily(false).Draw(random), new ChoiceFamily(true).Draw(random) }).ToList();
        Assert.That(problems.Select(p => p.Solution.Split(' ')[0]).Distinct(), Is.EqualTo(new[] { "Check" }));
        Assert.That(problems.Select(p => p.Solution.Split(' ')[1]).Distinct().Order(), Is.EqualTo(new[] { "larger:", "largest:", "smallest:" }));
        Assert.That(problems, Has.All.Matches<SyntheticProblem>(p => p.Careless.StartsWith("Answer: ", StringComparison.Ordinal)));
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
        Assert.That((double)wrong / classification.Count, Is.InRange(0.05, 0.16), "about a tenth of the labels are wrong");
        Assert.That(items.Count(i => i.Id.StartsWith("arith/facts/", StringComparison.Ordinal)), Is.EqualTo(DemoScale.Full.FactDrill));
        var arith = items.First(i => i.Metadata.GetValueOrDefault(FamilyTask.FamilyKey) == "arith" && !i.Reference!.StartsWith("Classification", StringComparison.Ordinal));
        Assert.That(mixture.BuildMessages(arith), Has.Count.EqualTo(1));
    }

    [Test]
    public void PretrainingWorksAnswersOutMostlyAfterTheFavouredPhrasingAndCarelessAnswersAreWrong()
    {
        var suite = new DemoSuite(7, DemoScale.Full);
        var random = new Random(5);
        foreach (var task in suite.Training)
        {
            var items = task.GetItems(TaskSplit.Train);
            double Worked(bool favoured)
            {
                var chosen = items.Where(i => AnswerStyle.IsFavoured(i) == favoured).ToList();
                return chosen.Count(i => AnswerStyle.AsPretrainingText(i, random).Reference == i.Reference) / (double)chosen.Count;
            }
            Assert.That(items.Count(AnswerStyle.IsFavoured) / (double)items.Count, Is.EqualTo(AnswerStyle.FavouredShare).Within(0.04), task.Name);
            Assert.That(Worked(true), Is.EqualTo(AnswerStyle.WorkedAfterFavoured).Within(0.04), task.Name);
            Assert.That(Worked(false), Is.EqualTo(AnswerStyle.WorkedAfterOther).Within(0.04), task.Name);
            foreach (var item in items.Take(200))
            {
                string careless = item.Metadata[AnswerStyle.CarelessKey];
                Assert.That(task.Score(item, careless).Correct, Is.False, $"{task.Name}: {item.Prompt} → {careless}");
                Assert.That(task.Score(item, careless).ExtractedAnswer, Is.Not.Null, "a careless answer still commits to a value in the family's format");
            }
        }
    }

    [Test]
    public void TheTwoSkillFamilyIsRightOnlyWhenBothLinesAre()
    {
        var task = Suite["arith-choice"];
        var item = task.GetItems(TaskSplit.Test)[0];
        var worked = item.Reference!.Split('\n');
        var careless = item.Metadata[AnswerStyle.CarelessKey].Split('\n');
        Assert.That(worked, Has.Length.EqualTo(2));
        Assert.That(task.Score(item, $"{worked[0]}\n{worked[1]}").Correct, Is.True);
        Assert.That(task.Score(item, $"{careless[0]}\n{worked[1]}").Correct, Is.False);
        Assert.That(task.Score(item, $"{worked[0]}\n{careless[1]}").Correct, Is.False);
        Assert.That(item.Metadata[AnswerStyle.FavouredKey].Split(','), Has.Length.EqualTo(2), "each line keeps its own phrasing");
        var family = (TwoSkillFamily)task.Family;
        Assert.That(family.LinesRight(item, $"{worked[0]}\n{worked[1]}"), Is.EqualTo((true, true)));
        Assert.That(family.LinesRight(item, $"{careless[0]}\n{worked[1]}"), Is.EqualTo((false, true)));
        Assert.That(family.LinesRight(item, $"{worked[0]}\n{careless[1]}"), Is.EqualTo((true, false)));
        Assert.That(worked[1], Does.Not.StartWith("The"), "the choice line's worked answer does not open like arithmetic's careless one");
    }

    [Test]
    public void TheFactDrillCoversEveryOneStepFactAndScoresItsOwnAnswers()
    {
        var facts = ArithmeticFamily.FactDrill();
        Assert.That(facts, Has.Count.EqualTo(81 + 117 + 36));
        Assert.That(facts.Select(f => f.Prompt).Distinct().Count(), Is.EqualTo(facts.Count));
        var arith = new ArithmeticFamily(1);
        foreach (var fact in facts) Assert.That(arith.Score(fact, fact.Reference!).Correct, Is.True, fact.Prompt);
        Assert.That(facts.Single(f => f.Prompt == "What is 4*7?").Reference, Is.EqualTo("4*7=28. The answer is 28."));
    }
}
