using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using Transformer2.Adaptation.Pipeline;
using T2Chat = Transformer2.Models.Chat;

namespace Transformer2.Tests.Server;

/// <summary>The OpenAI-compatible server on loopback, driven by the official OpenAI .NET client (and raw HTTP for the wire format).</summary>
public class OpenAIServerTests
{
    const string MathQuestion = "Ann has 12 pens and gets 5 more. How many pens does Ann have?";
    const string CodeQuestion = "What does this Python code print?\nprint(max(3, 8))";

    static Task<TwoPassResult> InProcess(OpenAIServerHost host, string question, AdaptationPlan? plan, int maxTokens = 16) =>
        host.Pipeline.AnswerAsync([T2Chat.ChatMessage.User(question)], new AnswerOptions { Plan = plan, MaxNewTokens = maxTokens, Temperature = 0 });

    static ChatCompletionOptions Greedy(int maxTokens = 16) => new() { MaxOutputTokenCount = maxTokens, Temperature = 0 };

    [Test]
    public async Task AnswersEqualThePipelinesForAutoBaseAndEachExpert()
    {
        await using var host = await OpenAIServerHost.StartAsync();
        var client = host.OpenAIClient();
        foreach (var (model, plan) in new (string, AdaptationPlan?)[] { ("auto", null), ("base", AdaptationPlan.Base), ("arith", AdaptationPlan.Single("arith")), ("code", AdaptationPlan.Single("code")) })
        {
            foreach (var question in new[] { MathQuestion, CodeQuestion })
            {
                var expected = await InProcess(host, question, plan);
                ClientResult<ChatCompletion> result = await client.GetChatClient(model).CompleteChatAsync([new UserChatMessage(question)], Greedy());
                var completion = result.Value;
                Assert.That(completion.Content.Single().Text, Is.EqualTo(expected.Answer), $"{model}: {question}");
                Assert.That(completion.Model, Is.EqualTo(model));
                Assert.That(completion.Usage.InputTokenCount, Is.EqualTo(expected.PromptTokens));
                Assert.That(completion.Usage.OutputTokenCount, Is.EqualTo(expected.CompletionTokens));
                Assert.That(completion.FinishReason, Is.EqualTo(expected.Finish == Transformer2.Models.Generation.FinishReason.MaxNewTokens ? ChatFinishReason.Length : ChatFinishReason.Stop));

                // The decision rides in the "transformer2" extension field.
                using var body = JsonDocument.Parse(result.GetRawResponse().Content.ToString());
                var decision = body.RootElement.GetProperty("transformer2");
                Assert.That(decision.GetProperty("plan").GetString(), Is.EqualTo(expected.Decision.Plan.Key), model);
                Assert.That(decision.GetProperty("strategy").GetString(), Is.EqualTo(plan is null ? "prompt" : "fixed"));
            }
        }
    }

    [Test]
    public async Task FinishReasonLengthAndStopSequencesAndSeedsWork()
    {
        await using var host = await OpenAIServerHost.StartAsync();
        var chat = host.OpenAIClient().GetChatClient("arith");
        ChatCompletion cut = await chat.CompleteChatAsync([new UserChatMessage(MathQuestion)], Greedy(2));
        Assert.That(cut.FinishReason, Is.EqualTo(ChatFinishReason.Length));
        Assert.That(cut.Usage.OutputTokenCount, Is.EqualTo(2));

        var full = await InProcess(host, MathQuestion, AdaptationPlan.Single("arith"));
        Assume.That(full.Answer.Length, Is.GreaterThan(2), "the expert says something");
        string stop = full.Answer.Substring(1, 1);
        var options = Greedy();
        options.StopSequences.Add(stop);
        ChatCompletion stopped = await chat.CompleteChatAsync([new UserChatMessage(MathQuestion)], options);
        Assert.That(stopped.Content.Single().Text, Is.EqualTo(full.Answer[..full.Answer.IndexOf(stop, StringComparison.Ordinal)]));
        Assert.That(stopped.FinishReason, Is.EqualTo(ChatFinishReason.Stop));

        var sampled = new ChatCompletionOptions { MaxOutputTokenCount = 16, Temperature = 1.5f, TopP = 0.95f };
#pragma warning disable OPENAI001 // Seed is marked experimental in the client
        sampled.Seed = 7;
#pragma warning restore OPENAI001
        ChatCompletion first = await chat.CompleteChatAsync([new UserChatMessage(MathQuestion)], sampled);
        ChatCompletion second = await chat.CompleteChatAsync([new UserChatMessage(MathQuestion)], sampled);
        var inProcess = await host.Pipeline.AnswerAsync([T2Chat.ChatMessage.User(MathQuestion)],
            new AnswerOptions { Plan = AdaptationPlan.Single("arith"), MaxNewTokens = 16, Temperature = 1.5f, TopP = 0.95f, Seed = 7 });
        Assert.That(first.Content.Single().Text, Is.EqualTo(second.Content.Single().Text), "same seed, same answer");
        Assert.That(first.Content.Single().Text, Is.EqualTo(inProcess.Answer), "the sampling settings reach the pipeline");
    }

    [Test]
    public async Task StreamingTextEqualsTheNonStreamingAnswerWithUsageAndFinishReason()
    {
        await using var host = await OpenAIServerHost.StartAsync();
        var client = host.OpenAIClient();
        foreach (var model in new[] { "auto", "code" })
        {
            var chat = client.GetChatClient(model);
            ChatCompletion whole = await chat.CompleteChatAsync([new UserChatMessage(CodeQuestion)], Greedy());
            var text = new StringBuilder();
            ChatFinishReason? finish = null;
            ChatTokenUsage? usage = null;
            int pieces = 0;
            await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(CodeQuestion)], Greedy()))
            {
                foreach (var part in update.ContentUpdate)
                {
                    text.Append(part.Text);
                    pieces++;
                }
                finish ??= update.FinishReason;
                usage ??= update.Usage;
            }
            Assert.That(text.ToString(), Is.EqualTo(whole.Content.Single().Text), model);
            Assert.That(pieces, Is.GreaterThan(1), "the answer arrives in pieces");
            Assert.That(finish, Is.EqualTo(whole.FinishReason));
            Assert.That(usage, Is.Not.Null, "the client asks for usage and gets it");
            Assert.That(usage!.OutputTokenCount, Is.EqualTo(whole.Usage.OutputTokenCount));
            Assert.That(usage.InputTokenCount, Is.EqualTo(whole.Usage.InputTokenCount));
        }
    }

    [Test]
    public async Task TheSseWireFormatIsOpenAIsChunksEndingInDone()
    {
        await using var host = await OpenAIServerHost.StartAsync();
        using var http = host.HttpClient();
        using var response = await http.PostAsync("v1/chat/completions", Json(new
        {
            model = "auto",
            messages = new[] { new { role = "user", content = MathQuestion } },
            max_tokens = 8,
            stream = true,
        }));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/event-stream"));
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.That(events, Has.All.StartWith("data: "));
        Assert.That(events[^1], Is.EqualTo("data: [DONE]"));
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        Assert.That(chunks.Select(c => c.GetProperty("object").GetString()), Has.All.EqualTo("chat.completion.chunk"));
        Assert.That(chunks.Select(c => c.GetProperty("id").GetString()).Distinct().Count(), Is.EqualTo(1));
        Assert.That(chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString(), Is.EqualTo("assistant"));
        Assert.That(chunks[1].GetProperty("transformer2").GetProperty("strategy").GetString(), Is.EqualTo("prompt"), "the decision comes before the text");
        var last = chunks[^1];
        Assert.That(last.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.AnyOf("stop", "length"));
        Assert.That(last.GetProperty("transformer2").GetProperty("second_pass_ms").GetDouble(), Is.GreaterThan(0));
        Assert.That(chunks.Any(c => c.TryGetProperty("usage", out _)), Is.False, "usage only when stream_options.include_usage asks");
    }

    [Test]
    public async Task ModelsListsAutoBaseAndEachExpert()
    {
        await using var host = await OpenAIServerHost.StartAsync();
        var models = (await host.OpenAIClient().GetOpenAIModelClient().GetModelsAsync()).Value;
        Assert.That(models.Select(m => m.Id), Is.EqualTo(new[] { "auto", "base", "arith", "choice", "cls", "code" }));
        Assert.That(models.Select(m => m.OwnedBy), Has.All.EqualTo("transformer2"));
        var one = (await host.OpenAIClient().GetOpenAIModelClient().GetModelAsync("code")).Value;
        Assert.That(one.Id, Is.EqualTo("code"));
        using var http = host.HttpClient();
        var missing = await http.GetAsync("v1/models/nope");
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [TestCase("{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "model", "'nope' does not exist")]
    [TestCase("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "model", "'model' is required")]
    [TestCase("{\"model\":\"auto\",\"messages\":[]}", "messages", "at least one message")]
    [TestCase("{\"model\":\"auto\"}", "messages", "at least one message")]
    [TestCase("{\"model\":\"auto\",\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", "messages[0].role", "'wizard'")]
    [TestCase("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":3}", "temperature", "between 0 and 2")]
    [TestCase("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"top_p\":0}", "top_p", "above 0")]
    [TestCase("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":0}", "max_tokens", "between 1 and 4096")]
    [TestCase("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_completion_tokens\":100000}", "max_completion_tokens", "between 1 and 4096")]
    [TestCase("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":\"many\"}", "max_tokens", "not a valid chat completion request")]
    [TestCase("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":2}", "n", "one choice")]
    [TestCase("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stop\":5}", "stop", "string or an array")]
    [TestCase("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}}]}]}", "messages[0].content[0]", "not fetched")]
    [TestCase("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]", null, "not a valid chat completion request")]
    public async Task BadRequestsGetA400InOpenAIsErrorShape(string body, string? param, string message)
    {
        await using var host = await OpenAIServerHost.StartAsync();
        using var http = host.HttpClient();
        using var response = await http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = json.RootElement.GetProperty("error");
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
        Assert.That(error.GetProperty("message").GetString(), Does.Contain(message));
        if (param is not null) Assert.That(error.GetProperty("param").GetString(), Is.EqualTo(param));
    }

    [Test]
    public async Task TheOpenAIClientSeesTheErrorStatusAndMessage()
    {
        await using var host = await OpenAIServerHost.StartAsync();
        var error = Assert.ThrowsAsync<ClientResultException>(async () => await host.OpenAIClient().GetChatClient("nope").CompleteChatAsync([new UserChatMessage("hi")]))!;
        Assert.That(error.Status, Is.EqualTo(400));
        Assert.That(error.Message, Does.Contain("'nope' does not exist"));
    }

    [Test]
    public async Task TheApiKeyIsRequiredWhenSet()
    {
        await using var host = await OpenAIServerHost.StartAsync(o => o.ApiKey = "s3cret");
        var good = await host.OpenAIClient("s3cret").GetChatClient("base").CompleteChatAsync([new UserChatMessage(MathQuestion)], Greedy(4));
        Assert.That(good.Value.Usage.OutputTokenCount, Is.GreaterThan(0));
        var wrong = Assert.ThrowsAsync<ClientResultException>(async () => await host.OpenAIClient("guess").GetChatClient("base").CompleteChatAsync([new UserChatMessage("hi")]))!;
        Assert.That(wrong.Status, Is.EqualTo(401));
        Assert.That(Assert.ThrowsAsync<ClientResultException>(async () => await host.OpenAIClient("guess").GetOpenAIModelClient().GetModelsAsync())!.Status, Is.EqualTo(401));
        using var http = host.HttpClient();
        using var none = await http.GetAsync("v1/models");
        Assert.That(none.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using var json = JsonDocument.Parse(await none.Content.ReadAsStringAsync());
        Assert.That(json.RootElement.GetProperty("error").GetProperty("code").GetString(), Is.EqualTo("invalid_api_key"));
    }

    [Test]
    public async Task PastTheRunningAndQueuedRequestsTheServerAnswers429()
    {
        var gate = new GatedStrategy();
        await using var host = await OpenAIServerHost.StartAsync(o =>
        {
            o.MaxConcurrentRequests = 1;
            o.MaxQueuedRequests = 1;
        }, b => b.UseStrategy(gate));
        var chat = host.OpenAIClient().GetChatClient("auto");
        var running = chat.CompleteChatAsync([new UserChatMessage(MathQuestion)], Greedy(4));
        await gate.WaitForEnteredAsync(1);
        // One more waits in the queue and the next is refused, in whichever order the two arrive.
        var second = chat.CompleteChatAsync([new UserChatMessage(MathQuestion)], Greedy(4));
        var third = chat.CompleteChatAsync([new UserChatMessage(MathQuestion)], Greedy(4));
        var refused = await Task.WhenAny(second, third);
        var error = Assert.ThrowsAsync<ClientResultException>(async () => await refused)!;
        Assert.That(error.Status, Is.EqualTo(429));
        Assert.That(error.GetRawResponse()!.Headers.TryGetValue("Retry-After", out var retry) ? retry : null, Is.EqualTo("1"));
        Assert.That(gate.Entered, Is.EqualTo(1), "the queued request waits");
        gate.Open();
        var queued = refused == second ? third : second;
        Assert.That((await running).Value.Usage.OutputTokenCount, Is.GreaterThan(0));
        Assert.That((await queued).Value.Usage.OutputTokenCount, Is.GreaterThan(0));
        Assert.That(host.Logs.Messages, Has.Some.Contains("refused (429)"));
    }

    [Test]
    public async Task AClientThatDisconnectsCancelsItsGeneration()
    {
        var gate = new GatedStrategy();
        await using var host = await OpenAIServerHost.StartAsync(o => o.MaxConcurrentRequests = 1, b => b.UseStrategy(gate));
        var chat = host.OpenAIClient().GetChatClient("auto");

        // Non-streaming: the client gives up while the request is in the first pass.
        using (var cancel = new CancellationTokenSource())
        {
            var request = chat.CompleteChatAsync([new UserChatMessage(MathQuestion)], Greedy(4), cancel.Token);
            await gate.WaitForEnteredAsync(1);
            cancel.Cancel();
            Assert.That(async () => await request, Throws.InstanceOf<OperationCanceledException>());
            Assert.That(await Task.WhenAny(gate.Cancelled, Task.Delay(TimeSpan.FromSeconds(30))), Is.SameAs(gate.Cancelled), "the server's pipeline saw the cancellation");
        }
        await WaitForAsync(() => host.Logs.Messages.Any(m => m.Contains("cancelled: the client disconnected")));

        // Streaming: the client reads the first chunk and closes the connection.
        using (var http = host.HttpClient())
        {
            var post = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = Json(new { model = "auto", messages = new[] { new { role = "user", content = MathQuestion } }, stream = true }),
            };
            using var response = await http.SendAsync(post, HttpCompletionOption.ResponseHeadersRead);
            using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
                Assert.That(await reader.ReadLineAsync(), Does.StartWith("data: {"));
            await gate.WaitForEnteredAsync(2);
        }
        await WaitForAsync(() => host.Logs.Messages.Count(m => m.Contains("cancelled: the client disconnected")) == 2);

        // The slot is free again: with one permit, a new request is answered.
        gate.Open();
        Assert.That((await chat.CompleteChatAsync([new UserChatMessage(MathQuestion)], Greedy(4))).Value.Usage.OutputTokenCount, Is.GreaterThan(0));
        Assert.That(host.Logs.Messages.Count(m => m.Contains("for model auto: plan")), Is.EqualTo(1), "only the last request completed");
    }

    static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("The server did not get there within 30 s.");
            await Task.Delay(10);
        }
    }

    static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
}
