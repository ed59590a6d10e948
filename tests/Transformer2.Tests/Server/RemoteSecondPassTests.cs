using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Transformer2.Adaptation.DependencyInjection;
using Transformer2.Adaptation.Pipeline;
using Transformer2.Core.Svf;
using T2Chat = Transformer2.Models.Chat;

namespace Transformer2.Tests.Server;

/// <summary>
/// The second pass sent over HTTP, through Microsoft.Extensions.AI's OpenAI client, to the OpenAI-compatible server
/// that serves each expert by name: the remote answers equal the local second pass's.
/// </summary>
public class RemoteSecondPassTests
{
    [Test]
    public async Task RemoteSecondPassAnswersEqualTheLocalOnesForEveryDecision()
    {
        await using var host = await OpenAIServerHost.StartAsync();
        using IChatClient remote = host.OpenAIClient().GetChatClient("base").AsIChatClient();
        using var local = OpenAIServerHost.ConfigureTiny(new TransformerSquaredBuilder()).Build();
        using var remoteFirstLocal = OpenAIServerHost.ConfigureTiny(new TransformerSquaredBuilder()).UseRemoteSecondPass(remote).Build();
        Assert.That(remoteFirstLocal.HasRemoteSecondPass, Is.True);

        var plans = new HashSet<string>();
        foreach (var question in OpenAIServerHost.RemoteQuestions)
        {
            var options = new AnswerOptions { MaxNewTokens = 16 };
            var expected = await local.AnswerAsync([T2Chat.ChatMessage.User(question)], options);
            var streamed = new List<string>();
            TwoPassResult? result = null;
            await foreach (var update in remoteFirstLocal.StreamAsync([T2Chat.ChatMessage.User(question)], options))
            {
                streamed.Add(update.Text);
                result ??= update.Result;
            }
            Assert.That(result!.Decision.Plan, Is.EqualTo(expected.Decision.Plan), question);
            Assert.That(result.Answer, Is.EqualTo(expected.Answer), question);
            Assert.That(string.Concat(streamed), Is.EqualTo(expected.Answer), "the remote answer streams");
            Assert.That(result.CompletionTokens, Is.EqualTo(expected.CompletionTokens), "usage comes back from the remote");
            Assert.That(result.PromptTokens, Is.EqualTo(expected.PromptTokens));
            Assert.That(result.Finish, Is.EqualTo(expected.Finish == Transformer2.Models.Generation.FinishReason.MaxNewTokens
                ? Transformer2.Models.Generation.FinishReason.MaxNewTokens : Transformer2.Models.Generation.FinishReason.StopToken));
            plans.Add(result.Decision.Plan.Key);
            // The server saw the expert named as the model: its log says which model each request asked for.
            string model = result.Decision.Plan.IsBase ? "base" : result.Decision.Plan.Experts[0];
            Assert.That(host.Logs.Messages, Has.Some.Contains($"for model {model}: plan {result.Decision.Plan.Key}"));
        }
        Assert.That(plans, Has.Count.GreaterThan(1), "the questions reach different experts");
        Assert.That(host.Logs.Messages, Has.None.Contains("for model auto"), "the remote never dispatches on its own");
    }

    [Test]
    public async Task ExpertNamesMapToRemoteModelsAndMixturesAreRefusedUnlessMapped()
    {
        await using var host = await OpenAIServerHost.StartAsync();
        using IChatClient remote = host.OpenAIClient().GetChatClient("base").AsIChatClient();
        var mixture = AdaptationPlan.Mixture(["arith", "code"], MixtureWeights.Global([0.5, 0.5]));
        // Locally "arith" is served remotely as "code": the mapping is what is asked for.
        using var mapped = OpenAIServerHost.ConfigureTiny(new TransformerSquaredBuilder())
            .UseRemoteSecondPass(remote, o =>
            {
                o.ExpertModels["arith"] = "code";
                o.MixtureModels[mixture.Key] = "choice";
            }).Build();
        using var local = OpenAIServerHost.ConfigureTiny(new TransformerSquaredBuilder()).Build();
        var question = new[] { T2Chat.ChatMessage.User(OpenAIServerHost.RemoteQuestions[0]) };
        var viaMap = await mapped.AnswerAsync(question, new AnswerOptions { Plan = AdaptationPlan.Single("arith"), MaxNewTokens = 16 });
        Assert.That(viaMap.Answer, Is.EqualTo((await local.AnswerAsync(question, new AnswerOptions { Plan = AdaptationPlan.Single("code"), MaxNewTokens = 16 })).Answer));
        var exported = await mapped.AnswerAsync(question, new AnswerOptions { Plan = mixture, MaxNewTokens = 16 });
        Assert.That(exported.Answer, Is.EqualTo((await local.AnswerAsync(question, new AnswerOptions { Plan = AdaptationPlan.Single("choice"), MaxNewTokens = 16 })).Answer));

        using var unmapped = OpenAIServerHost.ConfigureTiny(new TransformerSquaredBuilder()).UseRemoteSecondPass(remote).Build();
        var refused = Assert.ThrowsAsync<InvalidOperationException>(async () => await unmapped.AnswerAsync(question, new AnswerOptions { Plan = mixture }))!;
        Assert.That(refused.Message, Does.Contain(mixture.Key).And.Contain("MixtureModels"));
    }

    [Test]
    public void RemoteNamesAreValidatedWhenBuilt()
    {
        using IChatClient neverCalled = OpenAIServerHost.UnreachableChatClient();
        var error = Assert.Throws<InvalidOperationException>(() => OpenAIServerHost.ConfigureTiny(new TransformerSquaredBuilder())
            .UseRemoteSecondPass(neverCalled, o =>
            {
                o.ExpertModels["poetry"] = "poet-lora";
                o.ExpertModels["arith"] = " ";
                o.MixtureModels["expert:arith"] = "x";
                o.BaseModel = "";
            }).Build())!;
        Assert.That(error.Message, Does.Contain("'poetry', which is not registered"));
        Assert.That(error.Message, Does.Contain("ExpertModels['arith'] is empty"));
        Assert.That(error.Message, Does.Contain("'expert:arith' is not a mixture's plan key"));
        Assert.That(error.Message, Does.Contain("BaseModel cannot be empty"));
        Assert.Throws<ArgumentNullException>(() => new TransformerSquaredBuilder().UseRemoteSecondPass(null!));
    }

    [Test]
    public async Task DependencyInjectionSendsTheSecondPassToAKeyedChatClient()
    {
        await using var host = await OpenAIServerHost.StartAsync();
        string model = Tests.BundledModel.Folder();
        var services = new ServiceCollection();
        services.AddKeyedSingleton<IChatClient>("vllm", (_, _) => host.OpenAIClient().GetChatClient("base").AsIChatClient());
        services.AddTransformerSquared(o =>
        {
            o.ModelFolder = model;
            o.ExpertFolders.Add(Path.Combine(model, "experts"));
            o.MaxNewTokens = 16;
            o.RemoteSecondPassClientKey = "vllm";
            o.RemoteExpertModels["arith"] = "code";
        });
        await using var provider = services.BuildServiceProvider();
        var pipeline = provider.GetRequiredService<TransformerSquared>();
        Assert.That(pipeline.HasRemoteSecondPass, Is.True);
        var question = new[] { T2Chat.ChatMessage.User(OpenAIServerHost.RemoteQuestions[0]) };
        var answer = await pipeline.AnswerAsync(question, new AnswerOptions { Plan = AdaptationPlan.Single("arith") });
        Assert.That(answer.Answer, Is.EqualTo((await host.Pipeline.AnswerAsync(question, new AnswerOptions { Plan = AdaptationPlan.Single("code"), MaxNewTokens = 16 })).Answer));

        var bad = new ServiceCollection();
        bad.AddTransformerSquared(o =>
        {
            o.ModelFolder = model;
            o.RemoteExpertModels["arith"] = "code";
        });
        using var badProvider = bad.BuildServiceProvider();
        var invalid = Assert.Throws<OptionsValidationException>(() => badProvider.GetRequiredService<TransformerSquared>())!;
        Assert.That(invalid.Failures, Has.Some.Contains("RemoteExpertModels is set but RemoteSecondPassClientKey is not"));
    }
}
