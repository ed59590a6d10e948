using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using OpenAI.Chat;
using static TorchSharp.torch;

namespace Transformer2.Tests.Server;

/// <summary>
/// A bounded load test on loopback: 32 concurrent OpenAI clients × 20 requests each, mixed models (auto dispatch, base,
/// experts) and plain/streaming, against the server over the bundled model. Zero errors, every answer equal to the same
/// request run alone, managed memory and live tensors flat; latency and throughput printed (see docs/benchmarks.md).
/// </summary>
[Category("Load")]
public class ServerLoadTests
{
    const int Clients = 32;
    const int RequestsPerClient = 20;
    const int MaxTokens = 8;
    static readonly string[] Models = ["auto", "base", "arith", "code", "choice"];
    static readonly string[] Questions =
    [
        "Ann has 12 pens and gets 5 more. How many pens does Ann have?",
        "What does this Python code print?\nprint(max(3, 8))",
        "Which is heavier? A) a feather B) a brick\nAnswer:",
        "What is 7 + 6?",
    ];

    [Test]
    public async Task ThirtyTwoClientsGetTheAnswersTheyGetAloneWithFlatMemory()
    {
        await using var host = await OpenAIServerHost.StartAsync(o =>
        {
            o.MaxConcurrentRequests = 4;
            o.MaxQueuedRequests = Clients;
        });
        var client = host.OpenAIClient();
        var options = new ChatCompletionOptions { MaxOutputTokenCount = MaxTokens, Temperature = 0 };

        // Every distinct request, run alone (one at a time): the answers the load must reproduce. This warms the server up too.
        var alone = new Dictionary<(string, string), string>();
        foreach (var model in Models)
            foreach (var question in Questions)
                alone[(model, question)] = (await client.GetChatClient(model).CompleteChatAsync([new UserChatMessage(question)], options)).Value.Content.Single().Text;
        Assert.That(alone.Values.Distinct().Count(), Is.GreaterThan(1), "the requests differ in their answers");

        long memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        long tensorsBefore = Tensor.TotalCount;
        var latencies = new ConcurrentBag<double>();
        var failures = new ConcurrentQueue<string>();
        string load = File.ReadAllText("/proc/loadavg").Trim();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            for (int r = 0; r < RequestsPerClient; r++)
            {
                string model = Models[(c + r) % Models.Length];
                string question = Questions[(c * 7 + r) % Questions.Length];
                bool stream = r % 4 == 3;
                var watch = Stopwatch.StartNew();
                try
                {
                    var chat = client.GetChatClient(model);
                    string answer;
                    if (stream)
                    {
                        var text = new StringBuilder();
                        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(question)], options))
                            foreach (var part in update.ContentUpdate) text.Append(part.Text);
                        answer = text.ToString();
                    }
                    else
                    {
                        answer = (await chat.CompleteChatAsync([new UserChatMessage(question)], options)).Value.Content.Single().Text;
                    }
                    latencies.Add(watch.Elapsed.TotalMilliseconds);
                    if (answer != alone[(model, question)]) failures.Enqueue($"client {c} request {r} ({model}, stream {stream}): '{answer}' != alone '{alone[(model, question)]}'");
                }
                catch (Exception e)
                {
                    failures.Enqueue($"client {c} request {r} ({model}): {e.GetType().Name}: {e.Message}");
                }
            }
        })));
        double seconds = clock.Elapsed.TotalSeconds;
        long memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        long tensorsAfter = Tensor.TotalCount;

        var sorted = latencies.Order().ToArray();
        double Percentile(double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        TestContext.Out.WriteLine($"{Clients} clients x {RequestsPerClient} requests ({Clients * RequestsPerClient}), max_tokens {MaxTokens}, " +
            $"server MaxConcurrentRequests 4; load average at start {load}, {Environment.ProcessorCount} cores");
        TestContext.Out.WriteLine($"wall {seconds:F1} s, throughput {Clients * RequestsPerClient / seconds:F1} requests/s, latency p50 {Percentile(0.50):F0} ms, p95 {Percentile(0.95):F0} ms, max {sorted[^1]:F0} ms");
        TestContext.Out.WriteLine($"managed memory {memoryBefore / 1048576.0:F1} MiB before, {memoryAfter / 1048576.0:F1} MiB after; live tensors {tensorsBefore} before, {tensorsAfter} after");

        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        Assert.That(sorted, Has.Length.EqualTo(Clients * RequestsPerClient));
        Assert.That(tensorsAfter, Is.EqualTo(tensorsBefore), "no tensor outlives its request");
        Assert.That(memoryAfter - memoryBefore, Is.LessThan(16L << 20), "managed memory stays flat (within 16 MiB)");
    }
}
