using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;
using Transformer2.Samples.OpenAIServer;

namespace Transformer2.Tests.Server;

/// <summary>The OpenAIServer sample starts as <c>dotnet run</c> would (on a free port), serves the bundled model, and reads its settings from the command line.</summary>
public class OpenAIServerSampleTests
{
    [Test]
    public async Task TheSampleServesTheBundledModelBehindTheConfiguredKey()
    {
        await using var app = OpenAIServerSample.Build(["--urls", "http://127.0.0.1:0", "--OpenAIServer:ApiKey", "sample-key", "--OpenAIServer:MaxConcurrentRequests", "2"]);
        await app.StartAsync();
        try
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            OpenAIClient Client(string key) => new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(address + "/v1"), RetryPolicy = new ClientRetryPolicy(0) });

            var models = (await Client("sample-key").GetOpenAIModelClient().GetModelsAsync()).Value;
            Assert.That(models.Select(m => m.Id), Is.EqualTo(new[] { "auto", "base", "arith", "choice", "cls", "code" }));
            ChatCompletion answer = await Client("sample-key").GetChatClient("auto").CompleteChatAsync([new UserChatMessage("What is 7 + 6?")], new ChatCompletionOptions { MaxOutputTokenCount = 8 });
            Assert.That(answer.Usage.OutputTokenCount, Is.InRange(1, 8));
            Assert.That(Assert.ThrowsAsync<ClientResultException>(async () => await Client("wrong").GetOpenAIModelClient().GetModelsAsync())!.Status, Is.EqualTo(401));
        }
        finally
        {
            await app.StopAsync();
        }
    }
}
