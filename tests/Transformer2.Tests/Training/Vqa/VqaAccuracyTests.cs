using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Vqa;

/// <summary>The official VQA accuracy on cases worked out by hand.</summary>
public class VqaAccuracyTests
{
    static string[] Answers(params (string Answer, int Count)[] groups) => groups.SelectMany(g => Enumerable.Repeat(g.Answer, g.Count)).ToArray();

    [TestCase(4, 1.0)] // every leave-one-out subset keeps ≥ 3 matches
    [TestCase(3, 0.9)] // 3 subsets keep 2 (2/3), 7 keep 3 (1): (2 + 7) / 10
    [TestCase(2, 0.6)] // 2 subsets keep 1 (1/3), 8 keep 2 (2/3): (2/3 + 16/3) / 10
    [TestCase(1, 0.3)] // 1 subset keeps 0, 9 keep 1 (1/3)
    [TestCase(0, 0.0)]
    public void AccuracyAveragesTheTenLeaveOneOutSubsets(int matching, double expected)
    {
        var answers = Answers(("red", matching), ("blue", 10 - matching));
        Assert.That(VqaAccuracy.Score("red", answers), Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void PredictionIsNormalisedAsTheOfficialScriptDoes()
    {
        Assert.That(VqaAccuracy.Score("  Yes.\n", Answers(("yes", 10))), Is.EqualTo(1.0));
        Assert.That(VqaAccuracy.Score("The Dog", Answers(("dog", 10))), Is.EqualTo(1.0), "articles are dropped, case folded");
        Assert.That(VqaAccuracy.Score("Two", Answers(("2", 7), ("two", 3))), Is.EqualTo(1.0), "number words become digits");
        Assert.That(VqaAccuracy.Score("dont", Answers(("don't", 10))), Is.EqualTo(1.0), "contractions get their apostrophe");
        Assert.That(VqaAccuracy.NormalizePrediction("hello, world!"), Is.EqualTo("hello world"));
        Assert.That(VqaAccuracy.NormalizePrediction("1,000"), Is.EqualTo("1000"));
        Assert.That(VqaAccuracy.NormalizePrediction("3.5 m."), Is.EqualTo("3.5 m"));
    }

    [Test]
    public void HumanAnswersArePunctuationNormalisedOnlyWhenTheyDisagree()
    {
        // The official quirk: unanimous answers are compared raw, split ones after the punctuation rule.
        Assert.That(VqaAccuracy.Score("coca-cola", Answers(("coca-cola", 5), ("coke", 5))), Is.EqualTo(1.0));
        Assert.That(VqaAccuracy.Score("coca-cola", Answers(("coca-cola", 10))), Is.EqualTo(0.0));
    }

    [Test]
    public void TaskScoresTheFirstLineAndInterpolatesTheReward()
    {
        var item = new TaskItem("q1", "What colour?") { References = Answers(("red", 2), ("blue", 8)), ImagePath = "x.png" };
        var task = VqaTask.TextVqa(new TaskSplits([item], [], [], []));
        var messages = task.BuildMessages(item);
        Assert.That(messages.Single().Content, Is.EqualTo("<image>\nWhat colour?\nAnswer the question using a single word or phrase."));
        var score = task.Score(item, "Red\nbecause it is");
        Assert.That(score.ExtractedAnswer, Is.EqualTo("Red"));
        Assert.That(score.Reward, Is.EqualTo(2 * 0.6 - 1).Within(1e-12));
        Assert.That(score.Correct, Is.False);
        Assert.That(task.Score(item, "blue").Correct, Is.True);
    }

    [Test]
    public void LoadsTextVqaAndOkVqaFiles()
    {
        string folder = Path.Combine(Path.GetTempPath(), "t2-vqa-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string textVqa = Path.Combine(folder, "TextVQA_0.5.1_val.json");
            File.WriteAllText(textVqa, """{"dataset_name": "textvqa", "data": [{"question_id": 34602, "question": "what is the brand?", "image_id": "003a8ae2ef43b901", "answers": ["nokia", "nokia", "toshiba", "nokia", "nokia", "nokia", "nokia", "nokia", "nokia", "nokia"]}]}""");
            var items = VqaDatasets.LoadTextVqa(textVqa, "/data/train_images");
            Assert.That(items.Single().Id, Is.EqualTo("34602"));
            Assert.That(items.Single().ImagePath, Is.EqualTo(Path.Combine("/data/train_images", "003a8ae2ef43b901.jpg")));
            Assert.That(items.Single().References, Has.Count.EqualTo(10));

            string questions = Path.Combine(folder, "q.json"), annotations = Path.Combine(folder, "a.json");
            File.WriteAllText(questions, """{"questions": [{"image_id": 297147, "question": "What sport can you use this for?", "question_id": 2971475}]}""");
            File.WriteAllText(annotations, """{"annotations": [{"question_id": 2971475, "image_id": 297147, "answers": [{"answer_id": 1, "answer": "race", "raw_answer": "racing"}, {"answer_id": 2, "answer": "motocross"}]}]}""");
            var ok = VqaDatasets.LoadOkVqa(questions, annotations, "/coco/val2014").Single();
            Assert.That(ok.ImagePath, Is.EqualTo(Path.Combine("/coco/val2014", "COCO_val2014_000000297147.jpg")));
            Assert.That(ok.References, Is.EqualTo(new[] { "race", "motocross" }));

            File.WriteAllText(annotations, """{"annotations": []}""");
            Assert.That(() => VqaDatasets.LoadOkVqa(questions, annotations, "/coco"), Throws.TypeOf<InvalidDataException>().With.Message.Contains("2971475"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
