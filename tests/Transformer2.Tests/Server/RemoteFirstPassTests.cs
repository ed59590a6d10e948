using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Transformer2.Adaptation.DependencyInjection;
using Transformer2.Adaptation.Dispatch;
using Transformer2.Adaptation.Pipeline;
using T2Chat = Transformer2.Models.Chat;

namespace Transformer2.Tests.Server;

/// <summary>
/// Prompt dispatch's classification sent over HTTP to the OpenAI-compatible server's base model: the decisions equal the
/// local prompt strategy's, and with the second pass remote too, the answers equal the local ones.
/// </summary>
public class RemoteFirstPassTests
{
    [Test]
    public async Task RemoteFirstPassDecidesAsTheLocalPromptStrategyAndBothPassesRemoteAnswerAsLocal()
    {
        await using var host = await OpenAIServerHost.StartAsync();
        using IChatClient remote = host.OpenAIClient().GetChatClient("base").AsIChatClient();
        using var local = OpenAIServerHost.ConfigureTiny(new TransformerSquaredBuilder()).Build();
        using var remoteFirst = OpenAIServerHost.ConfigureTiny(new TransformerSquaredBuilder()).UseRemoteFirstPass(remote).Build();
        using var bothRemote = OpenAIServerHost.ConfigureTiny(new TransformerSquaredBuilder()).UseRemoteFirstPass(remote).UseRemoteSecondPass(remote).Build();

        var plans = new HashSet<string>();
        foreach (var question in OpenAIServerHost.RemoteQuestions)
        {
            var options = new AnswerOptions { MaxNewTokens = 16 };
            T2Chat.ChatMessage[] messages = [T2Chat.ChatMessage.User(question)];
            var expected = await local.AnswerAsync(messages, options);
            int requestsBefore = host.Logs.Messages.Count(m => m.Contains("for model base: plan base"));
            var firstRemote = await remoteFirst.AnswerAsync(messages, options);
            Assert.That(host.Logs.Messages.Count(m => m.Contains("for model base: plan base")), Is.EqualTo(requestsBefore + 1), "the classification was asked of the server's base model");
            Assert.That(firstRemote.Decision.Strategy, Is.EqualTo(expected.Decision.Strategy), question);
            Assert.That(firstRemote.Decision.Label, Is.EqualTo(expected.Decision.Label), question);
            Assert.That(firstRemote.Decision.Plan, Is.EqualTo(expected.Decision.Plan), question);
            Assert.That(firstRemote.Decision.FirstPassText, Is.EqualTo(expected.Decision.FirstPassText), "the same classification text comes back");
            Assert.That(firstRemote.Decision.FirstPassPromptTokens, Is.EqualTo(expected.Decision.FirstPassPromptTokens), "usage reports the same classification prompt");
            Assert.That(firstRemote.Answer, Is.EqualTo(expected.Answer), question);

            var both = await bothRemote.AnswerAsync(messages, options);
            Assert.That(both.Decision.Plan, Is.EqualTo(expected.Decision.Plan), question);
            Assert.That(both.Answer, Is.EqualTo(expected.Answer), question);
            plans.Add(expected.Decision.Plan.Key);
        }
        Assert.That(plans, Has.Count.GreaterThan(1), "the questions reach different experts");
        Assert.That(host.Logs.Messages, Has.None.Contains("for model auto"), "the remote never dispatches on its own");
    }

    [Test]
    public void StrategiesThatNeedTheLocalWeightsAreRefusedWithARemoteFirstPass()
    {
        using IChatClient neverCalled = OpenAIServerHost.UnreachableChatClient();
        var classificationExpert = Assert.Throws<InvalidOperationException>(() => OpenAIServerHost.ConfigureTiny(new TransformerSquaredBuilder())
            .UseClassificationExpert("choice", c => c.Add("math", "arith"))
            .UseRemoteFirstPass(neverCalled).Build())!;
        Assert.That(classificationExpert.Message, Does.Contain("'classification-expert' strategy").And.Contain("local weights"));
        var fewShot = Assert.Throws<InvalidOperationException>(() => OpenAIServerHost.ConfigureTiny(new TransformerSquaredBuilder())
            .UseFewShotDispatch(["arith", "code"])
            .UseRemoteFirstPass(neverCalled).Build())!;
        Assert.That(fewShot.Message, Does.Contain("'few-shot' strategy"));
        Assert.Throws<ArgumentException>(() => new TransformerSquaredBuilder().UseRemoteFirstPass(neverCalled, " "));
        Assert.Throws<ArgumentNullException>(() => new TransformerSquaredBuilder().UseRemoteFirstPass(null!));
        var direct = Assert.Throws<ArgumentException>(() => new PromptDispatchStrategy([new ExpertCategory("math", "arith", "Arithmetic word problems.")], "choice", 16, neverCalled, "base"))!;
        Assert.That(direct.Message, Does.Contain("'choice'").And.Contain("local weights"));
    }

    [Test]
    public async Task DependencyInjectionSendsTheFirstPassToAKeyedChatClient()
    {
        await using var host = await OpenAIServerHost.StartAsync();
        string model = Tests.BundledModel.Folder();
        var services = new ServiceCollection();
        services.AddKeyedSingleton<IChatClient>("classifier", (_, _) => host.OpenAIClient().GetChatClient("base").AsIChatClient());
        services.AddTransformerSquared(o =>
        {
            o.ModelFolder = model;
            o.ExpertFolders.Add(Path.Combine(model, "experts"));
            o.MaxNewTokens = 16;
            o.Categories["math"] = "arith";
            o.Categories["code"] = "code";
            o.Categories["reasoning"] = "choice";
            o.RemoteFirstPassClientKey = "classifier";
        });
        await using var provider = services.BuildServiceProvider();
        var pipeline = provider.GetRequiredService<TransformerSquared>();
        var question = new[] { T2Chat.ChatMessage.User(OpenAIServerHost.RemoteQuestions[1]) };
        int before = host.Logs.Messages.Count(m => m.Contains("for model base: plan base"));
        var answer = await pipeline.AnswerAsync(question);
        Assert.That(host.Logs.Messages.Count(m => m.Contains("for model base: plan base")), Is.EqualTo(before + 1));
        using var local = new TransformerSquaredBuilder().UseModelFolder(model).AddExpertsFromFolder(Path.Combine(model, "experts"))
            .UsePromptDispatch(c => c.Add("math", "arith").Add("code", "code").Add("reasoning", "choice")).Build();
        var expected = await local.AnswerAsync(question, new AnswerOptions { MaxNewTokens = 16 });
        Assert.That(answer.Decision.Plan, Is.EqualTo(expected.Decision.Plan));
        Assert.That(answer.Answer, Is.EqualTo(expected.Answer));

        var bad = new ServiceCollection();
        bad.AddTransformerSquared(o =>
        {
            o.ModelFolder = model;
            o.RemoteFirstPassClientKey = "classifier";
            o.ClassificationExpert = "choice";
            o.RemoteFirstPassModel = "";
        });
        using var badProvider = bad.BuildServiceProvider();
        var invalid = Assert.Throws<OptionsValidationException>(() => badProvider.GetRequiredService<TransformerSquared>())!;
        Assert.That(invalid.Failures, Has.Some.Contains("RemoteFirstPassClientKey is set but Categories is empty"));
        Assert.That(invalid.Failures, Has.Some.Contains("cannot be combined with ClassificationExpert 'choice'"));
        Assert.That(invalid.Failures, Has.Some.Contains("RemoteFirstPassModel cannot be empty"));
    }
}
