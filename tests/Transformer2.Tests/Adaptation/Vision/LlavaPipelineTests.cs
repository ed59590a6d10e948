using Transformer2.Adaptation.Dispatch;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Models.Chat;
using Transformer2.Models.Llava;
using static Transformer2.Tests.Adaptation.Vision.VisionFixture;

namespace Transformer2.Tests.Adaptation.Vision;

/// <summary>Transformer² on a LLaVA backbone: images reach both passes, and every pass equals the same steps done by hand.</summary>
public class LlavaPipelineTests
{
    const string Question = "what is shown?";
    const int AnswerTokens = 6;
    const int FirstPassTokens = 3;

    static TransformerSquaredBuilder Builder(LlavaForConditionalGeneration llava) => new TransformerSquaredBuilder()
        .UseLlava(llava, Processor, Tokenizer, Template)
        .ConfigureGeneration(g => g with { MaxNewTokens = AnswerTokens });

    [Test]
    public async Task TheImageReachesTheSecondPass()
    {
        using var llava = Model();
        var expert = Expert(llava, "vqa", seed: 1);
        await using var t2 = Builder(llava).AddExpert(expert).UseStrategy(new FixedPlanStrategy(AdaptationPlan.Single("vqa"))).Build();
        Assert.That(t2.Backbone.AcceptsImages, Is.True);
        Assert.That(t2.Backbone.Layers.Keys, Has.All.StartWith("model.language_model.layers."), "experts adapt the language model only");

        byte[] red = Png(1), blue = Png(2);
        var first = await t2.AnswerAsync([ChatMessage.User(Question, ChatImage.FromBytes(red))]);
        var second = await t2.AnswerAsync([ChatMessage.User(Question, ChatImage.FromBytes(blue))]);
        Assert.That(first.Answer, Is.Not.EqualTo(second.Answer), "another image, another answer");

        // The same by hand: the image in front of the question, expanded to its 16 tokens, the expert's multipliers in effect.
        string rendered = $"user: <image>\n{Question}\nassistant: ";
        var byHand = Generate(llava, rendered, [Pixels(red)], Multipliers(expert), AnswerTokens);
        Assert.That(first.Answer, Is.EqualTo(Decode(byHand.Tokens)));
        Assert.That(first.PromptTokens, Is.EqualTo(byHand.PromptLength));
        Assert.That(first.PromptTokens, Is.EqualTo(Tokenizer.Encode(rendered).Length + 1 - 1 + 16), "one placeholder became 16 image tokens");
        Assert.That(second.Answer, Is.EqualTo(Decode(Generate(llava, rendered, [Pixels(blue)], Multipliers(expert), AnswerTokens).Tokens)));

        // A placeholder written in the text is used where it stands; without images the LLaVA backbone answers text as before.
        var placed = await t2.AnswerAsync([ChatMessage.User($"{Question} <image>", ChatImage.FromBytes(red))]);
        Assert.That(placed.Answer, Is.EqualTo(Decode(Generate(llava, $"user: {Question} <image>\nassistant: ", [Pixels(red)], Multipliers(expert), AnswerTokens).Tokens)));
        var text = await t2.AnswerAsync([ChatMessage.User(Question)]);
        Assert.That(text.Answer, Is.EqualTo(Decode(Generate(llava, $"user: {Question}\nassistant: ", [], Multipliers(expert), AnswerTokens).Tokens)));
    }

    [Test]
    public async Task StreamingWithAnImageGivesTheSameAnswer()
    {
        using var llava = Model();
        await using var t2 = Builder(llava).Build();
        var request = new[] { ChatMessage.User(Question, ChatImage.FromBytes(Png(3))) };
        var pieces = new List<string>();
        await foreach (var update in t2.StreamAsync(request)) pieces.Add(update.Text);
        var whole = await t2.AnswerAsync(request);
        Assert.That(string.Concat(pieces), Is.EqualTo(whole.Answer));
        Assert.That(whole.Answer, Is.EqualTo(Decode(Generate(llava, $"user: <image>\n{Question}\nassistant: ", [Pixels(Png(3))], null, AnswerTokens).Tokens)));
    }

    [Test]
    public async Task TheClassificationExpertSeesTheImageAndItsLabelPicksTheSecondPassExpert()
    {
        using var llava = Model();
        var even = Expert(llava, "even-expert", seed: 2);
        var odd = Expert(llava, "odd-expert", seed: 3);
        var cls = Expert(llava, "cls", seed: 4);
        await using var t2 = Builder(llava).AddExpert(even).AddExpert(odd).AddExpert(cls)
            .UseClassificationExpert("cls", c => c.Add("even", "even-expert", "Even things.").Add("odd", "odd-expert", "Odd things."), maxFirstPassTokens: FirstPassTokens)
            .Build();
        var categories = ((PromptDispatchStrategy)t2.Strategy).Categories;
        string system = ClassificationPromptBuilder.SystemPrompt(categories);

        var firstPassTexts = new HashSet<string>();
        foreach (int seed in new[] { 1, 2, 3, 4 })
        {
            byte[] png = Png(seed);
            var result = await t2.AnswerAsync([ChatMessage.User(Question, ChatImage.FromBytes(png))]);

            // Pass 1 by hand: the classification prompt with the question's image, the cls expert in effect.
            var firstPass = Generate(llava, $"system: {system}\nuser: <image>\n{Question}\nassistant: ", [Pixels(png)], Multipliers(cls), FirstPassTokens);
            Assert.That(result.Decision.FirstPassText, Is.EqualTo(Decode(firstPass.Tokens)), $"image {seed}: pass 1");
            Assert.That(result.Decision.FirstPassPromptTokens, Is.EqualTo(firstPass.PromptLength), "the classification prompt holds the image's tokens");
            firstPassTexts.Add(result.Decision.FirstPassText!);
            string label = firstPass.Tokens[0] % 2 == 0 ? "even" : "odd";   // the first \boxed{} is the first token's
            Assert.That(result.Decision.Label, Is.EqualTo(label));
            var chosen = label == "even" ? even : odd;
            Assert.That(result.Decision.Plan, Is.EqualTo(AdaptationPlan.Single(chosen.Metadata.Name)));

            // Pass 2 by hand: the chosen expert, the same image.
            var answer = Generate(llava, $"user: <image>\n{Question}\nassistant: ", [Pixels(png)], Multipliers(chosen), AnswerTokens);
            Assert.That(result.Answer, Is.EqualTo(Decode(answer.Tokens)), $"image {seed}: pass 2");
        }
        // Behind a ~700-token classification prompt 16 image tokens weigh little in this random model, but not nothing.
        Assert.That(firstPassTexts, Has.Count.GreaterThan(1), "the same question's first pass changes with the image");
    }

    [Test]
    public async Task FirstPassesWithImagesLeaveNoTensorsBehind()
    {
        using var llava = Model();
        await using var t2 = Builder(llava).AddExpert(Expert(llava, "even-expert", seed: 2)).AddExpert(Expert(llava, "cls", seed: 4))
            .UseClassificationExpert("cls", c => c.Add("even", "even-expert", "Even things."), maxFirstPassTokens: 2)
            .Build();
        var request = new[] { ChatMessage.User(Question, ChatImage.FromBytes(Png(5))) };
        await t2.DecideAsync(request);
        // The first pass runs on this thread (factored leases are granted synchronously), so its tensors are counted here.
        int thread = Environment.CurrentManagedThreadId;
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 10; i++) await t2.DecideAsync(request);
        Assert.That(Environment.CurrentManagedThreadId, Is.EqualTo(thread), "the premise: the passes ran on this thread");
        Assert.That(TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount, Is.EqualTo(before));
    }

    [Test]
    public async Task PromptDispatchWithoutImagesClassifiesTheTextAlone()
    {
        using var llava = Model();
        await using var t2 = Builder(llava).AddExpert(Expert(llava, "even-expert", seed: 2)).AddExpert(Expert(llava, "odd-expert", seed: 3))
            .UseStrategy(new PromptDispatchStrategy([new ExpertCategory("even", "even-expert", "Even things."), new ExpertCategory("odd", "odd-expert", "Odd things.")], maxTokens: 1)
            {
                ClassifyWithImages = false,
            })
            .Build();
        string system = ClassificationPromptBuilder.SystemPrompt(((PromptDispatchStrategy)t2.Strategy).Categories);
        var textOnly = Generate(llava, $"system: {system}\nuser: {Question}\nassistant: ", [], null, 1);
        foreach (int seed in new[] { 1, 2 })
        {
            var decision = await t2.DecideAsync([ChatMessage.User("<image>\n" + Question, ChatImage.FromBytes(Png(seed)))]);
            Assert.That(decision.FirstPassText, Is.EqualTo(Decode(textOnly.Tokens)), "placeholder and image left out of pass 1");
            Assert.That(decision.FirstPassPromptTokens, Is.EqualTo(textOnly.PromptLength));
        }
    }

    [Test]
    public async Task TheBasePromptStrategySeesTheImage()
    {
        using var llava = Model();
        await using var t2 = Builder(llava).AddExpert(Expert(llava, "even-expert", seed: 2)).AddExpert(Expert(llava, "odd-expert", seed: 3))
            .UsePromptDispatch(c => c.Add("even", "even-expert", "Even things.").Add("odd", "odd-expert", "Odd things."), maxFirstPassTokens: 3)
            .Build();
        string system = ClassificationPromptBuilder.SystemPrompt(((PromptDispatchStrategy)t2.Strategy).Categories);
        foreach (int seed in new[] { 20, 21, 22 })
        {
            byte[] png = Png(seed);
            var decision = await t2.DecideAsync([ChatMessage.System("be brief"), ChatMessage.User(Question, ChatImage.FromBytes(png))]);
            var byHand = Generate(llava, $"system: {system}\nuser: <image>\n{Question}\nassistant: ", [Pixels(png)], null, 3);
            Assert.That(decision.FirstPassText, Is.EqualTo(Decode(byHand.Tokens)));
            Assert.That(decision.FirstPassPromptTokens, Is.EqualTo(byHand.PromptLength), "only the last user message, with its image");
        }
    }
}
