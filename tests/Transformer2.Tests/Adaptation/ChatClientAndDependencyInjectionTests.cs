using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Transformer2.Adaptation.ChatClient;
using Transformer2.Adaptation.DependencyInjection;
using Transformer2.Adaptation.Pipeline;
using static Transformer2.Tests.Adaptation.BigramFixture;

namespace Transformer2.Tests.Adaptation;

public class ChatClientAndDependencyInjectionTests
{
    static readonly Dictionary<char, char?> SaysMath = new()
    {
        ['>'] = '\\', ['\\'] = 'b', ['b'] = 'o', ['o'] = 'x', ['x'] = 'e', ['e'] = 'd', ['d'] = '{', ['{'] = 'm', ['m'] = 'a', ['a'] = 't', ['t'] = 'h', ['h'] = '}', ['}'] = null,
    };

    static void Configure(TransformerSquaredBuilder builder, string expertName = "math-expert")
    {
        var model = Model(SaysMath);
        builder.UseModel(model, Tokenizer, Template)
            .AddExpert(Expert(model, expertName, "x", 0.2, 1.0))
            .UsePromptDispatch(c => c.Add("math", expertName), 16)
            .ConfigureGeneration(g => g with { MaxNewTokens = 16 });
    }

    [Test]
    public async Task ChatClientAnswersWithTheDecisionUsageAndOptions()
    {
        var builder = new TransformerSquaredBuilder();
        Configure(builder);
        using IChatClient client = new TransformerSquaredChatClient(builder.Build(), ownsPipeline: true);

        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "2+2?")]);
        Assert.That(response.Text, Does.StartWith("\\boxx"));
        Assert.That(response.AdditionalProperties![TransformerSquaredChatClient.DecisionKeys.Label], Is.EqualTo("math"));
        Assert.That(response.AdditionalProperties[TransformerSquaredChatClient.DecisionKeys.Strategy], Is.EqualTo("prompt"));
        Assert.That((IReadOnlyDictionary<string, double>)response.AdditionalProperties[TransformerSquaredChatClient.DecisionKeys.Weights]!, Is.EquivalentTo(new Dictionary<string, double> { ["math-expert"] = 1.0 }));
        Assert.That(response.Usage!.OutputTokenCount, Is.EqualTo(16));
        Assert.That(response.Usage.InputTokenCount, Is.GreaterThan(0));
        Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.Length));

        var short_ = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "2+2?")], new ChatOptions { MaxOutputTokens = 3 });
        Assert.That(short_.Text, Is.EqualTo("\\bo"));
        var stopped = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "2+2?")], new ChatOptions { StopSequences = ["ox"] });
        Assert.That(stopped.Text, Is.EqualTo("\\b"));
        Assert.That(stopped.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        Assert.That(client.GetService(typeof(TransformerSquared)), Is.InstanceOf<TransformerSquared>());
    }

    [Test]
    public async Task TheDecisionIsReadableTypedAndTheTaskKeyIsOneCall()
    {
        var builder = new TransformerSquaredBuilder();
        Configure(builder);
        using IChatClient client = new TransformerSquaredChatClient(builder.Build(), ownsPipeline: true);
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "2+2?")]);
        var decision = response.GetDispatchDecision();
        Assert.That(decision, Is.Not.Null);
        Assert.That(decision!.Strategy, Is.EqualTo("prompt"));
        Assert.That(decision.Label, Is.EqualTo("math"));
        Assert.That(decision.Plan, Is.EqualTo(AdaptationPlan.Single("math-expert")));
        await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "2+2?")]))
        {
            Assert.That(update.GetDispatchDecision()?.Label, Is.EqualTo("math"), "the first update carries the decision");
            break;
        }
        Assert.That(new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi")).GetDispatchDecision(), Is.Null);

        var options = new ChatOptions().WithTaskKey("gsm8k");
        Assert.That(options.AdditionalProperties![TransformerSquaredChatClient.DecisionKeys.TaskKey], Is.EqualTo("gsm8k"));
        Assert.Throws<ArgumentException>(() => new ChatOptions().WithTaskKey(" "));
    }

    [Test]
    public async Task StreamingThroughTheChatClientMatchesTheResponse()
    {
        var builder = new TransformerSquaredBuilder();
        Configure(builder);
        using IChatClient client = new TransformerSquaredChatClient(builder.Build(), ownsPipeline: true);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "2+2?")])) updates.Add(u);
        var whole = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "2+2?")]);
        Assert.That(string.Concat(updates.Select(u => u.Text)), Is.EqualTo(whole.Text));
        Assert.That(updates[0].AdditionalProperties![TransformerSquaredChatClient.DecisionKeys.Label], Is.EqualTo("math"), "the decision comes first");
        Assert.That(updates[^1].Contents.OfType<UsageContent>().Single().Details.OutputTokenCount, Is.EqualTo(16));
        Assert.That(updates.Select(u => u.ResponseId).Distinct().Count(), Is.EqualTo(1));
    }

    [Test]
    public void CancellationStopsARequest()
    {
        var builder = new TransformerSquaredBuilder();
        Configure(builder);
        using IChatClient client = new TransformerSquaredChatClient(builder.Build(), ownsPipeline: true);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.That(async () => await client.GetResponseAsync([new ChatMessage(ChatRole.User, "2+2?")], cancellationToken: cts.Token), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task DependencyInjectionRegistersThePipelineAndChatClientPlainAndKeyed()
    {
        var services = new ServiceCollection();
        services.AddTransformerSquared((_, b) => Configure(b));
        services.AddKeyedTransformerSquared("second", (_, b) => Configure(b, "other-math"));
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<IChatClient>();
        Assert.That((await client.GetResponseAsync([new ChatMessage(ChatRole.User, "q")])).Text, Does.StartWith("\\boxx"));
        Assert.That(provider.GetRequiredService<TransformerSquared>(), Is.SameAs(provider.GetRequiredService<TransformerSquared>()), "singleton");
        var keyed = provider.GetRequiredKeyedService<TransformerSquared>("second");
        Assert.That(keyed, Is.Not.SameAs(provider.GetRequiredService<TransformerSquared>()));
        Assert.That(keyed.Experts.Names, Is.EquivalentTo(new[] { "other-math" }));
        Assert.That(provider.GetRequiredKeyedService<IChatClient>("second"), Is.Not.Null);
    }

    [Test]
    public async Task Int8WeightsOptionQuantizesTheFrozenProjectionsOnly()
    {
        string folder = BundledModel.Folder();
        var services = new ServiceCollection();
        services.AddTransformerSquared(o =>
        {
            o.ModelFolder = folder;
            o.ExpertFolders.Add(Path.Combine(folder, "experts"));
            o.Categories["math"] = "arith";
            o.Int8Weights = true;
        });
        await using var provider = services.BuildServiceProvider();
        var pipeline = provider.GetRequiredService<TransformerSquared>();
        var model = pipeline.Backbone.Model;
        var quantized = model.modules().OfType<Transformer2.Core.Quantization.Q8Linear>().Select(q => q.Name).ToList();
        int layers = model.Config.NumHiddenLayers;
        Assert.That(quantized, Has.Count.EqualTo(4 * layers + 1), "q/k/v/o per layer and the (tied) head");
        Assert.That(quantized.Any(n => n.Contains(".mlp.", StringComparison.Ordinal)), Is.False, "the SVF-adapted MLP stays in F32");
        Assert.That(pipeline.Backbone.Layers, Has.Count.EqualTo(3 * layers));
        var answer = await pipeline.AnswerAsync([Transformer2.Models.Chat.ChatMessage.User("What is 3+4?")], new AnswerOptions { MaxNewTokens = 12 });
        Assert.That(answer.Answer, Is.Not.Empty);
    }

    [Test]
    public void InvalidOptionsFailWithMessagesNamingTheSetting()
    {
        var services = new ServiceCollection();
        services.AddTransformerSquared(o =>
        {
            o.DType = "int8";
            o.ExpertFiles.Add("/nonexistent/expert.safetensors");
            o.Categories["poetry"] = "poet";
            o.MaxNewTokens = 0;
            o.FactoredOnlyLayers = true;
            o.Mode = ExpertApplicationMode.Merged;
        });
        using var provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<TransformerSquared>());
        Assert.That(ex!.Failures, Has.Some.Contains("ModelFolder is required"));
        Assert.That(ex.Failures, Has.Some.Contains("DType 'int8'"));
        Assert.That(ex.Failures, Has.Some.Contains("/nonexistent/expert.safetensors"));
        Assert.That(ex.Failures, Has.Some.Contains("'poetry' needs an entry in CategoryDescriptions"));
        Assert.That(ex.Failures, Has.Some.Contains("MaxNewTokens"));
        Assert.That(ex.Failures, Has.Some.Contains("FactoredOnlyLayers needs Mode Factored"));
    }
}
