using Transformer2.Adaptation.Dispatch;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Adaptation.Search;
using Transformer2.Core.Experts;
using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Models.Llama;
using Transformer2.Training.Tasks;
using static Transformer2.Tests.Adaptation.BigramFixture;

namespace Transformer2.Tests.Adaptation;

public class TwoPassPipelineTests
{
    // '>' (the generation prompt) starts "\boxed{math}", then end of sequence.
    static readonly Dictionary<char, char?> SaysMath = Chain("\\boxed{math}");

    static Dictionary<char, char?> Chain(string text)
    {
        var next = new Dictionary<char, char?> { ['>'] = text[0] };
        for (int i = 0; i < text.Length; i++) next[text[i]] = i + 1 < text.Length ? text[i + 1] : null;
        return next;
    }

    static TransformerSquaredBuilder Builder(LlamaForCausalLM model) => new TransformerSquaredBuilder()
        .UseModel(model, Tokenizer, Template)
        .ConfigureGeneration(g => g with { MaxNewTokens = 16 });

    static IReadOnlyList<ChatMessage> Ask(string question) => [ChatMessage.User(question)];

    [Test]
    public async Task PromptDispatchRoutesTheLabelToItsExpert()
    {
        var model = Model(SaysMath);
        await using var t2 = Builder(model)
            .AddExpert(Expert(model, "math-expert", "x", 0.2, 1.0))      // weakens x→e: the answer sticks at 'x'
            .AddExpert(Expert(model, "code-expert", "b", 0.2, 1.0))
            .UsePromptDispatch(c => c.Add("math", "math-expert").Add("code", "code-expert"), maxFirstPassTokens: 16)
            .Build();

        var result = await t2.AnswerAsync(Ask("What is 2+2?"));
        Assert.That(result.Decision.Strategy, Is.EqualTo("prompt"));
        Assert.That(result.Decision.FirstPassText, Is.EqualTo("\\boxed{math}"));
        Assert.That(result.Decision.Label, Is.EqualTo("math"));
        Assert.That(result.Decision.Plan, Is.EqualTo(AdaptationPlan.Single("math-expert")));

        var withMath = await t2.AnswerAsync(Ask("What is 2+2?"), new AnswerOptions { Plan = AdaptationPlan.Single("math-expert") });
        var baseline = await t2.AnswerAsync(Ask("What is 2+2?"), new AnswerOptions { Plan = AdaptationPlan.Base });
        Assert.That(result.Answer, Is.EqualTo(withMath.Answer), "the second pass ran with the math expert");
        Assert.That(baseline.Answer, Is.EqualTo("\\boxed{math}"));
        Assert.That(result.Answer, Does.StartWith("\\boxx").And.Not.EqualTo(baseline.Answer));
        Assert.That(result.FirstPass, Is.GreaterThan(TimeSpan.Zero));
        Assert.That(result.FirstPassTokens, Is.EqualTo(12));
    }

    [Test]
    public async Task AnUnknownLabelFallsBackToTheBaseModel()
    {
        var model = Model(Chain("\\boxed{z}"));
        await using var t2 = Builder(model)
            .AddExpert(Expert(model, "math-expert", "x", 0.2, 1.0))
            .UsePromptDispatch(c => c.Add("math", "math-expert"), maxFirstPassTokens: 16)
            .Build();
        var result = await t2.AnswerAsync(Ask("hello"));
        Assert.That(result.Decision.Label, Is.EqualTo("other"));
        Assert.That(result.Decision.Plan.IsBase, Is.True);
        Assert.That(result.Answer, Is.EqualTo("\\boxed{z}"));
    }

    [Test]
    public async Task TheClassificationExpertIsAppliedDuringTheFirstPass()
    {
        var model = Model(SaysMath);
        await using var t2 = Builder(model)
            .AddExpert(Expert(model, "math-expert", "x", 0.2, 1.0))
            .AddExpert(Expert(model, "cls", "{", 0.2, 1.0))            // weakens {→m: the label never closes
            .UseClassificationExpert("cls", c => c.Add("math", "math-expert"), maxFirstPassTokens: 16)
            .Build();
        var result = await t2.AnswerAsync(Ask("What is 2+2?"));
        Assert.That(result.Decision.Strategy, Is.EqualTo("classification-expert"));
        Assert.That(result.Decision.FirstPassText, Does.StartWith("\\boxed{{{"), "the cls expert changed the first pass");
        Assert.That(result.Decision.Plan.IsBase, Is.True);
    }

    [Test]
    public async Task ParametersMixturesOfSigmoidExpertsAnswerAlikeMergedAndFactored()
    {
        // The same experts as sigmoid-parameterised vectors (sigmoid(p)·2 = z), so Parameters semantics maps the *sum* of p.
        var next = new Dictionary<char, char?> { ['>'] = 'a', ['a'] = 'b', ['b'] = null, ['c'] = 'z', ['z'] = null };
        var model = Model(next, new Dictionary<char, double> { ['a'] = 0.9 });
        Expert Sigmoid(Expert raw)
        {
            var z = raw.Vectors[DownProj];
            var p = (z / (2 - z)).log();
            return new Expert(raw.Metadata with { Parameterization = SvfParameterization.Default with { MaxMultiplier = 2 } }, [new(DownProj, p)]);
        }
        var answers = new List<string>();
        foreach (var mode in new[] { ExpertApplicationMode.Merged, ExpertApplicationMode.Factored })
            foreach (var weights in new[] { new[] { 1.0, 0.0 }, new[] { 1.0, 1.0 }, new[] { 0.0, 1.0 } })
            {
                var builder = Builder(model)
                    .AddExpert(Sigmoid(Expert(model, "right", "a", 1.0, 0.3)))
                    .AddExpert(Sigmoid(Expert(model, "wrong", "a", 0.3, 1.0)))
                    .UseMixtureSemantics(MixtureSemantics.Parameters);
                await using var t2 = (mode == ExpertApplicationMode.Merged ? builder.UseMergedExperts() : builder.UseFactoredExperts()).Build();
                var plan = AdaptationPlan.Mixture(["right", "wrong"], MixtureWeights.Global(weights));
                answers.Add((await t2.AnswerAsync(Ask("cc"), new AnswerOptions { Plan = plan })).Answer);
            }
        Assert.That(answers[0], Is.EqualTo("ab"), "α = (1, 0) is the right expert alone, as it is applied on its own");
        Assert.That(answers.Skip(3), Is.EqualTo(answers.Take(3)), "merged and factored modes compose the same mixtures");
    }

    [Test]
    public async Task FewShotCemFindsTheMixtureThatSolvesTheTask([Values] ExpertApplicationMode mode,
        [Values(MixtureSemantics.Multipliers, MixtureSemantics.Parameters)] MixtureSemantics semantics)
    {
        // These experts' vectors are raw multipliers, so Parameters semantics mixes the same numbers; in merged mode it
        // composes each candidate instead of blending cached compositions (its mixtures are not linear in α in general).
        // '>'→'a'; 'a'→'b' is too weak in the base model (0.9 < 1), so the base answers "aaaa…". Right answer: "ab".
        var next = new Dictionary<char, char?> { ['>'] = 'a', ['a'] = 'b', ['b'] = null, ['c'] = 'z', ['z'] = null };
        var model = Model(next, new Dictionary<char, double> { ['a'] = 0.9 });
        var shots = Enumerable.Range(0, 3).Select(i => new TaskItem($"s{i}", new string('c', i + 1)) { References = ["ab"] }).ToList();
        var task = DelegateTask.WithReward("ab-task", new TaskSplits(shots, [], [], []), null, (_, answer) => answer == "ab" ? 1 : -1, new GenerationSettings(6, 64, []));
        var builder = Builder(model)
            .AddExpert(Expert(model, "right", "a", 1.0, 0.3))
            .AddExpert(Expert(model, "wrong", "a", 0.3, 1.0))
            .UseFewShotDispatch(["right", "wrong"], s => s.AddTask("ab", task, shots), new SearchOptions { PopulationSize = 8, Generations = 6, Seed = 3 })
            .UseMixtureSemantics(semantics);
        builder = mode == ExpertApplicationMode.Merged ? builder.UseMergedExperts() : builder.UseFactoredExperts();
        await using var t2 = builder.Build();

        var baseline = await t2.AnswerAsync(Ask("cc"), new AnswerOptions { Plan = AdaptationPlan.Base });
        Assert.That(baseline.Answer, Does.StartWith("aa"), "the base model fails the task");
        var search = await t2.AdaptToTaskAsync("ab");
        Assert.That(search, Is.Not.Null);
        Assert.That(search!.History[0].GenerationMeanScore, Is.LessThan(1));
        Assert.That(search.BestFitness.Score, Is.EqualTo(1.0), "CEM finds weights that solve every shot");
        Assert.That(search.Best[0] / search.Best[1], Is.GreaterThan(1.25), "the right expert dominates the mixture");

        var adapted = await t2.AnswerAsync(Ask("ccc"), new AnswerOptions { TaskKey = "ab" });
        Assert.That(adapted.Decision.Strategy, Is.EqualTo("few-shot"));
        Assert.That(adapted.Decision.Plan.Weights, Is.Not.Null);
        Assert.That(adapted.Answer, Is.EqualTo("ab"));
        Assert.That(await t2.AdaptToTaskAsync("ab"), Is.Null, "the search runs once per task; later calls reuse it");
    }

    [Test]
    public async Task ConcurrentRequestsWithDifferentExpertsEqualSerialOnes([Values] ExpertApplicationMode mode)
    {
        var model = Model(SaysMath);
        var builder = Builder(model)
            .AddExpert(Expert(model, "e1", "x", 0.2, 1.0))
            .AddExpert(Expert(model, "e2", "m", 0.2, 1.0))
            .AddExpert(Expert(model, "e3", "b", 0.2, 1.0));
        builder = mode == ExpertApplicationMode.Merged ? builder.UseMergedExperts() : builder.UseFactoredExperts();
        await using var t2 = builder.Build();
        var plans = new[] { AdaptationPlan.Base, AdaptationPlan.Single("e1"), AdaptationPlan.Single("e2"), AdaptationPlan.Single("e3") };
        var serial = new List<string>();
        foreach (var plan in plans) serial.Add((await t2.AnswerAsync(Ask("q"), new AnswerOptions { Plan = plan })).Answer);
        Assert.That(serial.Distinct().Count(), Is.EqualTo(4), "each plan answers differently");

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 24).Select(i =>
            Task.Run(() => t2.AnswerAsync(Ask("q"), new AnswerOptions { Plan = plans[i % 4] }))));
        for (int i = 0; i < concurrent.Length; i++) Assert.That(concurrent[i].Answer, Is.EqualTo(serial[i % 4]), $"request {i}");
        var after = await t2.AnswerAsync(Ask("q"), new AnswerOptions { Plan = AdaptationPlan.Base });
        Assert.That(after.Answer, Is.EqualTo(serial[0]), "weights restored");
    }

    [Test]
    public async Task FactoredOnlyLayersAnswerAsTheDenseOnes()
    {
        async Task<List<string>> Answers(bool factoredOnly)
        {
            var model = Model(SaysMath);
            var builder = Builder(model).AddExpert(Expert(model, "e1", "x", 0.2, 1.0)).AddExpert(Expert(model, "e2", "m", 0.2, 1.0));
            if (factoredOnly) builder = builder.UseFactoredOnlyLayers();
            await using var t2 = builder.Build();
            Assert.That(SvfInjector.Find(model).Values.All(l => l.HasDenseWeight != factoredOnly), Is.True);
            var answers = new List<string>();
            foreach (var plan in new[] { AdaptationPlan.Base, AdaptationPlan.Single("e1"), AdaptationPlan.Single("e2"), AdaptationPlan.Base })
                answers.Add((await t2.AnswerAsync(Ask("q"), new AnswerOptions { Plan = plan })).Answer);
            return answers;
        }
        var dense = await Answers(factoredOnly: false);
        Assert.That(dense.Distinct().Count(), Is.EqualTo(3), "each plan answers differently");
        Assert.That(await Answers(factoredOnly: true), Is.EqualTo(dense));
    }

    [Test]
    public async Task StreamingYieldsTheDecisionFirstAndTheSameTextAsTheResult()
    {
        var model = Model(SaysMath);
        await using var t2 = Builder(model).AddExpert(Expert(model, "math-expert", "x", 0.2, 1.0))
            .UsePromptDispatch(c => c.Add("math", "math-expert"), 16).Build();
        var updates = new List<TwoPassUpdate>();
        await foreach (var u in t2.StreamAsync(Ask("2+2"))) updates.Add(u);
        Assert.That(updates[0].Text, Is.Empty);
        Assert.That(updates[0].Decision.Label, Is.EqualTo("math"));
        Assert.That(updates[^1].Result, Is.Not.Null);
        Assert.That(string.Concat(updates.Select(u => u.Text)), Is.EqualTo(updates[^1].Result!.Answer));
        Assert.That(updates.Count(u => u.Text.Length > 0), Is.GreaterThan(1), "text arrives in pieces");
    }

    [Test]
    public async Task StopStringsEndTheAnswerAndNeverLeakIntoIt()
    {
        var model = Model(SaysMath);
        await using var t2 = Builder(model).Build();
        var updates = new List<TwoPassUpdate>();
        await foreach (var u in t2.StreamAsync(Ask("q"), new AnswerOptions { StopStrings = ["{ma"] })) updates.Add(u);
        Assert.That(updates[^1].Result!.Answer, Is.EqualTo("\\boxed"));
        Assert.That(string.Concat(updates.Select(u => u.Text)), Is.EqualTo("\\boxed"));
    }

    [Test]
    public async Task AFixedPlanAndAFewShotFallbackAreOneBuilderCallEach()
    {
        var model = Model(SaysMath);
        await using (var fixedPlan = Builder(model)
            .AddExpert(Expert(model, "math-expert", "x", 0.2, 1.0))
            .UseFixedPlan(AdaptationPlan.Single("math-expert"))
            .Build())
        {
            var result = await fixedPlan.AnswerAsync(Ask("hello"));
            Assert.That(result.Decision.Strategy, Is.EqualTo("fixed"));
            Assert.That(result.Decision.Plan, Is.EqualTo(AdaptationPlan.Single("math-expert")));
            Assert.That(result.Answer, Does.StartWith("\\boxx"));
        }

        var shots = new List<TaskItem> { new("s0", "c") { References = ["ab"] } };
        var task = DelegateTask.WithReward("t", new TaskSplits(shots, [], [], []), null, (_, a) => a == "ab" ? 1 : -1, new GenerationSettings(6, 64, []));
        await using var withFallback = Builder(model)
            .AddExpert(Expert(model, "math-expert", "x", 0.2, 1.0))
            .UseFewShotDispatch(["math-expert"], s => s.AddTask("t", task, shots),
                fallback: new PromptDispatchStrategy([new ExpertCategory("math", "math-expert", "Math problems.")], maxTokens: 16))
            .Build();
        var routed = await withFallback.AnswerAsync(Ask("What is 2+2?"));
        Assert.That(routed.Decision.Strategy, Is.EqualTo("prompt"), "no task key: the fallback decides");
        Assert.That(routed.Decision.Label, Is.EqualTo("math"));
        Assert.That(routed.Decision.Plan, Is.EqualTo(AdaptationPlan.Single("math-expert")));
    }

    [Test]
    public void MisuseGivesClearErrors()
    {
        Assert.That(() => new TransformerSquaredBuilder().Build(), Throws.InvalidOperationException.With.Message.Contains("UseModelFolder"));
        var model = Model(SaysMath);
        Assert.That(() => Builder(model).UsePromptDispatch(c => c.Add("math", "missing")).Build(),
            Throws.InvalidOperationException.With.Message.Contains("'missing'"));
        Assert.That(() => Builder(Model(SaysMath)).UsePromptDispatch(c => c.Add("poetry", "x")),
            Throws.ArgumentException.With.Message.Contains("description"));
        var model2 = Model(SaysMath);
        var foreign = Expert(model2, "foreign", "x", 0.2, 1.0);
        var tagged = new Expert(foreign.Metadata with { BaseModelIdentity = "another-model" }, foreign.Vectors.Select(kv => new KeyValuePair<string, TorchSharp.torch.Tensor>(kv.Key, kv.Value.clone())));
        Assert.That(() => Builder(model2).UseModelIdentity("bigram").AddExpert(tagged).Build(), Throws.InstanceOf<ExpertMismatchException>().With.Message.Contains("another-model"));
        Assert.That(() => Builder(Model(SaysMath)).UseFactoredOnlyLayers().UseMergedExperts().Build(),
            Throws.InvalidOperationException.With.Message.Contains("UseFactoredOnlyLayers and UseMergedExperts"));
        using var t2 = Builder(Model(SaysMath)).Build();
        Assert.That(async () => await t2.AdaptToTaskAsync("x"), Throws.InvalidOperationException.With.Message.Contains("UseFewShotDispatch"));
        Assert.That(async () => await t2.AnswerAsync([]), Throws.ArgumentException);
    }
}
