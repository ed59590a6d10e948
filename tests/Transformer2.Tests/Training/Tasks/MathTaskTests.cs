using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Tasks;

public class MathTaskTests
{
    [TestCase("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}")]
    [TestCase("so \\boxed{a{b}c} and \\boxed{2}", "2")]
    [TestCase("x \\boxed{a{b{c}}d} y", "a{b{c}}d")]
    [TestCase("\\fbox{3}", null)] // found, but remove_boxed only accepts "\boxed{"
    [TestCase("\\boxed 5", null)]
    [TestCase("\\boxed{1", null)]
    [TestCase("The answer is: 42.\nMore", "42")]
    [TestCase("The answer is: 3.14.", "3.14")]
    [TestCase("The answer is: 1 \\boxed{2}", "1 \\boxed{2}")] // the marker wins over boxes
    public void ExtractsAnswersLikeTheAuthors(string completion, string? expected)
        => Assert.That(MathAnswer.Extract(completion), Is.EqualTo(expected));

    [TestCase("\\sqrt2+\\frac12", "\\sqrt{2}+\\frac{1}{2}")]
    [TestCase("x = \\dfrac{3}{4}", "\\frac{3}{4}")]
    [TestCase("\\left( 1, 2 \\right)", "(1,2)")]
    [TestCase("10^\\circ", "10")]
    [TestCase("5\\text{ cm}", "5")]
    [TestCase(".5", "\\frac{1}{2}")]
    [TestCase("0.5", "\\frac{1}{2}")]
    [TestCase("3/4", "\\frac{3}{4}")]
    [TestCase("03/4", "03/4")]
    [TestCase("a\\!b", "ab")]
    [TestCase("\\$5", "5")]
    [TestCase("10\\%", "10")]
    public void NormalisesLikeHendrycksStripString(string input, string expected)
    {
        Assert.That(MathNormalizer.TryNormalize(input, out var normalized), Is.True);
        Assert.That(normalized, Is.EqualTo(expected));
    }

    [TestCase("\\sqrt")]
    [TestCase("\\frac")]
    [TestCase("5\\text{ a}\\text{ b}")]
    public void InputsOnWhichPythonRaisesFailNormalisation(string input)
        => Assert.That(MathNormalizer.TryNormalize(input, out _), Is.False);

    // Expected values printed by the authors' is_equiv (fishfarm competation_math.py) under CPython 3.11 + sympy 1.14
    // without antlr4, i.e. the environment MathSymbolicMode.AuthorsEnvironment stands for.
    [TestCase("\\frac{1}{2}", "0.5", true)]
    [TestCase("\\frac{1}{2}", "\\dfrac{1}{2}", true)]
    [TestCase("\\frac12", "\\frac{1}{2}", true)]
    [TestCase("3/4", "\\frac{3}{4}", true)]
    [TestCase("\\frac{3}{4}", "0.75", false)]
    [TestCase("50", "0.5", false)]
    [TestCase("1,000", "1000", true)]
    [TestCase("x=5", "5", true)]
    [TestCase("5", "x = 5", true)]
    [TestCase("\\left(1,2\\right)", "(1,2)", true)]
    [TestCase("(1,2)", "(1, 2)", true)]
    [TestCase("[1,2]", "(1,2)", false)]
    [TestCase("10^{\\circ}", "10", true)]
    [TestCase("5\\text{ cm}", "5", true)]
    [TestCase("\\$5", "5", true)]
    [TestCase("10\\%", "10", true)]
    [TestCase("\\sqrt2", "\\sqrt{2}", true)]
    [TestCase("2\\sqrt{2}", "\\sqrt{8}", false)]
    [TestCase("\\pi", "3.14159", false)]
    [TestCase("x^2+1", "1+x^2", false)]
    [TestCase("2x", "x+x", false)]
    [TestCase("a", "b", false)]
    [TestCase("\\text{(A)}", "A", false)]
    [TestCase("5", "6", false)]
    [TestCase("1/3", "0.333", false)]
    [TestCase("5\\text{ a}\\text{ b}", "5\\text{ a}\\text{ b}", true)]
    [TestCase(".5", "\\frac12", true)]
    [TestCase("\\infty", "\\infty", true)]
    [TestCase("1e3", "1000", true)]
    [TestCase("1_000", "1000", true)]
    [TestCase("-3", "3", false)]
    [TestCase("(-\\infty, 3)", "(-\\infty,3)", true)]
    [TestCase("\\{1,2\\}", "\\{1, 2\\}", true)]
    [TestCase("x \\in [2,5)", "[2,5)", false)]
    [TestCase("x**2+1", "1+x**2", true)]
    [TestCase("2*x", "x+x", true)]
    [TestCase("sqrt(2)*2", "sqrt(8)", true)]
    [TestCase("pi", "3.14159", true)]
    [TestCase("pi", "3.2", false)]
    [TestCase("(1/3)", "0.333", true)]
    [TestCase("2*pi", "6.2832", true)]
    [TestCase("E", "2.718", true)]
    [TestCase("x*(x+1)", "x**2+x", true)]
    [TestCase("x*(x+1)", "x**2+x+0.0001", false)]
    [TestCase("1.5*x", "3*x/2", true)]
    [TestCase("x**2", "x^2", false)]
    [TestCase("2*x", "2x", false)]
    public void EquivalenceMatchesTheAuthorsEnvironment(string gold, string prediction, bool expected)
        => Assert.That(MathEquivalence.IsEquivalent(gold, prediction), Is.EqualTo(expected));

    [TestCase("\\frac{3}{4}", "0.75", true)]
    [TestCase("2\\sqrt{2}", "\\sqrt{8}", true)]
    [TestCase("\\pi", "3.14159", true)]
    [TestCase("\\frac{\\sqrt{3}}{2}", "0.866", true)]
    [TestCase("x^2+1", "1+x^2", true)]
    [TestCase("2x", "x+x", true)]
    [TestCase("\\dfrac{1}{3}", "0.3333", true)]
    [TestCase("5\\mbox{cm}", "5", true)]
    [TestCase("\\frac{3}{4}", "0.8", false)]
    [TestCase("x^2", "x^3", false)]
    [TestCase("\\sin x", "\\sin x + 0", false)] // functions are outside the subset (raw strings still differ)
    public void LatexNumericModeAlsoComparesLatexArithmetic(string gold, string prediction, bool expected)
        => Assert.That(MathEquivalence.IsEquivalent(gold, prediction, MathSymbolicMode.LatexNumeric), Is.EqualTo(expected));

    [Test]
    public void MissingAnswers()
    {
        Assert.That(MathEquivalence.IsEquivalent(null, null), Is.True);
        Assert.That(MathEquivalence.IsEquivalent("1", null), Is.False);
        Assert.That(MathEquivalence.IsEquivalent(null, "1"), Is.False);
    }

    [Test]
    public void TaskScoresTheBoxedAnswerAndIsTestOnly()
    {
        var items = TaskDatasetsTests.MathItems();
        var task = new MathTask(items);
        Assert.That(task.GetItems(TaskSplit.Train), Is.Empty);
        Assert.That(task.GetItems(TaskSplit.Valid), Is.Empty);
        Assert.That(task.GetItems(TaskSplit.Test), Has.Count.EqualTo(items.Count));
        Assert.That(task.Generation.MaxNewTokens, Is.EqualTo(1024));
        Assert.That(task.Generation.MaxContextTokens, Is.EqualTo(2048));
        var item = new TaskItem("1", "What is half of one?") { References = ["\\frac{1}{2}"] };
        var score = task.Score(item, "Half of one is \\boxed{\\dfrac{1}{2}}.");
        Assert.That(score.Correct, Is.True);
        Assert.That(score.ExtractedAnswer, Is.EqualTo("\\dfrac{1}{2}"));
        Assert.That(task.Score(item, "\\boxed{0.75}").Reward, Is.EqualTo(-1.0));
        Assert.That(task.BuildMessages(item)[0].Content, Is.EqualTo("Solve the question below by reasoning step by step,and put the final answer within \\boxed{}."));
    }
}
