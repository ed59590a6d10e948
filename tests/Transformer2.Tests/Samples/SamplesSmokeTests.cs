using System.Text.RegularExpressions;
using Transformer2.Core.Experts;
using Transformer2.Samples.AdaptationStrategies;
using Transformer2.Samples.ChatClient;
using Transformer2.Samples.CustomTaskExpert;
using Transformer2.Samples.DependencyInjection;

namespace Transformer2.Tests.Samples;

/// <summary>
/// Runs each console sample's entry point on the bundled model (as <c>dotnet run</c> would, with default arguments where
/// it has them) and checks that what it prints is meaningful, so the samples cannot rot.
/// </summary>
[Category("Slow")]
public class SamplesSmokeTests
{
    [Test]
    public async Task CustomTaskExpertTrainsSavesReloadsAndUsesItsExpert()
    {
        string work = Path.Combine(Path.GetTempPath(), "t2-sample-custom-" + Guid.NewGuid().ToString("N"));
        try
        {
            var output = new StringWriter();
            int code = await CustomTaskExpertSample.RunAsync([BundledModel(), work], output);
            string text = output.ToString();

            Assert.That(code, Is.EqualTo(0), text);
            Assert.That(text, Does.Contain("iteration 8/8"), "every iteration reports progress");
            Assert.That(text, Does.Contain("reloaded vectors equal the trained ones: True"));
            using (var expert = ExpertFile.Load(Path.Combine(work, "expert.safetensors")))
            {
                Assert.That(expert.Name, Is.EqualTo("list-length"));
                Assert.That(expert.Metadata.BaseModelIdentity, Is.EqualTo("t2-tiny"));
                Assert.That(expert.Targets, Has.Count.EqualTo(12), "one vector per MLP matrix of 4 layers");
            }
            Assert.That(text, Does.Match(@"-> '[^'\n]*Output: \d+[^'\n]*' \(expected \d; plan expert:list-length\)"), "the reloaded expert answers");
            Assert.That(text, Does.Match(@"test accuracy: base \d+/32, with expert \d+/32"));
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }

    [Test]
    public async Task AdaptationStrategiesPrintsEachDecisionWeightsAndAnswer()
    {
        var output = new StringWriter();
        int code = await AdaptationStrategiesSample.RunAsync([], output);
        string text = output.ToString();

        Assert.That(code, Is.EqualTo(0), text);
        var sections = Regex.Split(text, "^== ", RegexOptions.Multiline).Skip(1).ToList();
        Assert.That(sections.Select(s => s[(s.IndexOf('[') + 1)..s.IndexOf(']')]),
            Is.EqualTo(new[] { "fixed", "fixed", "prompt", "classification-expert", "few-shot" }), text);
        foreach (var section in sections)
        {
            Assert.That(Regex.Matches(section, @"^    answer: \S", RegexOptions.Multiline), Has.Count.EqualTo(3), section);
            Assert.That(Regex.Matches(section, @"^    decision: ", RegexOptions.Multiline), Has.Count.EqualTo(3), section);
        }
        Assert.That(sections[0], Does.Contain("weights none (base model)"));
        Assert.That(sections[1], Does.Contain("weights arith 0.50, code 0.25, choice 0.25"));
        foreach (var dispatched in new[] { sections[2], sections[3] })
        {
            // Prompt dispatch applies the one expert its category maps to.
            var decisions = Regex.Matches(dispatched, @"decision: label (\w+), weights (\w+) 1\.00");
            Assert.That(decisions, Has.Count.EqualTo(3), dispatched);
            Assert.That(decisions.Select(m => (m.Groups[1].Value, m.Groups[2].Value)), Has.All.AnyOf(("math", "arith"), ("code", "code"), ("reasoning", "choice")), dispatched);
        }
        Assert.That(Regex.Matches(sections[4], @"adapted '\w+': 24 candidates tried"), Has.Count.EqualTo(3), sections[4]);
        Assert.That(Regex.Matches(sections[4], @"decision: label (math|code|reasoning), weights arith [\d.]+, code [\d.]+, choice [\d.]+"), Has.Count.EqualTo(3), sections[4]);
    }

    [Test]
    public async Task ChatClientAnswersStreamsTheSameTextAndReportsTheDecision()
    {
        var output = new StringWriter();
        int code = await ChatClientSample.RunAsync([], output);
        string text = output.ToString();

        Assert.That(code, Is.EqualTo(0), text);
        string answer = Line(text, "assistant: ");
        Assert.That(answer, Is.Not.Empty);
        Assert.That(Line(text, "streamed: "), Is.EqualTo(answer), "greedy streaming gives the same text");
        Assert.That(Line(text, "combined: "), Does.StartWith($"'{answer}'"));
        Assert.That(Line(text, "decision: "), Does.Match(@"^strategy prompt, label (math|code|reasoning), weights (arith|code|choice) 1\.00, first pass \d+ ms$"));
        Assert.That(Line(text, "second turn: "), Does.Match(@"^\S.* \| strategy prompt, label "));
        Assert.That(Line(text, "sampled (temperature 0.8, seed 7, stop at '.'): "), Does.Not.Contain("."), "the stop sequence cuts the answer");
        Assert.That(Line(text, "pipeline: "), Does.Contain("experts arith, choice, cls, code"));
    }

    [Test]
    public async Task DependencyInjectionResolvesBothPipelinesAndRejectsBadOptions()
    {
        var output = new StringWriter();
        int code = await DependencyInjectionSample.RunAsync([], output);
        string text = output.ToString();

        Assert.That(code, Is.EqualTo(0), text);
        Assert.That(Regex.Matches(text, @"^  adapted \(label (math|code|reasoning)\): \S", RegexOptions.Multiline), Has.Count.EqualTo(2), text);
        Assert.That(Regex.Matches(text, @"^  base: \S", RegexOptions.Multiline), Has.Count.EqualTo(2), text);
        Assert.That(text, Does.Contain("rejected at start-up: Transformer2: ModelFolder '").And.Contain("no-such-folder' does not exist."));
        Assert.That(text, Does.Contain("rejected at start-up: Transformer2: category 'poetry' needs an entry in CategoryDescriptions."));
    }

    static string Line(string text, string prefix)
    {
        var line = text.Split('\n').Select(l => l.TrimEnd('\r')).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        Assert.That(line, Is.Not.Null, $"no line starting with '{prefix}' in:\n{text}");
        return line![prefix.Length..];
    }

    static string BundledModel() => Tests.BundledModel.Folder();
}
